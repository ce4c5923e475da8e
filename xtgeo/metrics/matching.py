"""Fast official xView3 matching: grid-searched candidate pairs, solved per connected component.

Why the restricted problem gives the official assignment (costly distances on). Per scene, the
official cost of a prediction/label pair is its distance d (metres) when d ≤ tol, else the constant
C = 9,999,999 × 10. Call the pairs with d ≤ tol *cheap* edges (E); a grid search
(:mod:`xtgeo.metrics.neighbours`) finds exactly them.
With k = min(#pred, #label), a full assignment M costs Σ_{M∩E} d + C·(k − |M∩E|), and
Σ_{M∩E} d ≤ k·tol < C (checked; k < 499,999 at 200 m), so every optimal M (i) uses a maximum number of
cheap edges and (ii) among those has the least total cheap distance; conversely any such matching of
E completes to an optimal M with costly pairs only (a cheap completion pair would enlarge it). The
costly pairs never score (C > tol), so only M∩E matters. Cardinality and weight are sums over the
connected components of the graph (preds + labels, edges E), so M∩E is optimal iff it is optimal on
every component, and each component is solved alone (exactly, with
:func:`scipy.optimize.linear_sum_assignment` on its small matrix, or the nearest edge for a star).

Ties: when a component has several optimal matchings, scipy's dense solver picks one by its scan
order over the whole scene matrix, which no decomposition reproduces. So every component's optimum
is checked for uniqueness: a star (one prediction or one label) by its other edges being longer
than the shortest by more than :data:`TIE_MARGIN_M`; a component of at most
:data:`MAX_ENUMERATED_SIDE` per side by enumerating all its assignments; a larger component by
forbidding each chosen cheap edge in turn (setting it to C) and
re-solving: an alternative optimum exists iff some forbidden re-solve is not worse by more than the
margin. The margin also absorbs the dense solver's rounding. A tie only matters when the optimal
alternatives differ in *effect*: the caller labels every candidate edge with an effect code (what
the pair changes in the score: a dropped prediction, the class outcomes, the length term and its
place in the sum, whether it scores at all); when all optimal alternatives of a component have the
same multiset of effect codes, any of them gives the official numbers. A star's alternatives are its
shortest edges; an enumerated component's are its optimal assignments. Scenes with a tie that
matters (or any tie in a component too large to enumerate) get the official dense assignment of
the whole scene, from scipy's solver replayed on the scene's candidate edges
(:mod:`xtgeo.metrics.lsap`: same steps, same floats, same tie-breaking, without the matrix).
Without costly distances the optimum mixes far pairs too and does not decompose: every scene is
solved by the dense reference (:mod:`xtgeo.metrics.dense`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xtgeo.metrics.dense import COSTLY_DISTANCE_M, PIXEL_SIZE_M, Matches, match_dense, scene_rows
from xtgeo.metrics.lsap import dense_assignment, scipy_assignment
from xtgeo.metrics.neighbours import box_pairs

#: Two optimal costs closer than this (metres) count as a tie and send the scene to the dense solver.
TIE_MARGIN_M = 1e-3


def distance_m(a_rc: np.ndarray, b_rc: np.ndarray) -> np.ndarray:
    """Row-wise Euclidean distance in metres, computed exactly as scipy's ``distance_matrix``."""
    diff = b_rc - a_rc
    return np.sqrt(diff[:, 0] * diff[:, 0] + diff[:, 1] * diff[:, 1]) * PIXEL_SIZE_M


def candidate_pairs(
    pred_rc: np.ndarray,
    pred_group: np.ndarray,
    gt_rc: np.ndarray,
    gt_group: np.ndarray,
    tolerance_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All same-group (pred, gt, distance) pairs with distance ≤ tolerance (the cheap edges)."""
    radius_px = tolerance_m / PIXEL_SIZE_M * (1 + 1e-9) + 1e-9  # a superset; exact test below
    pred, gt = box_pairs(pred_rc, pred_group, gt_rc, gt_group, radius_px)
    dist = distance_m(pred_rc[pred], gt_rc[gt])
    cheap = ~(dist > tolerance_m)
    return pred[cheap], gt[cheap], dist[cheap]


def match_fast(
    pred_rc: np.ndarray,
    pred_group: np.ndarray,
    gt_rc: np.ndarray,
    gt_group: np.ndarray,
    n_groups: int,
    tolerance_m: float,
    costly: bool = True,
    effect: EffectFn | None = None,
    candidates: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Matches:
    """Official matching from candidate pairs (see the module doc for why it equals the dense one).

    ``effect(pred, gt, dist) -> int codes`` says which candidate edges are interchangeable for the
    caller; by default every edge is distinct, so every tie goes to the dense solver.
    ``candidates``: precomputed :func:`candidate_pairs` of a superset of the active rows (same
    scenes, same tolerance); rows whose group is -1 are ignored.
    """
    pred_rc = np.asarray(pred_rc, dtype=np.float64)
    gt_rc = np.asarray(gt_rc, dtype=np.float64)
    if not costly or min(len(pred_rc), len(gt_rc)) * tolerance_m >= COSTLY_DISTANCE_M:
        # true distances above the tolerance (or a scene so big that k·tol ≥ C): no decomposition
        return match_dense(pred_rc, pred_group, gt_rc, gt_group, n_groups, tolerance_m, costly)
    if candidates is None:
        candidates = candidate_pairs(pred_rc, pred_group, gt_rc, gt_group, tolerance_m)
    pred, gt, dist = candidates
    active = (pred_group[pred] >= 0) & (gt_group[gt] >= 0)
    pred, gt, dist = pred[active], gt[active], dist[active]
    chosen, tied, comp = _solve_components(pred, gt, dist, np.arange(len(pred)))
    if effect is not None and len(tied):  # keep only ties whose alternatives differ in effect
        sub = np.flatnonzero(np.isin(comp, comp[tied]))
        codes = np.asarray(effect(pred[sub], gt[sub], dist[sub]), dtype=np.int64)
        tied = sub[_solve_components(pred[sub], gt[sub], dist[sub], codes)[1]]
    tied_groups = np.unique(pred_group[pred[tied]])
    in_tied = np.isin(pred_group[pred], tied_groups)
    keep = chosen & ~in_tied & (dist < tolerance_m)
    parts = [(pred[keep], gt[keep], dist[keep])]
    if len(tied_groups):
        parts.append(_solve_scenes_dense(pred_group, gt_group, n_groups, tied_groups,
                                         pred[in_tied], gt[in_tied], dist[in_tied], tolerance_m))
    pred, gt, dist = (np.concatenate(p) for p in zip(*parts))
    order = np.lexsort((pred, pred_group[pred]))
    return Matches(pred[order], gt[order], dist[order], dense_scenes=len(tied_groups))


def _solve_scenes_dense(
    pred_group: np.ndarray,
    gt_group: np.ndarray,
    n_groups: int,
    groups: np.ndarray,
    pred: np.ndarray,
    gt: np.ndarray,
    dist: np.ndarray,
    tolerance_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The official dense solve of whole scenes, from the candidate edges alone: the matrix it
    stands for is C everywhere with the cheap distances (the same floats) in place."""
    p_local = np.full(len(pred_group), -1)
    g_local = np.full(len(gt_group), -1)
    edge_group = pred_group[pred]
    found = []
    for g, p_idx, g_idx in scene_rows(pred_group, gt_group, n_groups, groups):
        p_local[p_idx] = np.arange(len(p_idx))
        g_local[g_idx] = np.arange(len(g_idx))
        mine = edge_group == g
        rows, cols, d = _dense_hits((len(p_idx), len(g_idx)), p_local[pred[mine]], g_local[gt[mine]],
                                    dist[mine], tolerance_m)
        found.append((p_idx[rows], g_idx[cols], d))
    return tuple(np.concatenate(part) for part in zip(*found))


def _dense_hits(
    shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, dist: np.ndarray, tolerance_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One scene's official dense assignment from its cheap edges: hits as (row, col, distance).
    scipy's solver is replayed on the edges alone (:mod:`xtgeo.metrics.lsap`), same assignment."""
    rr, cc = scipy_assignment(shape, rows, cols, dist, COSTLY_DISTANCE_M)
    cell, assigned = rows * shape[1] + cols, rr * shape[1] + cc  # tied scenes have edges
    order = np.argsort(cell)
    at = order[np.minimum(np.searchsorted(cell[order], assigned), len(cell) - 1)]
    hit = (cell[at] == assigned) & (dist[at] < tolerance_m)
    return rr[hit], cc[hit], dist[at[hit]]


EffectFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _solve_components(
    pred: np.ndarray, gt: np.ndarray, dist: np.ndarray, effect: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per edge: chosen by its component's optimum; edges of components whose tie matters; and
    every edge's component number. Lone pairs (both ends of degree 1) are settled at once."""
    if len(pred) == 0:
        none = np.empty(0, dtype=np.int64)
        return np.zeros(0, dtype=bool), none, none
    lone = (np.bincount(pred)[pred] == 1) & (np.bincount(gt)[gt] == 1)
    rest = np.flatnonzero(~lone)
    chosen = lone.copy()
    comp = np.empty(len(pred), dtype=np.int64)
    sub_chosen, sub_tied, sub_comp = _solve_connected(pred[rest], gt[rest], dist[rest], effect[rest])
    chosen[rest] = sub_chosen
    comp[rest] = sub_comp
    comp[lone] = (sub_comp.max() + 1 if len(rest) else 0) + np.arange(int(lone.sum()))
    return chosen, rest[sub_tied], comp


def _solve_connected(
    pred: np.ndarray, gt: np.ndarray, dist: np.ndarray, effect: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_solve_components` for edges whose components have more than one edge."""
    chosen = np.zeros(len(pred), dtype=bool)
    if len(pred) == 0:
        return chosen, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    p_local, n_p = _dense_numbers(pred)
    g_local, n_g = _dense_numbers(gt)
    node_comp = _connected_components(p_local, n_p + g_local, n_p + n_g)
    comp = node_comp[p_local]
    p_rank, preds_in = _rank_in_component(node_comp[:n_p])
    g_rank, gts_in = _rank_in_component(node_comp[n_p:], minlength=len(preds_in))
    edges = _Edges(comp, p_rank[p_local], g_rank[g_local], dist, effect)

    star = (preds_in == 1) | (gts_in == 1)
    small = ~star & (np.maximum(preds_in, gts_in) <= MAX_ENUMERATED_SIDE)
    tied = [_solve_stars(edges, star, chosen)]
    for shape in np.unique(np.column_stack([preds_in[small], gts_in[small]]), axis=0):
        members = np.flatnonzero(small & (preds_in == shape[0]) & (gts_in == shape[1]))
        per_component = math.perm(int(shape.max()), int(shape.min())) * int(shape.min())
        for batch in np.array_split(members, -(-len(members) * per_component // ENUMERATION_BATCH)):
            tied.append(_solve_enumerated(edges, batch, (int(shape[0]), int(shape[1])), chosen))
    order = np.argsort(comp, kind="stable")
    bounds = np.searchsorted(comp[order], np.arange(len(star) + 1))
    for k in np.flatnonzero(~star & ~small):
        in_comp = order[bounds[k] : bounds[k + 1]]
        picked, unique = _solve_general(edges.p_rank[in_comp], edges.g_rank[in_comp], dist[in_comp])
        chosen[in_comp[picked]] = True
        if not unique:
            tied.append(in_comp)
    return chosen, np.concatenate(tied), comp


#: Components with at most this many predictions and labels are solved by enumerating assignments
#: (at most 720 of 6 pairs), larger ones by scipy (whose import then costs a tenth of a second or more).
MAX_ENUMERATED_SIDE = 6
#: Enumerated (component, assignment, pair) entries handled at once (16 MiB per float array).
ENUMERATION_BATCH = 1 << 21


@dataclass(frozen=True)
class _Edges:
    """Candidate edges: component, rank of the prediction and of the label in it, distance, effect."""

    comp: np.ndarray
    p_rank: np.ndarray
    g_rank: np.ndarray
    dist: np.ndarray
    effect: np.ndarray


def _dense_numbers(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Renumber non-negative ints to 0..n-1 (in increasing value order) without sorting."""
    present = np.zeros(values.max() + 1, dtype=bool)
    present[values] = True
    number = np.cumsum(present) - 1
    return number[values], int(present.sum())


def _connected_components(a: np.ndarray, b: np.ndarray, n_nodes: int) -> np.ndarray:
    """Component number of each node of the undirected graph with edges ``a[k]``–``b[k]``, numbered
    in the order of each component's lowest node. Every node takes the lowest label among its
    edges' ends, then its label's label, until nothing changes: a few rounds for the small
    components of candidate pairs (scipy.sparse.csgraph would be imported for this alone)."""
    label = np.arange(n_nodes)
    while True:
        lowest = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, lowest)
        np.minimum.at(new, b, lowest)
        new = new[new]
        if np.array_equal(new, label):
            return _dense_numbers(label)[0]
        label = new


def _rank_in_component(node_comp: np.ndarray, minlength: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each node's rank among its component's nodes (in node order) and the component sizes."""
    sizes = np.bincount(node_comp, minlength=minlength)
    order = np.argsort(node_comp, kind="stable")
    rank = np.empty(len(node_comp), dtype=np.int64)
    rank[order] = np.arange(len(node_comp)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return rank, sizes


def _solve_stars(edges: _Edges, star: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """One prediction or one label: the shortest edge wins; a tie matters if an equally short edge
    has another effect. Returns one edge of each component whose tie matters."""
    order = np.lexsort((edges.dist, edges.comp))
    comp, dist, effect = edges.comp[order], edges.dist[order], edges.effect[order]
    starts = np.flatnonzero(np.r_[True, comp[1:] != comp[:-1]])
    in_star = star[comp[starts]]
    chosen[order[starts[in_star]]] = True
    first = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rival = (dist - dist[first] <= TIE_MARGIN_M) & (effect != effect[first]) & star[comp]
    return order[first[rival]]


def _solve_enumerated(edges: _Edges, members: np.ndarray, shape: tuple[int, int], chosen: np.ndarray) -> np.ndarray:
    """Components of one small shape, all at once: try every assignment, keep the best, and return
    one edge of each component with an equally good assignment of other effects."""
    n_p, n_g = shape
    slot_of_comp = np.full(edges.comp.max() + 1, -1)
    slot_of_comp[members] = np.arange(len(members))
    mine = np.flatnonzero(slot_of_comp[edges.comp] >= 0)
    slot = slot_of_comp[edges.comp[mine]]
    rows, cols = edges.p_rank[mine], edges.g_rank[mine]
    if n_p > n_g:  # enumerate injections from the smaller side
        rows, cols, n_p, n_g = cols, rows, n_g, n_p
    cost = np.full((len(members), n_p, n_g), COSTLY_DISTANCE_M)
    cost[slot, rows, cols] = edges.dist[mine]
    edge_at = np.full(cost.shape, -1)
    edge_at[slot, rows, cols] = mine
    maps = np.array(list(itertools.permutations(range(n_g), n_p)))  # (P, n_p)
    picked = cost[:, np.arange(n_p), maps]  # (K, P, n_p)
    used = edge_at[:, np.arange(n_p), maps]
    cheap = used >= 0
    n_cheap = cheap.sum(axis=2)
    total = np.where(cheap, picked, 0.0).sum(axis=2)
    total = np.where(n_cheap == n_cheap.max(axis=1, keepdims=True), total, np.inf)
    best = total.argmin(axis=1)
    k = np.arange(len(members))
    won = used[k, best]
    chosen[won[won >= 0]] = True
    effects = np.sort(np.where(cheap, edges.effect[used], -1), axis=2)  # multiset per assignment
    optimal = total <= total[k, best][:, None] + TIE_MARGIN_M
    differs = (effects != effects[k, best][:, None, :]).any(axis=2)
    return edge_at[k[(optimal & differs).any(axis=1)], 0].max(axis=1)


def _solve_general(rows: np.ndarray, cols: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, bool]:
    """Optimal edges of one component (indices into its edge list) and whether they are unique."""
    cost = np.full((rows.max() + 1, cols.max() + 1), COSTLY_DISTANCE_M)
    cost[rows, cols] = dist
    edge_at = np.full(cost.shape, -1)
    edge_at[rows, cols] = np.arange(len(dist))
    rr, cc = dense_assignment(cost)
    best = _cheap_cost(cost[rr, cc])
    picked = edge_at[rr, cc]
    picked = picked[picked >= 0]
    for e in picked:
        cost[rows[e], cols[e]] = COSTLY_DISTANCE_M
        alternative = _cheap_cost(cost[dense_assignment(cost)])
        cost[rows[e], cols[e]] = dist[e]
        if alternative[0] == best[0] and alternative[1] - best[1] <= TIE_MARGIN_M:
            return picked, False
    return picked, True


def _cheap_cost(chosen: np.ndarray) -> tuple[int, float]:
    """Cost of assigned entries as (number of cheap pairs, negated; total cheap distance)."""
    cheap = chosen[chosen < COSTLY_DISTANCE_M]
    return -len(cheap), float(cheap.sum())


def near_shore(points_rc: np.ndarray, contours: list[np.ndarray], radius_px: float) -> np.ndarray:
    """Official close-to-shore test from the nearby contour points instead of a dense distance matrix.

    Official rule: a point is near when some contour point lies within ``radius_px`` (squared
    distance ≤ radius², as scipy's KD-tree tests it), a contour point at distance exactly 0 not
    counting. The contour points in a box of ``radius_px`` around each point are its candidates;
    their squared distances are computed exactly as the KD-tree does.
    """
    points_rc = np.asarray(points_rc, dtype=np.float64).reshape(-1, 2)
    return near_shore_scenes(points_rc, np.zeros(len(points_rc), dtype=np.int64), [contours], radius_px)


def near_shore_scenes(
    points_rc: np.ndarray, point_scene: np.ndarray, shorelines: list[list[np.ndarray]], radius_px: float
) -> np.ndarray:
    """:func:`near_shore` of many scenes in one grid search: point ``k`` is tested against the
    contours ``shorelines[point_scene[k]]`` (a ``point_scene`` of -1: not tested, False)."""
    points_rc = np.asarray(points_rc, dtype=np.float64).reshape(-1, 2)
    near = np.zeros(len(points_rc), dtype=bool)
    parts = [(np.vstack(contours), scene) for scene, contours in enumerate(shorelines) if len(contours)]
    if not parts or len(points_rc) == 0:
        return near
    shore = np.concatenate([part for part, _ in parts]).astype(np.float64)
    shore_scene = np.repeat([scene for _, scene in parts], [len(part) for part, _ in parts])
    point, contour = box_pairs(points_rc, np.asarray(point_scene), shore, shore_scene, radius_px)
    diff = points_rc[point] - shore[contour]
    d2 = diff[:, 0] * diff[:, 0] + diff[:, 1] * diff[:, 1]
    near[point[(d2 > 0) & (d2 <= radius_px * radius_px)]] = True
    return near
