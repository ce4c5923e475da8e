"""The ~500 m ancillary grids of a synthetic scene: land/sea mask, bathymetry and OCN wind.

Bathymetry (GEBCO convention: metres of elevation, negative below sea level) deepens away from
the coast, ``depth = D * (1 - exp(-d / L))`` with ``d`` the distance to the coarse coast plus 8 %
smooth noise; ``D`` and ``L`` are drawn per scene so that the shallow shelf (< 40 m), the fishing
band (40–200 m) and deep water (> 200 m) all occur. Wind speed is a smooth field around a scene
mean of 3–12 m/s; wind quality is 0 (good) at sea, 1 near land, 3 on land.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from xtgeo.synth.fields import GridField, cell_grid
from xtgeo.synth.geo import PIXEL_SIZE_M, ancillary_shape
from xtgeo.synth.terrain import Terrain


@dataclass(frozen=True)
class Ancillary:
    """Coarse grids (float32, shape :func:`ancillary_shape`) and the cells inside the swath."""

    land_fraction: np.ndarray
    elevation_m: np.ndarray
    wind_speed: np.ndarray
    wind_direction: np.ndarray
    wind_quality: np.ndarray
    valid: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """owiMask values: 0 sea, 1 land (no ice in synthetic scenes)."""
        return (self.land_fraction >= 0.5).astype(np.float32)

    def wind_field(self, height: int, width: int) -> GridField:
        """Wind speed, interpolated between cell centres at any scene pixel."""
        return cell_grid(self.wind_speed, height, width)

    def depth_at(self, rows: np.ndarray, cols: np.ndarray, height: int, width: int) -> np.ndarray:
        """Water depth (m, positive down) of the bathymetry cell holding each pixel."""
        gh, gw = self.elevation_m.shape
        r = np.clip((np.asarray(rows) * gh) // height, 0, gh - 1).astype(np.int64)
        c = np.clip((np.asarray(cols) * gw) // width, 0, gw - 1).astype(np.int64)
        return -self.elevation_m[r, c]


def cell_fraction(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Fraction of True pixels in each cell of a coarse grid of ``shape`` covering ``mask``."""
    height, width = mask.shape
    row_starts = np.ceil(np.arange(shape[0]) * height / shape[0] - 0.5).clip(0).astype(np.int64)
    col_starts = np.ceil(np.arange(shape[1]) * width / shape[1] - 0.5).clip(0).astype(np.int64)
    sums = np.zeros(shape, dtype=np.float64)
    cell_of_row = np.searchsorted(row_starts, np.arange(height), side="right") - 1
    for r0 in range(0, height, 1024):
        strip = np.add.reduceat(mask[r0 : r0 + 1024], col_starts, axis=1, dtype=np.int64)
        np.add.at(sums, cell_of_row[r0 : r0 + 1024], strip)
    counts = np.outer(np.diff(np.append(row_starts, height)), np.diff(np.append(col_starts, width)))
    return (sums / np.maximum(counts, 1)).astype(np.float32)


def make_ancillary(rng: np.random.Generator, terrain: Terrain, land: np.ndarray) -> Ancillary:
    """Ancillary grids consistent with the scene's full-resolution land mask."""
    height, width = land.shape
    shape = ancillary_shape(height, width)
    cell_km = (height / shape[0] * PIXEL_SIZE_M / 1000.0, width / shape[1] * PIXEL_SIZE_M / 1000.0)
    land_fraction = cell_fraction(land, shape)
    coarse_land = land_fraction >= 0.5
    distance_km = ndimage.distance_transform_edt(~coarse_land,
                                                 sampling=cell_km) if coarse_land.any() else np.full(shape, 50.0)
    rows = (np.arange(shape[0]) + 0.5) * height / shape[0]
    cols = (np.arange(shape[1]) + 0.5) * width / shape[1]
    valid = terrain.swath.valid(rows[:, None] - 0.5, cols[None, :] - 0.5, height, width)

    sea_distance = distance_km[~coarse_land]
    reach = float(sea_distance.max()) if sea_distance.size else 1.0
    max_depth = rng.uniform(400.0, 3000.0)
    at_200 = rng.uniform(0.35, 0.65) * reach
    scale_km = -at_200 / np.log1p(-200.0 / max_depth)
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), 2.0, mode="reflect")
    noise /= max(float(noise.std()), 1e-6)
    depth = (max_depth * -np.expm1(-distance_km / scale_km) + 2.0) * (1.0 + 0.08 * noise)
    relief_m = 5.0 + 40.0 * np.abs(noise)
    elevation = np.where(coarse_land, relief_m, -np.maximum(depth, 1.0))

    wind_noise = ndimage.gaussian_filter(rng.standard_normal((2, *shape)), (0, 4.0, 4.0), mode="reflect")
    wind_noise /= np.maximum(wind_noise.std(axis=(1, 2), keepdims=True), 1e-6)
    speed = np.clip(rng.uniform(3.0, 12.0) + 1.5 * wind_noise[0], 0.5, 25.0)
    direction = np.mod(rng.uniform(0.0, 360.0) + 20.0 * wind_noise[1], 360.0)
    quality = np.where(coarse_land, 3.0, np.where(distance_km < 1.5, 1.0, 0.0))
    return Ancillary(
        land_fraction=land_fraction,
        elevation_m=elevation.astype(np.float32),
        wind_speed=speed.astype(np.float32),
        wind_direction=direction.astype(np.float32),
        wind_quality=quality.astype(np.float32),
        valid=valid,
    )
