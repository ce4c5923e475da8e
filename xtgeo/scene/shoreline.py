"""Land mask → shoreline contours → distance to shore.

Shoreline files follow the official xView3 format: ``<scene_id>_shoreline.npy`` holds a pickled
object array of contours, each an (N, 2) integer array of (row, col) scene pixels. Our contour
points are the land pixels that touch sea along a row or a column (the land side of every
land/sea edge that marching squares finds), so the nearest land pixel to any sea pixel is always
a contour point and distances measured to contour points equal a Euclidean distance transform.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage import measure

from xtgeo.atomic import atomic_path
from xtgeo.schema import PIXEL_SIZE_M

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


def contour_points(contours: list[np.ndarray]) -> np.ndarray:
    """All contour points stacked into one (N, 2) array (empty (0, 2) when there are none)."""
    if len(contours) == 0:
        return np.empty((0, 2), dtype=np.int32)
    return np.concatenate([np.asarray(c).reshape(-1, 2) for c in contours]).astype(np.int32)


def write_shoreline(path: str | os.PathLike, contours: list[np.ndarray]) -> Path:
    """Write contours in the official pickled object-array ``.npy`` format, atomically."""
    array = np.empty(len(contours), dtype=object)
    for i, contour in enumerate(contours):
        array[i] = np.asarray(contour, dtype=np.int32).reshape(-1, 2)
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=True)
    return path


def shoreline_file(folder: str | os.PathLike, scene_id: str) -> Path:
    """The official shoreline file of a scene in ``folder``: ``<scene_id>_shoreline.npy``."""
    return Path(folder) / f"{scene_id}_shoreline.npy"


def read_shoreline(path: str | os.PathLike) -> list[np.ndarray]:
    """Read an official-format shoreline file into a list of (N, 2) arrays."""
    array = np.load(path, allow_pickle=True)
    return [np.asarray(c).reshape(-1, 2) for c in array]


def distance_to_land_km(land: np.ndarray, pixel_size_m: float = PIXEL_SIZE_M) -> np.ndarray:
    """Exact Euclidean distance (km, float32) from every pixel to the nearest land pixel; 0 on land.

    Dense: for masks that fit in memory. Without any land the result is +inf everywhere.
    """
    land = np.asarray(land, dtype=bool)
    if not land.any():
        return np.full(land.shape, np.inf, dtype=np.float32)
    distance_px = ndimage.distance_transform_edt(~land)
    return (distance_px * (pixel_size_m / 1000.0)).astype(np.float32)


def distance_at_points_km(
    points_rc: np.ndarray, contours: list[np.ndarray], pixel_size_m: float = PIXEL_SIZE_M
) -> np.ndarray:
    """Distance (km) from each (row, col) point to the nearest contour point; +inf without any.

    For sea points and contours from :func:`land_contours` this equals the distance transform.
    """
    points_rc = np.asarray(points_rc, dtype=np.float64).reshape(-1, 2)
    shore = contour_points(contours)
    if len(shore) == 0:
        return np.full(len(points_rc), np.inf)
    distance_px, _ = cKDTree(shore).query(points_rc)
    return distance_px * (pixel_size_m / 1000.0)
