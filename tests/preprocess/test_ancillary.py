"""Separable resampling of the 500 m ancillary rasters against rasterio's warper; the cached rasters."""

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from xtgeo.preprocess.ancillary import (
    OWI_LAND,
    Raster,
    bathymetry_window,
    coarse_land,
    land_at_points,
    land_window,
    read_raster,
    resample_window,
)
from xtgeo.preprocess.distance import cell_summary

CRS_UTM = CRS.from_epsg(32631)
GRID = Affine(10.0, 0.0, 400_000.0, 0.0, -10.0, 5_000_000.0)  # the 10 m scene grid
HEIGHT, WIDTH = 1300, 1100


def coarse_raster(data, nodata=None, pixel=499.51, shift=(-130.0, 70.0)):
    """A ~500 m raster over the grid, its origin off the 10 m pixel edges (and partly off the grid)."""
    transform = Affine(pixel, 0.0, GRID.c + shift[0], 0.0, -pixel, GRID.f + shift[1])
    return Raster(data, transform, CRS_UTM, nodata)


def windows():
    return [Window(0, 0, WIDTH, HEIGHT), Window(317, 211, 400, 513), Window(WIDTH - 37, HEIGHT - 50, 37, 50)]


@pytest.mark.parametrize("window", windows())
def test_land_lookup_equals_nearest_warp(window):
    owi = coarse_raster(np.random.default_rng(0).integers(0, 3, (25, 22)).astype(np.float32))
    land = land_window(owi, GRID, CRS_UTM, window)
    indicator = Raster((owi.data == OWI_LAND).astype(np.uint8), owi.transform, owi.crs, None)
    warped = resample_window(indicator, GRID, CRS_UTM, window, Resampling.nearest, fill=0, dtype="uint8")
    assert land.dtype == bool and land.shape == (window.height, window.width)
    np.testing.assert_array_equal(land, warped.astype(bool))
    if window.width == WIDTH:  # the whole grid: both classes present
        assert 0 < land.mean() < 1


@pytest.mark.parametrize("grid", [GRID, GRID @ Affine.rotation(3)], ids=["north-up", "rotated"])
def test_land_at_points_is_the_land_mask_there(grid):
    """Predict's per-detection lookup gives what preprocess's land band holds at those pixels."""
    owi = coarse_raster(np.random.default_rng(1).integers(0, 3, (25, 22)).astype(np.float32))
    window = Window(300, 200, 160, 120) if grid != GRID else Window(0, 0, WIDTH, HEIGHT)
    land = land_window(owi, grid, CRS_UTM, window)
    rng = np.random.default_rng(2)
    rows, cols = rng.integers(0, window.height, 150), rng.integers(0, window.width, 150)
    found = land_at_points(owi, grid, CRS_UTM, rows + window.row_off, cols + window.col_off)
    np.testing.assert_array_equal(found, land[rows, cols])
    assert found.any() and not found.all()


@pytest.mark.parametrize("window", windows())
def test_bilinear_bathymetry_equals_the_warper(window):
    rows, cols = np.mgrid[:30, :25]
    depth = (-50 - 3 * rows + 2 * cols + 5 * np.sin(rows * cols)).astype(np.float32)  # not separable
    bathymetry = coarse_raster(depth, nodata=-32768.0, shift=(-20.0, 30.0))
    fast = bathymetry_window(bathymetry, GRID, CRS_UTM, window)
    warped = resample_window(bathymetry, GRID, CRS_UTM, window, Resampling.bilinear)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(warped))
    np.testing.assert_allclose(fast, warped, rtol=1e-6, atol=1e-4)


def test_bathymetry_with_nodata_or_rotation_uses_the_warper():
    depth = np.full((30, 25), -40.0, dtype=np.float32)
    depth[10, 12] = -32768.0
    with_nodata = coarse_raster(depth, nodata=-32768.0)
    window = Window(0, 0, WIDTH, HEIGHT)
    np.testing.assert_array_equal(
        bathymetry_window(with_nodata, GRID, CRS_UTM, window),
        resample_window(with_nodata, GRID, CRS_UTM, window, Resampling.bilinear),
    )
    rotated = GRID @ Affine.rotation(5)
    np.testing.assert_array_equal(
        bathymetry_window(coarse_raster(depth * 0 - 40), rotated, CRS_UTM, window),
        resample_window(coarse_raster(depth * 0 - 40), rotated, CRS_UTM, window, Resampling.bilinear),
    )


@pytest.mark.parametrize("grid", [GRID, GRID @ Affine.rotation(3)], ids=["north-up", "rotated"])
def test_coarse_land_summarises_the_land_mask(grid):
    owi = coarse_raster(np.random.default_rng(1).integers(0, 3, (25, 22)).astype(np.float32))
    land = land_window(owi, grid, CRS_UTM, Window(0, 0, WIDTH, HEIGHT))
    coarse = coarse_land(owi, grid, CRS_UTM, HEIGHT, WIDTH, factor=32)
    expected_any, expected_all = cell_summary(land, 32)
    np.testing.assert_array_equal(coarse.any, expected_any)
    np.testing.assert_array_equal(coarse.all, expected_all)
    assert coarse.any.any() and not coarse.all.all()


def write_raster(path: Path, data: np.ndarray) -> None:
    with rasterio.open(path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
                       dtype=data.dtype, crs=CRS_UTM, transform=GRID) as dst:
        dst.write(data, 1)


def test_cached_ancillary_raster_is_read_only_and_reread_when_the_file_changes(tmp_path):
    path = tmp_path / "bathymetry.tif"
    write_raster(path, np.full((4, 5), -10.0, dtype=np.float32))
    first = read_raster(path)
    assert read_raster(path) is first and not first.data.flags.writeable
    write_raster(path, np.full((4, 5), -20.0, dtype=np.float32))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a new stamp even on coarse clocks
    assert (read_raster(path).data == -20.0).all()
