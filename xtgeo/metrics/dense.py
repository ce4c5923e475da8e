"""The plain dense reference: the official xView3 matching written out directly, scene by scene.

Every scene gets the full prediction × label distance matrix (metres), entries above the tolerance
are replaced by :data:`COSTLY_DISTANCE_M` when ``costly`` is set, and
:func:`scipy.optimize.linear_sum_assignment` picks the pairs; a pair is a true positive only when
its distance is strictly below the tolerance. The calls and their order are those of the official
scorer, so the floats (and scipy's choice among tied assignments) are the same. The fast matcher
(:mod:`xtgeo.metrics.matching`) falls back to this for scenes with tied optima, and the tests and
``benchmarks/score.py`` use it as the oracle.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from xtgeo.metrics.lsap import dense_assignment

#: Metres per scene pixel in the official scorer (xView3 scenes are on 10 m grids): the scorer
#: measures distances between (row, col) pixels with it, whatever a scene's own transform says.
PIXEL_SIZE_M = 10.0
#: The official stand-in for a distance above the tolerance: 9,999,999 pixels in metres.
COSTLY_DISTANCE_M = 9_999_999 * PIXEL_SIZE_M


@dataclass(frozen=True)
class Matches:
    """True-positive pairs (global row positions), ordered by scene rank then prediction position."""

    pred: np.ndarray
    gt: np.ndarray
    distance_m: np.ndarray
    #: Scenes solved with the dense matrix (all of them here; the tied ones for the fast matcher).
    dense_scenes: int = 0

    @classmethod
    def empty(cls) -> Matches:
        none = np.empty(0, dtype=np.int64)
        return cls(none, none, np.empty(0, dtype=np.float64))


def pairwise_distance_m(a_rc: np.ndarray, b_rc: np.ndarray) -> np.ndarray:
    """``scipy.spatial.distance_matrix(a, b) * 10`` bit for bit (same operations), without its row loop."""
    a_rc = np.asarray(a_rc, dtype=np.float64)
    b_rc = np.asarray(b_rc, dtype=np.float64)
    d_row = b_rc[None, :, 0] - a_rc[:, None, 0]  # scipy squares |d|; d * d is the same float
    d_col = b_rc[None, :, 1] - a_rc[:, None, 1]
    d_row *= d_row
    d_col *= d_col
    d_row += d_col
    return np.sqrt(d_row, out=d_row) * PIXEL_SIZE_M


def match_scene_dense(
    pred_rc: np.ndarray, gt_rc: np.ndarray, tolerance_m: float, costly: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Official matching of one scene: (pred positions, gt positions, distances) of true positives."""
    if len(pred_rc) == 0 or len(gt_rc) == 0:
        none = np.empty(0, dtype=np.int64)
        return none, none, np.empty(0)
    dist = pairwise_distance_m(pred_rc, gt_rc)
    if costly:
        dist[dist > tolerance_m] = COSTLY_DISTANCE_M
    rows, cols = dense_assignment(dist)
    chosen = dist[rows, cols]
    hit = chosen < tolerance_m
    return rows[hit], cols[hit], chosen[hit]


def scene_rows(
    pred_group: np.ndarray, gt_group: np.ndarray, n_groups: int, groups: Iterable[int]
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """For each group number in ``groups``: it, its prediction positions and its label positions
    (each in file order)."""
    p_order = np.argsort(pred_group, kind="stable")
    g_order = np.argsort(gt_group, kind="stable")
    p_starts = np.searchsorted(pred_group[p_order], np.arange(n_groups + 1))
    g_starts = np.searchsorted(gt_group[g_order], np.arange(n_groups + 1))
    for g in groups:
        yield g, p_order[p_starts[g] : p_starts[g + 1]], g_order[g_starts[g] : g_starts[g + 1]]


def match_dense(
    pred_rc: np.ndarray,
    pred_group: np.ndarray,
    gt_rc: np.ndarray,
    gt_group: np.ndarray,
    n_groups: int,
    tolerance_m: float,
    costly: bool = True,
) -> Matches:
    """Match every scene (group 0..n_groups-1; -1 is ignored) with the dense official procedure.

    Rows within a group keep file order.
    """
    found = []
    for _, p_idx, g_idx in scene_rows(pred_group, gt_group, n_groups, range(n_groups)):
        rows, cols, dist = match_scene_dense(pred_rc[p_idx], gt_rc[g_idx], tolerance_m, costly)
        found.append((p_idx[rows], g_idx[cols], dist))
    if not found:
        return Matches.empty()
    pred, gt, dist = (np.concatenate(parts) for parts in zip(*found))
    return Matches(pred, gt, dist, dense_scenes=len(found))


def near_shore_dense(points_rc: np.ndarray, contours: list[np.ndarray], radius_px: float) -> np.ndarray:
    """Official close-to-shore test (dense): a contour point within ``radius_px``, 0 not counting."""
    if len(contours) == 0 or len(points_rc) == 0:
        return np.zeros(len(points_rc), dtype=bool)
    from scipy.spatial import KDTree  # imported by the dense path only

    shore = np.vstack(contours)
    dists = KDTree(shore).sparse_distance_matrix(KDTree(points_rc), radius_px, p=2).toarray()
    dists[dists == 0] = np.inf
    return np.min(dists, axis=0) != np.inf


def near_shore_dense_scenes(
    points_rc: np.ndarray, point_scene: np.ndarray, shorelines: list[list[np.ndarray]], radius_px: float
) -> np.ndarray:
    """:func:`near_shore_dense` scene by scene: point ``k`` against ``shorelines[point_scene[k]]``
    (-1: not tested, False)."""
    near = np.zeros(len(points_rc), dtype=bool)
    for scene, contours in enumerate(shorelines):
        rows = np.flatnonzero(point_scene == scene)
        near[rows] = near_shore_dense(points_rc[rows], contours, radius_px)
    return near
