"""Chunked, capped distance to shore against a dense distance transform of the whole mask."""

import numpy as np
import pytest
from rasterio.windows import Window
from scipy import ndimage

from tests.oracles import PIXEL_SIZE_M, distance_to_land_km, halo_window
from xtgeo.preprocess.distance import (
    EXACT_SQUARED_PX,
    CoarseLand,
    capped_distance_km,
    cell_summary,
    core_slices,
    distance_window,
)


def blobby_land(shape, seed, fraction=0.2):
    """A random mask of smooth land blobs covering about ``fraction`` of the grid."""
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), 8)
    return noise > np.quantile(noise, 1 - fraction)


def blockwise(land, block_size, cap_px):
    height, width = land.shape
    out = np.full(land.shape, np.nan, dtype=np.float32)
    for r0 in range(0, height, block_size):
        for c0 in range(0, width, block_size):
            core = Window(c0, r0, min(block_size, width - c0), min(block_size, height - r0))
            ext = halo_window(core, cap_px, height, width)
            land_ext = land[ext.row_off : ext.row_off + ext.height, ext.col_off : ext.col_off + ext.width]
            out[r0 : r0 + core.height, c0 : c0 + core.width] = capped_distance_km(
                land_ext, core_slices(core, ext), cap_px, PIXEL_SIZE_M
            )
    return out


@pytest.mark.parametrize(
    "shape, block_size, cap_px, fraction, seed",
    [((300, 260), 64, 40, 0.05, 0), ((257, 311), 50, 120, 0.05, 1), ((200, 200), 37, 30, 0.2, 2)],
)
def test_blockwise_equals_dense_transform_up_to_the_cap(shape, block_size, cap_px, fraction, seed):
    land = blobby_land(shape, seed, fraction)
    uncapped = distance_to_land_km(land)
    result = blockwise(land, block_size, cap_px)
    assert not np.isnan(result).any()
    np.testing.assert_allclose(result, np.minimum(uncapped, cap_px * 0.01), rtol=0, atol=1e-6)
    assert (result[land] == 0).all()
    if uncapped.max() > cap_px * 0.01:  # pixels beyond the cap get exactly the cap
        assert result.max() == np.float32(cap_px * 0.01)


def test_land_on_one_side_of_the_halo_only():
    land = np.zeros((120, 400), dtype=bool)
    land[:, :3] = True  # a straight coast at the left edge: every block's land is far to its left
    result = blockwise(land, 32, 500)
    expected = np.maximum(np.arange(400) - 2, 0) * 0.01
    np.testing.assert_allclose(result, np.broadcast_to(expected, land.shape), atol=1e-6)


def test_no_land_gives_the_cap_and_all_land_gives_zero():
    core = (slice(10, 20), slice(10, 20))
    sea = capped_distance_km(np.zeros((30, 30), bool), core, cap_px=10, pixel_size_m=10.0)
    assert sea.shape == (10, 10) and np.all(sea == np.float32(0.1))
    land = capped_distance_km(np.ones((30, 30), bool), core, cap_px=10, pixel_size_m=10.0)
    assert np.all(land == 0)


def test_halo_window_is_clipped_to_the_grid():
    ext = halo_window(Window(90, 0, 20, 10), 15, height=50, width=100)
    assert (ext.row_off, ext.col_off, ext.height, ext.width) == (0, 75, 25, 25)
    rows, cols = core_slices(Window(90, 0, 20, 10), ext)
    assert (rows, cols) == (slice(0, 10), slice(15, 35))


def blockwise_by_windows(land, block_size, cap_px, factor):
    """The pipeline's way: each core's distances from the window :func:`distance_window` picks."""
    coarse = CoarseLand(factor, *cell_summary(land, factor))
    height, width = land.shape
    out = np.full(land.shape, np.nan, dtype=np.float32)
    skipped = 0
    for r0 in range(0, height, block_size):
        for c0 in range(0, width, block_size):
            core = Window(c0, r0, min(block_size, width - c0), min(block_size, height - r0))
            target = (slice(r0, r0 + core.height), slice(c0, c0 + core.width))
            window = distance_window(coarse, core, cap_px, height, width)
            if window is None:
                skipped += 1
                out[target] = np.float32(cap_px * 0.01)
                continue
            rows, cols = window.toslices()
            out[target] = capped_distance_km(land[rows, cols], core_slices(core, window), cap_px, PIXEL_SIZE_M)
    return out, skipped


def stress_masks():
    """Masks chosen to strain the coarse bounds: lone pixels, lines, cell-corner land, land just past the cap."""
    rng = np.random.default_rng(5)
    shape = (150, 170)
    masks = {"empty": np.zeros(shape, bool), "full": np.ones(shape, bool)}
    lone = np.zeros(shape, bool)
    lone[75, 3] = True
    masks["lone pixel"] = lone
    sparse = np.zeros(shape, bool)
    sparse[rng.integers(0, shape[0], 12), rng.integers(0, shape[1], 12)] = True
    masks["sparse pixels"] = sparse
    line = np.zeros(shape, bool)
    idx = np.arange(150)
    line[idx, np.minimum(idx + 10, 169)] = True
    masks["diagonal line"] = line
    corners = np.zeros(shape, bool)
    corners[::8, ::8] = True  # one pixel on every cell corner (factor 8)
    corners[:, 60:] = False
    masks["cell corners"] = corners
    ring = np.zeros(shape, bool)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    radius = np.hypot(rows - 75, cols - 85)
    ring[(radius > 40) & (radius < 41.5)] = True  # sea inside at about the cap from the ring
    masks["ring"] = ring
    masks["blobs"] = blobby_land(shape, 9, 0.1)
    masks["border land"] = np.pad(np.zeros((148, 168), bool), 1, constant_values=True)
    return masks


@pytest.mark.parametrize("name", list(stress_masks()))
@pytest.mark.parametrize("block_size, cap_px, factor", [(32, 40, 8), (45, 23, 4), (64, 70, 16)])
def test_distance_window_gives_the_dense_transform_up_to_the_cap(name, block_size, cap_px, factor):
    land = stress_masks()[name]
    result, _ = blockwise_by_windows(land, block_size, cap_px, factor)
    cap_km = np.float32(cap_px * 0.01)
    expected = np.minimum(distance_to_land_km(land), cap_km) if land.any() else np.full(land.shape, cap_km)
    np.testing.assert_array_equal(result, expected)


def test_distance_window_is_far_smaller_than_the_halo_and_skips_open_sea():
    land = np.zeros((1200, 1200), dtype=bool)
    land[:, :40] = True  # a straight coast on the left; open sea beyond the cap on the right
    coarse = CoarseLand(16, *cell_summary(land, 16))
    cap = 300
    coastal = Window(40, 500, 200, 200)
    window = distance_window(coarse, coastal, cap, *land.shape)
    halo = halo_window(coastal, cap, *land.shape)
    assert window.width * window.height < 0.35 * halo.width * halo.height
    assert window.col_off < 40  # it reaches the coast
    far = Window(800, 500, 200, 200)
    assert distance_window(coarse, far, cap, *land.shape) is None
    result, skipped = blockwise_by_windows(land, 200, cap, 16)
    assert skipped >= 6 * 2  # the two columns of blocks beyond the cap
    np.testing.assert_array_equal(result, np.minimum(distance_to_land_km(land), np.float32(cap * 0.01)))


@pytest.mark.parametrize("cap_px", [300, EXACT_SQUARED_PX + 10])
def test_squared_transform_path_is_bit_identical_to_scipy(cap_px):
    land = np.zeros((900, 700), dtype=bool)
    rng = np.random.default_rng(3)
    land[rng.integers(0, 900, 25), rng.integers(0, 700, 25)] = True  # sparse: long distances, many ties
    core = (slice(100, 800), slice(50, 650))
    expected = (np.minimum(ndimage.distance_transform_edt(~land)[core], cap_px) * 0.01).astype(np.float32)
    np.testing.assert_array_equal(capped_distance_km(land, core, cap_px, PIXEL_SIZE_M), expected)


def test_coastal_cells_exclude_all_land_cells_surrounded_by_land():
    land = np.zeros((40, 40), dtype=bool)
    land[4:36, 4:36] = True  # 8×8 cells of 4 px: a 1-cell sea frame around an all-land square
    coarse = CoarseLand(4, *cell_summary(land, 4))
    assert coarse.any[1:9, 1:9].all() and not coarse.any[0].any()
    assert coarse.coastal[1, 1:9].all() and coarse.coastal[1:9, 1].all()  # next to sea
    assert not coarse.coastal[2:8, 2:8].any()  # all land and only land around
    edge = CoarseLand(4, *cell_summary(np.ones((8, 8), bool), 4))
    assert not edge.coastal.any()  # the grid border is not sea
