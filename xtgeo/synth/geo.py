"""Georeferencing of synthetic scenes: a real sea area, its UTM zone, the 10 m and 500 m grids."""

from __future__ import annotations

import math

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform

#: Pixel spacing of the synthetic VV/VH grids, metres (as xView3's; the transform carries it).
PIXEL_SIZE_M = 10.0
#: Ancillary (OCN wind, mask, bathymetry) pixel size, metres, as in xView3.
ANCILLARY_PIXEL_M = 500.0

#: (lat, lon) centres of coastal seas covered by xView3 scenes (Europe and West Africa).
SEA_AREAS: tuple[tuple[float, float], ...] = (
    (44.3, 13.0),  # northern Adriatic
    (54.5, 4.0),  # North Sea
    (46.0, -2.5),  # Bay of Biscay
    (65.9, -23.6),  # north-west Iceland
    (4.5, 3.5),  # Gulf of Guinea
    (14.5, -17.8),  # off Senegal
    (37.0, -9.3),  # off Portugal
    (58.5, 5.0),  # off Norway
    (-8.5, 13.0),  # off Angola
    (35.5, 24.0),  # south Aegean
)


def utm_crs(lat: float, lon: float) -> CRS:
    """The WGS 84 / UTM CRS of the zone holding (lat, lon): EPSG 326xx north, 327xx south."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def scene_grid(rng: np.random.Generator, height: int, width: int) -> tuple[CRS, Affine]:
    """CRS and 10 m north-up transform of a scene centred near a random real sea area."""
    lat, lon = SEA_AREAS[int(rng.integers(len(SEA_AREAS)))]
    lat += float(rng.uniform(-0.5, 0.5))
    lon += float(rng.uniform(-0.5, 0.5))
    crs = utm_crs(lat, lon)
    (x,), (y,) = warp_transform("EPSG:4326", crs, [lon], [lat])
    left = round((x - width * PIXEL_SIZE_M / 2) / PIXEL_SIZE_M) * PIXEL_SIZE_M
    top = round((y + height * PIXEL_SIZE_M / 2) / PIXEL_SIZE_M) * PIXEL_SIZE_M
    return crs, Affine(PIXEL_SIZE_M, 0.0, left, 0.0, -PIXEL_SIZE_M, top)


def ancillary_shape(height: int, width: int) -> tuple[int, int]:
    """Rows and columns of the ~500 m ancillary grid covering a ``height`` × ``width`` scene."""
    factor = ANCILLARY_PIXEL_M / PIXEL_SIZE_M
    return max(1, math.ceil(height / factor)), max(1, math.ceil(width / factor))


def ancillary_transform(transform: Affine, height: int, width: int) -> Affine:
    """Transform of the ancillary grid: same extent as the scene, pixels of ~500 m."""
    rows, cols = ancillary_shape(height, width)
    return transform @ Affine.scale(width / cols, height / rows)
