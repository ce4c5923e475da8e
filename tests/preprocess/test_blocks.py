"""The fast paths of `xtgeo preprocess`: tiles appended by many writers, statistics in pieces, cached ancillary."""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from xtgeo.preprocess import blocks
from xtgeo.preprocess.ancillary import read_raster
from xtgeo.preprocess.blocks import HISTOGRAM_BIN_DB, HISTOGRAM_RANGE_DB, BandStats
from xtgeo.scene import prepared

CRS_UTM = CRS.from_epsg(32633)
GRID = Affine(10.0, 0.0, 300_000.0, 0.0, -10.0, 6_000_000.0)


def random_bands(rng, height, width):
    return {
        "vv_db": rng.normal(-20, 5, (height, width)).astype(np.float32),
        "vh_db": rng.normal(-27, 5, (height, width)).astype(np.float32),
        "valid": rng.random((height, width)) < 0.9,
        "land": np.zeros((height, width), dtype=bool),
        "shore_km": np.full((height, width), 20.48, dtype=np.float32),
        "bathymetry_m": np.linspace(-50, -10, height * width, dtype=np.float32).reshape(height, width),
    }


def append_block(args):
    """One block's work as a worker does it (run in another process): encode, append, report where."""
    path, (row, col, height, width), seed = args
    window = Window(col, row, width, height)
    tiles = prepared.encode_tiles(window, random_bands(np.random.default_rng(seed), height, width))
    return window, *prepared.append_tiles(path, tiles)


def test_tiles_appended_by_concurrent_processes_make_the_scene(tmp_path):
    height, width, block = 1300, 1100, 1024  # blocks of 2 × 2 tiles; the right and bottom ones partial
    path = tmp_path / prepared.SCENE_FILE
    table = prepared.TileTable(path, height, width, CRS_UTM, GRID)
    jobs = [(path, (r, c, min(block, height - r), min(block, width - c)), 10 * r + c)
            for r in range(0, height, block) for c in range(0, width, block)]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        placed = list(pool.map(append_block, jobs))
    spans = []
    for window, offsets, counts in placed:
        table.add(window, offsets, counts)
        spans += [(int(o), int(o + n)) for o, n in zip(offsets, counts)]
    table.close()
    spans.sort()
    assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:]))  # no two tiles overlap
    assert spans[-1][1] == path.stat().st_size

    expected = {name: np.zeros((height, width), dtype=np.float32) for name in prepared.BANDS}
    for _, (r, c, h, w), seed in jobs:
        for name, band in random_bands(np.random.default_rng(seed), h, w).items():
            expected[name][r : r + h, c : c + w] = band
    with rasterio.open(path) as src:
        assert src.descriptions == prepared.BANDS and src.compression.name == "zstd"
        assert (src.crs, src.transform, src.shape) == (CRS_UTM, GRID, (height, width))
        assert src.block_shapes == [(prepared.TILE, prepared.TILE)] * len(prepared.BANDS)
        for i, name in enumerate(prepared.BANDS, start=1):
            np.testing.assert_array_equal(src.read(i), expected[name], err_msg=name)
    assert path.stat().st_size < 0.6 * height * width * 4 * len(prepared.BANDS)  # the 0/1 and constant bands shrink


def test_tiles_must_start_on_tile_corners():
    with pytest.raises(ValueError, match="tile corner"):
        prepared.tile_indices(Window(100, 0, 512, 512), 2048, 2048)


def one_pass_histogram(values):
    bins = int(round((HISTOGRAM_RANGE_DB[1] - HISTOGRAM_RANGE_DB[0]) / HISTOGRAM_BIN_DB))
    index = np.clip((values.astype(np.float64) - HISTOGRAM_RANGE_DB[0]) / HISTOGRAM_BIN_DB, 0, bins - 1)
    return np.bincount(index.astype(np.intp), minlength=bins)


def test_statistics_in_pieces_equal_one_pass_over_the_valid_pixels():
    rng = np.random.default_rng(0)
    size = 3 * blocks.STATS_PIECE + 123  # pieces, and a short last one
    values = rng.normal(-20, 8, size).astype(np.float32)
    values[:50] = [-100.0, 45.0] * 25  # beyond the histogram range: the end bins
    values[size // 2] = np.float32(-30.0)  # on a bin edge
    mask = rng.random(size) < 0.7
    mask[blocks.STATS_PIECE : 2 * blocks.STATS_PIECE] = False  # a piece with nothing valid
    for stats, reference in ((BandStats.of(values, mask), values[mask]), (BandStats.of(values), values)):
        assert stats.count == reference.size
        assert (stats.minimum, stats.maximum) == (float(reference.min()), float(reference.max()))
        assert stats.total == pytest.approx(reference.sum(dtype=np.float64), rel=1e-12)
        assert stats.total_sq == pytest.approx(np.dot(reference.astype(np.float64), reference), rel=1e-12)
        np.testing.assert_array_equal(stats.histogram, one_pass_histogram(reference))
    halves = BandStats.of(values[: size // 2]).merge(BandStats.of(values[size // 2 :]))
    np.testing.assert_array_equal(halves.histogram, BandStats.of(values).histogram)
    assert BandStats.of(values, np.zeros(size, dtype=bool)).summary() == {"count": 0}


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
