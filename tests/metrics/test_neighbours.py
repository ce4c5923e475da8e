"""xtgeo.metrics.neighbours: the grid search finds every pair within the radius, in its own group,
and few others."""

from __future__ import annotations

import numpy as np
import pytest

from xtgeo.metrics.neighbours import box_pairs


@pytest.mark.parametrize("whole_pixels", [True, False])
def test_box_pairs_hold_every_pair_within_the_radius_and_only_same_group_pairs(whole_pixels):
    rng = np.random.default_rng(4 if whole_pixels else 5)
    for _ in range(150):
        n, m = rng.integers(0, 50, 2)
        size = rng.choice([6.0, 60.0, 3000.0])
        a, b = rng.random((n, 2)) * size - size / 3, rng.random((m, 2)) * size  # negative rows too
        if whole_pixels:  # pairs at exactly the radius
            a, b = np.round(a), np.round(b)
        a_group, b_group = rng.integers(-1, 3, n), rng.integers(-1, 3, m)
        radius = float(rng.choice([0.4, 1.0, 3.0, 5.0, 20.0]))
        i, j = box_pairs(a, a_group, b, b_group, radius)
        found = set(zip(i.tolist(), j.tolist()))
        assert len(found) == len(i)  # no pair twice
        assert (a_group[i] == b_group[j]).all() and (a_group[i] >= 0).all()
        assert (np.abs(a[i, 1] - b[j, 1]) <= radius + 1e-3).all()  # columns: up to the rounding slack
        assert (np.abs(a[i, 0] - b[j, 0]) < 2 * max(radius, 1.0) + 1e-3).all()  # rows: neighbouring cells
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
        near = (d2 <= radius * radius) & (a_group[:, None] == b_group[None, :]) & (a_group[:, None] >= 0)
        assert set(zip(*map(np.ndarray.tolist, np.nonzero(near)))) <= found
