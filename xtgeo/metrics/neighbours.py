"""Pairs of nearby points, per group (scene), found by sorting on a grid: numpy only.

The scorer needs every prediction/label pair of a scene within the match tolerance, and every
prediction/shoreline pair within the shore radius. A KD-tree finds them too, but importing
``scipy.spatial`` takes longer than this whole search over 100 scenes × 2,000 points, and the
``xtgeo score`` process is timed from its start. Here both sets are sorted by (group, row cell of
one radius, column), as one float key; each point of the first set then finds its candidates in
three row cells with two binary searches each.
"""

from __future__ import annotations

import numpy as np

#: Relative widening of the grid cells and the column window: pairs at exactly the radius are never
#: lost to rounding (the caller tests the exact distance).
_SLACK = 1e-6


def box_pairs(
    a_rc: np.ndarray, a_group: np.ndarray, b_rc: np.ndarray, b_group: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(i, j)`` of pairs of the same group (≥ 0; -1 is left out): every pair within
    ``radius`` and some more (columns at most ``radius`` apart up to rounding, rows in neighbouring
    cells of ``max(radius, 1)``), for the caller's exact distance test. Each pair once, no order."""
    a_rc = np.asarray(a_rc, dtype=np.float64).reshape(-1, 2)
    b_rc = np.asarray(b_rc, dtype=np.float64).reshape(-1, 2)
    a_sel = np.flatnonzero(np.asarray(a_group) >= 0)
    b_sel = np.flatnonzero(np.asarray(b_group) >= 0)
    none = np.empty(0, dtype=np.int64)
    if len(a_sel) == 0 or len(b_sel) == 0:
        return none, none
    both = np.concatenate([a_rc[a_sel], b_rc[b_sel]])
    low, high = both.min(axis=0), both.max(axis=0)
    cell = max(float(radius), 1.0) * (1 + _SLACK)
    n_cells = int((high[0] - low[0]) // cell) + 3
    width = float(radius) * (1 + _SLACK) + _SLACK
    span = 2 * ((high[1] - low[1]) + 2 * width + 1)  # keeps each cell's column windows apart
    a_key = _sort_key(a_rc[a_sel], np.asarray(a_group)[a_sel], low, cell, n_cells, span)
    b_key = _sort_key(b_rc[b_sel], np.asarray(b_group)[b_sel], low, cell, n_cells, span)
    a_order, b_order = np.argsort(a_key), np.argsort(b_key)
    a_key, b_key = a_key[a_order], b_key[b_order]  # sorted needles: each search starts at the last
    margin = width + 1e-12 * max(abs(a_key[-1]), abs(b_key[-1]))  # beyond the keys' rounding
    found_i, found_j = [], []
    for offset in (-span, 0.0, span):  # the row cells above, at and below
        start = np.searchsorted(b_key, a_key + (offset - margin), side="left")
        stop = np.searchsorted(b_key, a_key + (offset + margin), side="right")
        i, j = _expand(np.arange(len(a_key)), start, stop)
        found_i.append(a_sel[a_order[i]])
        found_j.append(b_sel[b_order[j]])
    return np.concatenate(found_i), np.concatenate(found_j)


def _sort_key(rc: np.ndarray, group: np.ndarray, low: np.ndarray, cell: float, n_cells: int, span: float) -> np.ndarray:
    """One float per point ordering by group, row cell, column: ``(group · n_cells + cell) · span + column``
    (the cell shifted by one so that the cell above stays in the group)."""
    row_cell = ((rc[:, 0] - low[0]) // cell).astype(np.int64) + 1
    return (group.astype(np.int64) * n_cells + row_cell) * span + (rc[:, 1] - low[1])


def _expand(owner: np.ndarray, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each ``owner[k]`` repeated once per position in ``start[k]:stop[k]``, with those positions."""
    counts = stop - start
    total = int(counts.sum())
    first = np.cumsum(counts) - counts
    positions = np.arange(total) - np.repeat(first - start, counts)
    return np.repeat(owner, counts), positions
