"""One block's work: VV/VH statistics in cache-sized pieces equal one pass over the valid pixels."""

import numpy as np
import pytest

from xtgeo.preprocess import blocks
from xtgeo.preprocess.blocks import HISTOGRAM_BIN_DB, HISTOGRAM_RANGE_DB, BandStats


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
