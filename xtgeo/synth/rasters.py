"""Writing a synthetic scene's GeoTIFFs: SAR backscatter strip by strip, ancillary grids whole.

Sea clutter follows the wind (``VV ≈ −22 + 12·log10(wind / 5 m/s)`` dB) with a ±3 dB incidence
trend across range; VH is 9 dB below VV plus a noise floor; land is brighter (about −9 dB VV,
−15 dB VH) and textured. Intensity gets multiplicative speckle, gamma distributed with
:data:`LOOKS` looks, then object footprints are added and everything is converted to dB.
Each strip has its own random stream, so memory stays bounded and bytes never depend on timing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from xtgeo.scene.raw import DEFAULT_NODATA, VH_FILE, VV_FILE
from xtgeo.synth.ancillary import Ancillary
from xtgeo.synth.footprint import Footprint
from xtgeo.synth.geo import ancillary_transform
from xtgeo.synth.terrain import STRIP_ROWS, Terrain

#: Equivalent number of looks of Sentinel-1 IW GRD high resolution.
LOOKS = 4.4
#: VH noise-equivalent sigma0 (linear), about −27 dB.
VH_NOISE_FLOOR = 10 ** (-2.7)
PROFILE = dict(
    driver="GTiff", dtype="float32", count=1, nodata=DEFAULT_NODATA, tiled=True, blockxsize=512, blockysize=512,
    compress="deflate", zlevel=1, predictor=3, bigtiff="IF_SAFER", num_threads="ALL_CPUS",
)
ANCILLARY_PROFILE = {**PROFILE, "blockxsize": 256, "blockysize": 256}

Placed = tuple[int, int, Footprint]


def _backscatter(terrain: Terrain, ancillary: Ancillary, land: np.ndarray, r0: int, r1: int,
                 near_left: bool) -> tuple[np.ndarray, np.ndarray]:
    """Mean sigma0 (linear) of VV and VH for rows ``r0:r1``."""
    height, width = terrain.height, terrain.width
    wind = ancillary.wind_field(height, width).window(r0, r1, 0, width)
    ramp = np.linspace(3.0, -3.0, width, dtype=np.float32)
    wind_db = np.float32(12.0) * np.log10(np.maximum(wind, 0.5) / np.float32(5.0))
    db = np.float32(-22.0) + wind_db + (ramp if near_left else ramp[::-1])
    if land.any():
        texture = 2.5 * terrain.noise[2].window(r0, r1, 0, width) + 1.5 * terrain.noise[1].window(r0, r1, 0, width)
        land_db = np.float32(-9.0) + texture
        db = np.where(land, land_db, db)
    vv = np.power(np.float32(10.0), db / np.float32(10.0))
    vh = np.where(land, vv * np.float32(10 ** -0.6), vv * np.float32(10 ** -0.9) + np.float32(VH_NOISE_FLOOR))
    return vv, vh


def _add_objects(vv: np.ndarray, vh: np.ndarray, placed: list[Placed], r0: int) -> None:
    rows, cols = vv.shape
    for row, col, fp in placed:
        top, left = row - fp.radius - r0, col - fp.radius
        size = 2 * fp.radius + 1
        rs = slice(max(top, 0), min(top + size, rows))
        cs = slice(max(left, 0), min(left + size, cols))
        if rs.start >= rs.stop or cs.start >= cs.stop:
            continue
        patch = (slice(rs.start - top, rs.stop - top), slice(cs.start - left, cs.stop - left))
        vv[rs, cs] += fp.vv[patch]
        vh[rs, cs] += fp.vh[patch]


def write_sar(
    folder: Path, terrain: Terrain, land: np.ndarray, ancillary: Ancillary, placed: list[Placed],
    crs: CRS, transform: Affine, seed: int, on_rows: Callable[[int], None] | None = None,
) -> None:
    """Write ``VV_dB.tif`` and ``VH_dB.tif`` into ``folder``, strip by strip."""
    height, width = land.shape
    near_left = bool(np.random.default_rng([seed, 0]).random() < 0.5)
    profile = {**PROFILE, "height": height, "width": width, "crs": crs, "transform": transform}
    by_row = sorted(placed, key=lambda p: p[0])
    with rasterio.open(folder / VV_FILE, "w", **profile) as vv_out, rasterio.open(folder / VH_FILE, "w",
                                                                                  **profile) as vh_out:
        for strip, r0 in enumerate(range(0, height, STRIP_ROWS)):
            r1 = min(r0 + STRIP_ROWS, height)
            vv, vh = _backscatter(terrain, ancillary, land[r0:r1], r0, r1, near_left)
            rng = np.random.default_rng([seed, 1, strip])
            vv *= rng.standard_gamma(LOOKS, vv.shape, dtype=np.float32) / np.float32(LOOKS)
            vh *= rng.standard_gamma(LOOKS, vh.shape, dtype=np.float32) / np.float32(LOOKS)
            _add_objects(vv, vh, [p for p in by_row if r0 - p[2].radius <= p[0] < r1 + p[2].radius], r0)
            invalid = ~terrain.valid(r0, r1, 0, width)
            window = Window(0, r0, width, r1 - r0)
            for band, out in ((vv, vv_out), (vh, vh_out)):
                db = np.float32(10.0) * np.log10(band)
                db[invalid] = DEFAULT_NODATA
                out.write(db, 1, window=window)
            if on_rows is not None:
                on_rows(r1 - r0)


def write_ancillary(folder: Path, ancillary: Ancillary, crs: CRS, transform: Affine, height: int, width: int) -> None:
    """Write bathymetry and the OCN grids (500 m, same extent); OCN cells off the swath are nodata."""
    grids = {
        "bathymetry": (ancillary.elevation_m, False),
        "owiMask": (ancillary.mask, True),
        "owiWindSpeed": (ancillary.wind_speed, True),
        "owiWindDirection": (ancillary.wind_direction, True),
        "owiWindQuality": (ancillary.wind_quality, True),
    }
    rows, cols = ancillary.valid.shape
    profile = {**ANCILLARY_PROFILE, "height": rows, "width": cols, "crs": crs,
               "transform": ancillary_transform(transform, height, width)}
    for name, (grid, swath_only) in grids.items():
        data = np.where(ancillary.valid | (not swath_only), grid, DEFAULT_NODATA).astype(np.float32)
        with rasterio.open(folder / f"{name}.tif", "w", **profile) as out:
            out.write(data, 1)
