"""Writing scene.tif: tiles (and overviews) that worker processes compress and append make the same GeoTIFF."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import rasterio
import tifffile
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from xtgeo.preprocess import writer
from xtgeo.preprocess.blocks import block_windows
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
    target, (row, col, height, width), seed = args
    window = Window(col, row, width, height)
    tiles = writer.encode_block(window, random_bands(np.random.default_rng(seed), height, width), target.factors)
    return window, *writer.append_tiles(target.path, tiles)


def test_tiles_appended_by_concurrent_processes_make_the_scene_and_its_overviews(tmp_path):
    height, width, block = 1300, 1100, 1024  # blocks of 2 × 2 tiles; the right and bottom ones partial
    path = tmp_path / prepared.SCENE_FILE
    table = writer.TileTable(path, height, width, CRS_UTM, GRID, block_size=block)
    assert writer.overview_factors(height, width) == (4, 8)  # 325, then 163 px: the last
    assert table.target.factors == (4, 8)  # 1024-px blocks cover whole 128-px tiles of both
    jobs = [(table.target, (r, c, min(block, height - r), min(block, width - c)), 10 * r + c)
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
        assert src.overviews(1) == [4, 8]
        for i, name in enumerate(prepared.BANDS, start=1):
            np.testing.assert_array_equal(src.read(i), expected[name], err_msg=name)
    for level, factor in enumerate((4, 8)):  # block overviews equal the whole scene's, halved
        whole = {name: band for name, band in expected.items()}
        for _ in range(factor.bit_length() - 1):
            whole = {name: writer.halve(band) for name, band in whole.items()}
        with rasterio.open(path, overview_level=level) as src:
            assert src.shape == (-(-height // factor), -(-width // factor))
            for i, name in enumerate(prepared.BANDS, start=1):
                np.testing.assert_allclose(src.read(i), whole[name], rtol=1e-6, err_msg=f"{name} 1/{factor}")
    # the 0/1 and constant bands shrink; overviews add a third
    assert path.stat().st_size < 0.75 * height * width * 4 * len(prepared.BANDS)


@pytest.mark.parametrize("bigtiff", [False, True], ids=["classic", "bigtiff"])
def test_overview_levels_smaller_than_a_block_are_made_when_the_table_closes(tmp_path, monkeypatch, bigtiff):
    """Also as a BigTIFF (full-size scenes are; GDAL stores its tile byte counts as 32-bit there)."""
    if bigtiff:
        monkeypatch.setattr(writer, "CLASSIC_TIFF_LIMIT", 0)
    height, width = 1300, 1100
    path = tmp_path / prepared.SCENE_FILE
    table = writer.TileTable(path, height, width, CRS_UTM, GRID, block_size=prepared.TILE)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_bigtiff == bigtiff
    assert table.target.factors == (4,)  # a 512-px block is one 128-px tile at 1/4, a quarter of one at 1/8
    bands = random_bands(np.random.default_rng(0), height, width)
    for window in block_windows(height, width, prepared.TILE):
        part = {name: band[window.toslices()] for name, band in bands.items()}
        table.add(window, *writer.append_tiles(path, writer.encode_block(window, part, table.target.factors)))
    table.close()
    eighth = bands
    for _ in range(3):
        eighth = {name: writer.halve(band) for name, band in eighth.items()}
    with rasterio.open(path) as src:
        for i, name in enumerate(prepared.BANDS, start=1):
            np.testing.assert_array_equal(src.read(i), bands[name], err_msg=name)
    with rasterio.open(path, overview_level=1) as src:
        for i, name in enumerate(prepared.BANDS, start=1):
            np.testing.assert_allclose(src.read(i), eighth[name], rtol=1e-6, err_msg=name)


def test_halving_averages_the_finite_pixels_of_each_two_by_two():
    band = np.array([[1, 3, 5], [np.nan, 5, np.nan], [np.nan, np.nan, 2]], dtype=np.float32)
    np.testing.assert_array_equal(writer.halve(band), [[3, 5], [np.nan, 2]])  # odd edges pair with themselves
    assert writer.halve(np.ones((4, 6), dtype=bool)).tolist() == [[1, 1, 1]] * 2


def test_tiles_must_start_on_tile_corners():
    with pytest.raises(ValueError, match="tile corner"):
        writer.tile_indices(Window(100, 0, 512, 512), 2048, 2048)


def test_appended_tiles_read_back_after_their_pages_are_released(tmp_path):
    """append_tiles drops written pages from the page cache: the bytes must still be on file where it says."""
    path = tmp_path / "tiles.bin"
    path.write_bytes(b"header")
    rng = np.random.default_rng(3)
    batches = [[rng.bytes(int(n)) for n in rng.integers(1, 300_000, 5)] for _ in range(3)]
    placed = [writer.append_tiles(path, tiles) for tiles in batches]
    data = path.read_bytes()
    assert data[:6] == b"header" and len(data) == 6 + sum(len(t) for tiles in batches for t in tiles)
    for tiles, (offsets, sizes) in zip(batches, placed):
        assert [data[o : o + s] for o, s in zip(offsets.tolist(), sizes.tolist())] == tiles
