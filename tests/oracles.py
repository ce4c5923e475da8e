"""Reference implementations the tests compare the library's fast code against."""

from __future__ import annotations

import numpy as np
from rasterio.windows import Window
from scipy import ndimage

#: The tests' scenes (synthetic, like xView3's) are on 10 m grids.
PIXEL_SIZE_M = 10.0


def distance_to_land_km(land: np.ndarray, pixel_size_m: float = PIXEL_SIZE_M) -> np.ndarray:
    """Exact Euclidean distance (km, float32) from every pixel to the nearest land pixel; 0 on land.

    Dense: for masks that fit in memory. Without any land the result is +inf everywhere.
    """
    land = np.asarray(land, dtype=bool)
    if not land.any():
        return np.full(land.shape, np.inf, dtype=np.float32)
    distance_px = ndimage.distance_transform_edt(~land)
    return (distance_px * (pixel_size_m / 1000.0)).astype(np.float32)


def halo_window(core: Window, halo: int, height: int, width: int) -> Window:
    """``core`` grown by ``halo`` pixels on every side, clipped to a ``height`` × ``width`` grid."""
    r0 = max(int(core.row_off) - halo, 0)
    c0 = max(int(core.col_off) - halo, 0)
    r1 = min(int(core.row_off + core.height) + halo, height)
    c1 = min(int(core.col_off + core.width) + halo, width)
    return Window(c0, r0, c1 - c0, r1 - r0)
