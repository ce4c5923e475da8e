"""Land mask → shoreline contours (the official xView3 shoreline format, see :mod:`xtgeo.scene.shoreline`).

Our contour points are the land pixels that touch sea along a row or a column (the land side of
every land/sea edge that marching squares finds), so the nearest land pixel to any sea pixel is
always a contour point and distances measured to contour points equal a Euclidean distance
transform.
"""

from __future__ import annotations

import numpy as np
from skimage import measure

#: Block side used to trace contours of large masks in bounded memory.
CONTOUR_BLOCK = 4096


def _land_side(points: np.ndarray, land: np.ndarray) -> np.ndarray:
    """Snap marching-squares points (one coordinate half-integer) to the land pixel of their edge."""
    low = np.floor(points).astype(np.int64)
    high = np.ceil(points).astype(np.int64)
    low_is_land = land[low[:, 0], low[:, 1]]
    snapped = np.where(low_is_land[:, None], low, high)
    keep = np.ones(len(snapped), dtype=bool)
    keep[1:] = np.any(snapped[1:] != snapped[:-1], axis=1)
    return snapped[keep]


def land_contours(land: np.ndarray, block: int = CONTOUR_BLOCK) -> list[np.ndarray]:
    """Contours of a boolean land mask as (N, 2) int32 (row, col) arrays of land boundary pixels.

    Large masks are traced block by block (blocks overlap by one pixel so no edge is lost); a
    coastline crossing a block border is then split into several contours, which the shoreline
    format allows. The image border is not a shore.
    """
    land = np.asarray(land, dtype=bool)
    height, width = land.shape
    contours: list[np.ndarray] = []
    for r0 in range(0, max(height - 1, 1), block):
        for c0 in range(0, max(width - 1, 1), block):
            tile = land[r0 : r0 + block + 1, c0 : c0 + block + 1]
            if tile.all() or not tile.any():
                continue
            for contour in measure.find_contours(tile.astype(np.float32), 0.5):
                snapped = _land_side(contour, tile) + (r0, c0)
                contours.append(snapped.astype(np.int32))
    return contours
