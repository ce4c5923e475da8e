"""scipy's ``linear_sum_assignment`` replayed on a mostly-constant cost matrix, without the matrix.

The official scorer solves each scene's full matrix (``fill`` = 9,999,999 × 10 everywhere except
the cheap candidate pairs) with scipy's shortest augmenting path solver (Crouse 2016, scipy
``rectangular_lsap.cpp``): rows are added one by one; each runs a Dijkstra search over all
remaining columns (filled in reverse column order, removed by swapping in the last one), keeping
the first column with the lowest reduced cost unless a later equal one is free; then the duals are
updated and the path is augmented. Ties between equally good assignments are settled by that scan
order and by the rounding of ``((minVal + cost) - u[i]) - v[j]``; :func:`scipy_assignment` performs
the same steps on the same floats, so it returns the same assignment, while touching only:

- the candidate columns of the rows on the current path and the occupied columns whose dual v is
  positive (the only non-candidate occupied columns that can undercut a free column), each with
  its exact reduced costs, replayed over the path's earlier rows when it first appears;
- one *class* for all other free columns: they all have v = 0 (a free column enters the path only
  as its sink, whose dual change is ``minVal - minVal = 0``), so they share every reduced cost
  ``(minVal + fill) - u[i]``; their scan position is needed only when the class wins a tie, and
  occupied columns with v ≤ 0 never beat the class (``x - v ≥ x``, and equal values go to a free
  column).

When the class is empty (every free column is a candidate of the path), the replay gives up and
the caller uses scipy itself. Compiled with numba at its first call (then cached next to this file);
numba is imported then, not with this module, since only scenes with a tie that matters need it.
The solver replayed is scipy's current one (no cost shift, transposed when tall); the tests compare
every pair with the installed scipy on hundreds of tie-heavy matrices.
"""

from __future__ import annotations

import contextlib
import functools
import gc

import numpy as np


def scipy_assignment(
    shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, values: np.ndarray, fill: float
) -> tuple[np.ndarray, np.ndarray]:
    """``linear_sum_assignment(M)`` for ``M = full(shape, fill); M[rows, cols] = values`` (distinct
    cells, finite values): the same (row, col) pairs, sorted by row. Falls back to scipy on the
    dense matrix in the rare states the replay does not cover."""
    n_rows, n_cols = shape
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    transpose = n_cols < n_rows  # scipy solves tall matrices transposed
    if transpose:
        rows, cols, n_rows, n_cols = cols, rows, n_cols, n_rows
    if n_rows and n_cols:
        order = np.lexsort((cols, rows))
        indptr = np.searchsorted(rows[order], np.arange(n_rows + 1))
        col4row = compiled_replay()(n_rows, n_cols, indptr, cols[order], values[order], float(fill))
    else:
        col4row = np.empty(0, dtype=np.int64)
    if n_rows and col4row[0] == -2:  # gave up: the dense solve
        cost = np.full(shape, float(fill))
        cost[(cols, rows) if transpose else (rows, cols)] = values
        return dense_assignment(cost)
    r, c = np.arange(n_rows), col4row
    if transpose:
        order = np.argsort(c, kind="stable")
        return c[order], r[order]
    return r, c


def dense_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`scipy.optimize.linear_sum_assignment` of a dense matrix; scipy.optimize is imported at
    the first call, not with this module (a score with neither ties nor big components needs none)."""
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(cost)


@functools.lru_cache(maxsize=1)
def compiled_replay():
    """:func:`_replay` compiled by numba, or loaded from numba's cache, by a first call on a 1 × 1
    matrix. numba (0.35 s with its CPU target, which imports ``scipy.linalg`` to probe for BLAS) is
    imported here, at the first tied scene, not with this module."""
    with _gc_paused():
        from numba import njit

        replay = njit(cache=True)(_replay)
        replay(1, 1, np.array([0, 1]), np.array([0]), np.array([1.0]), 2.0)
    return replay


@contextlib.contextmanager
def _gc_paused():
    """No garbage collection for a moment: numba's import and CPU target create some hundred
    thousand lasting objects, and collections while they pile up (0.1 s) free nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _replay(n_rows, n_cols, indptr, indices, values, fill):  # pragma: no cover - compiled
    """The row-by-row solve (n_rows ≤ n_cols); col4row, or [-2, ...] when it gives up."""
    inf = np.inf
    u = np.zeros(n_rows)
    v = np.zeros(n_cols)
    col4row = np.full(n_rows, -1, dtype=np.int64)
    row4col = np.full(n_cols, -1, dtype=np.int64)
    path = np.full(n_cols, -1, dtype=np.int64)
    spc = np.full(n_cols, inf)
    tracked_at = np.full(n_cols, -1, dtype=np.int64)  # == current row: tracked on this path
    in_sc_at = np.full(n_cols, -1, dtype=np.int64)  # == current row: chosen on this path
    cand_at = np.full(n_cols, -1, dtype=np.int64)  # == visit number: candidate of the visited row
    cand_val = np.zeros(n_cols)
    col_at = np.arange(n_cols - 1, -1, -1).astype(np.int64)  # scipy's `remaining`
    pos_of = np.arange(n_cols - 1, -1, -1).astype(np.int64)
    touched = np.empty(2 * n_cols + 2, dtype=np.int64)
    tracked = np.empty(n_cols, dtype=np.int64)
    chosen = np.empty(n_cols, dtype=np.int64)
    visit_row = np.empty(n_rows, dtype=np.int64)
    visit_r = np.empty(n_rows)
    positive = np.empty(n_cols, dtype=np.int64)  # the occupied columns with v > 0, in no order
    slot = np.full(n_cols, -1, dtype=np.int64)  # each column's place in `positive`, -1: not there
    n_positive = 0
    n_free = n_cols
    visits = 0
    for cur in range(n_rows):
        n_tracked = 0
        n_free_tracked = 0
        for k in range(n_positive):  # occupied columns with v > 0 are tracked from the start
            j = positive[k]
            tracked_at[j] = cur
            spc[j] = inf
            tracked[n_tracked] = j
            n_tracked += 1
        n_visit = 0
        n_chosen = 0
        n_touched = 0
        num_remaining = n_cols
        min_val = 0.0
        class_spc = inf
        class_path = -1
        i = cur
        sink = -1
        while sink == -1:
            visits += 1
            base = (min_val + fill) - u[i]  # reduced cost of a non-candidate column, before - v[j]
            visit_row[n_visit] = i
            visit_r[n_visit] = base
            n_visit += 1
            for e in range(indptr[i], indptr[i + 1]):
                j = indices[e]
                cand_at[j] = visits
                cand_val[j] = values[e]
                if in_sc_at[j] == cur or tracked_at[j] == cur:
                    continue
                tracked_at[j] = cur
                tracked[n_tracked] = j
                n_tracked += 1
                if row4col[j] == -1:
                    n_free_tracked += 1
                spc[j] = inf
                for k in range(n_visit - 1):  # earlier rows of this path saw it as a fill entry
                    r = visit_r[k] - v[j]
                    if r < spc[j]:
                        spc[j] = r
                        path[j] = visit_row[k]
            for t in range(n_tracked):
                j = tracked[t]
                if in_sc_at[j] == cur:
                    continue
                c = cand_val[j] if cand_at[j] == visits else fill
                r = ((min_val + c) - u[i]) - v[j]
                if r < spc[j]:
                    spc[j] = r
                    path[j] = i
            if base < class_spc:  # every class column: base - 0.0
                class_spc = base
                class_path = i
            if n_free - n_free_tracked <= 0:
                col4row[0] = -2
                return col4row
            lowest = class_spc
            for t in range(n_tracked):
                j = tracked[t]
                if in_sc_at[j] != cur and spc[j] < lowest:
                    lowest = spc[j]
            # scipy keeps the last free column (scan order) at the lowest cost, else the first one
            pick = -1
            pick_pos = -1
            if class_spc == lowest:
                for p in range(num_remaining - 1, -1, -1):
                    j = col_at[p]
                    if row4col[j] == -1 and tracked_at[j] != cur:
                        pick = j
                        pick_pos = p
                        break
            for t in range(n_tracked):
                j = tracked[t]
                if in_sc_at[j] != cur and row4col[j] == -1 and spc[j] == lowest and pos_of[j] > pick_pos:
                    pick = j
                    pick_pos = pos_of[j]
            if pick == -1:
                pick_pos = num_remaining
                for t in range(n_tracked):
                    j = tracked[t]
                    if in_sc_at[j] != cur and spc[j] == lowest and pos_of[j] < pick_pos:
                        pick = j
                        pick_pos = pos_of[j]
            j = pick
            if tracked_at[j] != cur:  # a class column
                tracked_at[j] = cur
                tracked[n_tracked] = j
                n_tracked += 1
                n_free_tracked += 1
                spc[j] = class_spc
                path[j] = class_path
            min_val = lowest
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            in_sc_at[j] = cur
            chosen[n_chosen] = j
            n_chosen += 1
            last = col_at[num_remaining - 1]  # scipy: remaining[index] = remaining[--num_remaining]
            col_at[pick_pos] = last
            pos_of[last] = pick_pos
            touched[n_touched] = pick_pos
            touched[n_touched + 1] = num_remaining - 1
            n_touched += 2
            num_remaining -= 1
        u[cur] += min_val
        for k in range(1, n_visit):
            row = visit_row[k]
            u[row] += min_val - spc[col4row[row]]
        for k in range(n_chosen):
            j = chosen[k]
            v[j] -= min_val - spc[j]
        j = sink
        while True:
            row = path[j]
            row4col[j] = row
            j, col4row[row] = col4row[row], j
            if row == cur:
                break
        for k in range(n_chosen):
            j = chosen[k]
            if v[j] > 0.0 and slot[j] == -1:
                slot[j] = n_positive
                positive[n_positive] = j
                n_positive += 1
            elif v[j] <= 0.0 and slot[j] != -1:  # swap the last one into its place
                last = positive[n_positive - 1]
                positive[slot[j]] = last
                slot[last] = slot[j]
                slot[j] = -1
                n_positive -= 1
        n_free -= 1
        for k in range(n_touched):  # back to the reversed order for the next row
            p = touched[k]
            col_at[p] = n_cols - 1 - p
            pos_of[n_cols - 1 - p] = p
    return col4row
