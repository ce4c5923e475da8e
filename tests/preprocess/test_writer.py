"""Writing scene.tif: tiles that worker processes compress and append make the same GeoTIFF."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from xtgeo.preprocess import writer
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
    tiles = writer.encode_tiles(window, random_bands(np.random.default_rng(seed), height, width))
    return window, *writer.append_tiles(path, tiles)


def test_tiles_appended_by_concurrent_processes_make_the_scene(tmp_path):
    height, width, block = 1300, 1100, 1024  # blocks of 2 × 2 tiles; the right and bottom ones partial
    path = tmp_path / prepared.SCENE_FILE
    table = writer.TileTable(path, height, width, CRS_UTM, GRID)
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
        writer.tile_indices(Window(100, 0, 512, 512), 2048, 2048)
