"""xtgeo.metrics: official xView3 semantics on hand-derived cases, fast == dense, real labels."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import distance_matrix

from tests.paths import REAL_LABELS, REPO
from xtgeo.metrics import ScoreOptions, lsap, matching, score
from xtgeo.metrics.dense import (
    COSTLY_DISTANCE_M,
    match_dense,
    near_shore_dense,
    near_shore_dense_scenes,
    pairwise_distance_m,
)
from xtgeo.metrics.lsap import scipy_assignment
from xtgeo.metrics.matching import match_fast, near_shore, near_shore_scenes
from xtgeo.scene.shoreline import write_shoreline
from xtgeo.schema import read_labels
from xtgeo.synth.score_tables import noisy_predictions, random_labels, random_shoreline


def labels_frame(*rows) -> pd.DataFrame:
    """(scene, row, col, is_vessel, is_fishing, length, shore_km, confidence) tuples → labels."""
    columns = ["scene_id", "detect_scene_row", "detect_scene_column", "is_vessel", "is_fishing",
               "vessel_length_m", "distance_from_shore_km", "confidence"]
    frame = pd.DataFrame(list(rows), columns=columns)
    for column in ("is_vessel", "is_fishing"):
        frame[column] = frame[column].astype("boolean")
    return frame.astype({"vessel_length_m": float, "distance_from_shore_km": float})


def preds_frame(*rows) -> pd.DataFrame:
    """(scene, row, col, is_vessel, is_fishing, length) tuples → predictions."""
    columns = ["scene_id", "detect_scene_row", "detect_scene_column", "is_vessel", "is_fishing", "vessel_length_m"]
    return pd.DataFrame(list(rows), columns=columns).astype({"vessel_length_m": float})


# --- distances and matching ------------------------------------------------------------------------

def test_pairwise_distance_is_scipy_distance_matrix_bit_for_bit():
    rng = np.random.default_rng(0)
    a, b = rng.random((300, 2)) * 3e4, rng.random((250, 2)) * 3e4
    a[::2] = np.round(a[::2])
    assert np.array_equal(pairwise_distance_m(a, b), distance_matrix(a, b) * 10)


@pytest.mark.parametrize("integer_grid", [False, True])
def test_fast_matching_equals_dense_on_random_cases(integer_grid):
    """Crowded random scenes (stars, enumerated and large components, ties on integer grids)."""
    rng = np.random.default_rng(7 if integer_grid else 8)
    fallbacks = 0
    for _ in range(120):
        groups = int(rng.integers(1, 4))
        n, m = rng.integers(0, 45, 2)
        size = rng.choice([25.0, 60.0, 250.0])
        pred, gt = rng.random((n, 2)) * size, rng.random((m, 2)) * size
        if integer_grid:
            pred, gt = np.round(pred), np.round(gt)
        pred_group, gt_group = rng.integers(-1, groups, n), rng.integers(0, groups, m)
        tol = float(rng.choice([200.0, 100.0, 50.0]))
        dense = match_dense(pred, pred_group, gt, gt_group, groups, tol)
        fast = match_fast(pred, pred_group, gt, gt_group, groups, tol)
        assert np.array_equal(fast.pred, dense.pred)
        assert np.array_equal(fast.gt, dense.gt)
        assert np.array_equal(fast.distance_m, dense.distance_m)
        fallbacks += fast.dense_scenes
    if not integer_grid:
        assert fallbacks == 0  # generic coordinates: the component solution is unique, never dense




def test_connected_components_are_scipys():
    rng = np.random.default_rng(2)
    for _ in range(60):
        n_nodes = int(rng.integers(1, 80))
        n_edges = int(rng.integers(0, 2 * n_nodes))
        a, b = rng.integers(0, n_nodes, n_edges), rng.integers(0, n_nodes, n_edges)
        graph = coo_matrix((np.ones(n_edges), (a, b)), shape=(n_nodes, n_nodes))
        assert np.array_equal(matching._connected_components(a, b, n_nodes),
                              connected_components(graph, directed=False)[1])


def test_six_by_six_components_are_enumerated_without_scipy(monkeypatch):
    """Crowded clusters of 6 predictions and 6 labels (sub-pixel: one optimum each): solved by
    enumerating their 720 assignments (a few components per batch), as the dense solver would,
    with no scipy solve."""
    solved = []
    monkeypatch.setattr(matching, "dense_assignment", lambda cost: solved.append(cost.shape))
    monkeypatch.setattr(matching, "ENUMERATION_BATCH", 720 * 6 * 3)
    rng = np.random.default_rng(12)
    centres = np.repeat(rng.random((40, 2)) * 20000, 6, axis=0)
    pred, gt = centres + rng.random((240, 2)) * 6, centres + rng.random((240, 2)) * 6
    group = np.repeat(np.arange(4), 60)
    fast = match_fast(pred, group, gt, group, 4, 200.0)
    monkeypatch.undo()
    dense = match_dense(pred, group, gt, group, 4, 200.0)
    assert solved == [] and fast.dense_scenes == 0 and len(fast.pred) == 240
    assert np.array_equal(fast.pred, dense.pred) and np.array_equal(fast.gt, dense.gt)

@pytest.mark.parametrize("seed", range(4))
def test_replayed_scipy_solver_gives_scipys_assignment_on_tie_heavy_matrices(seed, monkeypatch):
    """Whole-pixel points, costly distances: exact ties everywhere; wide, tall and square matrices,
    rows and columns without any cheap entry. Every pair must be scipy's own."""
    gave_up = []
    monkeypatch.setattr(lsap, "dense_assignment", lambda cost: gave_up.append(1) or linear_sum_assignment(cost))
    rng = np.random.default_rng(seed)
    for _ in range(150):
        n, m = rng.integers(1, 70, 2)
        size = rng.choice([10.0, 30.0, 80.0, 300.0])
        a, b = np.round(rng.random((n, 2)) * size), np.round(rng.random((m, 2)) * size)
        dist = pairwise_distance_m(a, b)
        tol = float(rng.choice([50.0, 200.0]))
        rows, cols = np.nonzero(dist <= tol)
        want = linear_sum_assignment(np.where(dist > tol, COSTLY_DISTANCE_M, dist))
        got = scipy_assignment((n, m), rows, cols, dist[rows, cols], COSTLY_DISTANCE_M)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert len(gave_up) < 75  # most cases are replayed, not handed to scipy


def test_replay_covers_big_whole_pixel_scenes_without_giving_up(monkeypatch):
    """Scene-sized sparse problems (the benchmark's shape, smaller): the replay finishes on its own."""
    calls = []
    monkeypatch.setattr(lsap, "dense_assignment", lambda cost: calls.append(cost.shape))
    rng = np.random.default_rng(9)
    labels = random_labels(rng, 1, 600, shape=(3000, 3000))
    preds = noisy_predictions(rng, labels)
    pixel = ["detect_scene_row", "detect_scene_column"]
    a, b = preds[pixel].to_numpy(float), labels[pixel].to_numpy(float)
    dist = pairwise_distance_m(a, b)
    rows, cols = np.nonzero(dist <= 200.0)
    got = scipy_assignment(dist.shape, rows, cols, dist[rows, cols], COSTLY_DISTANCE_M)
    monkeypatch.undo()
    want = linear_sum_assignment(np.where(dist > 200.0, COSTLY_DISTANCE_M, dist))
    assert calls == [] and np.array_equal(got[1], want[1])


def test_replay_loads_numba_at_first_use_while_other_threads_import_scipy():
    """A fresh interpreter: xtgeo.metrics imports neither numba nor scipy; then threads replay a
    tie-heavy matrix (the first loads numba) while another imports scipy.linalg, and every one
    succeeds with scipy's own assignment; garbage collection is back on after numba has loaded."""
    code = """
import gc
import sys
import threading
import numpy as np
import xtgeo.metrics
from xtgeo.metrics.lsap import scipy_assignment
assert not {"numba", "scipy"} & {name.split(".")[0] for name in sys.modules}, "imported too early"
rng = np.random.default_rng(3)
a, b = np.round(rng.random((30, 2)) * 60), np.round(rng.random((40, 2)) * 60)  # many equal distances
dist = np.hypot(*(a[:, None] - b[None]).transpose(2, 0, 1)) * 10
rows, cols = np.nonzero(dist <= 200)
got, errors = [], []
def run(job):
    try:
        job()
    except BaseException as error:
        errors.append(error)
def replay():
    got.append(scipy_assignment(dist.shape, rows, cols, dist[rows, cols], 1e8))
def import_scipy_linalg():
    import scipy.linalg.cython_blas
threads = [threading.Thread(target=run, args=(job,)) for job in (replay, import_scipy_linalg, replay, replay)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
assert not errors, errors
assert "numba" in sys.modules and "scipy.optimize" not in sys.modules  # replayed, not handed to scipy
assert gc.isenabled()
from scipy.optimize import linear_sum_assignment
want = linear_sum_assignment(np.where(dist > 200, 1e8, dist))
assert len(got) == 3 and all(np.array_equal(g[0], want[0]) and np.array_equal(g[1], want[1]) for g in got)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_exact_tolerance_pair_is_cheap_in_assignment_but_not_a_hit():
    """X(0,0), Y(0,30); A(0,20): 200 m to X (exactly), 100 m to Y; B(0,45): 150 m to Y.
    Costly only *above* 200 m, so {A-X 200, B-Y 150} = 350 beats {A-Y 100, B-X costly}; A-X is not
    a hit (not < 200): one TP (B-Y). Y is a vessel, B says vessel, A says not: F1_V = 1 only if B-Y."""
    labels = labels_frame(("s", 0, 0, False, None, None, 50, "HIGH"), ("s", 0, 30, True, None, None, 50, "HIGH"))
    preds = preds_frame(("s", 0, 20, False, False, 10), ("s", 0, 45, True, False, 10))
    for matcher in ("fast", "dense"):
        result = score(preds, labels, matcher=matcher)
        assert (result.loc.tp, result.loc.fp, result.loc.fn) == (1, 1, 1)
        assert result.scores()["loc_fscore"] == 0.5
        assert result.scores()["vessel_fscore"] == 1.0


def test_tie_equidistant_prediction_matches_dense():
    """One prediction exactly between two labels of different classes: the official (dense) choice."""
    labels = labels_frame(("s", 10, 0, True, True, 30, 50, "HIGH"), ("s", 10, 10, False, None, 80, 50, "HIGH"))
    preds = preds_frame(("s", 10, 5, True, False, 40))
    fast, dense = score(preds, labels), score(preds, labels, matcher="dense")
    assert fast.scores() == dense.scores()
    assert fast.loc.tp == 1 and fast.dense_scenes == 1


def test_tie_without_effect_stays_on_the_fast_path():
    """Equidistant labels that would score the same (same classes, unknown lengths): any choice is
    the official result, so no dense solve is needed; a LOW one among them would matter."""
    twin = ("s", 10, 0, True, False, None, 50, "HIGH")
    labels = labels_frame(twin, ("s", 10, 10, *twin[3:]), ("s", 900, 900, *twin[3:]))
    preds = preds_frame(("s", 10, 5, True, False, 40), ("s", 900, 901, False, False, 40))
    fast = score(preds, labels)
    assert fast.dense_scenes == 0 and fast.scores() == score(preds, labels, matcher="dense").scores()
    labels.loc[1, "confidence"] = "LOW"
    assert score(preds, labels).dense_scenes == 1  # drop-low: dropping the prediction or not


# --- official quirks on hand-built scenes -------------------------------------------------------------

def test_drop_low_score_all_and_no_drop_low():
    labels = labels_frame(("s", 100, 100, True, False, 50, 50, "HIGH"), ("s", 500, 500, True, False, 50, 50, "LOW"))
    preds = preds_frame(("s", 100, 103, True, False, 50), ("s", 500, 504, True, False, 50))
    official = score(preds, labels)
    assert official.n_dropped_low == 1 and official.scores()["loc_fscore"] == 1.0
    kept = score(preds, labels, options=ScoreOptions(drop_low=False))  # P = 1/2, R = 1
    assert kept.loc.fp == 1 and kept.scores()["loc_fscore"] == pytest.approx(2 / 3)
    everything = score(preds, labels, options=ScoreOptions(score_all=True))
    assert everything.loc.tp == 2 and everything.scores()["loc_fscore"] == 1.0


def test_scenes_scored_only_with_high_or_medium_labels_present():
    """Predictions in a scene with only LOW labels, or without labels, are not false positives."""
    labels = labels_frame(("a", 0, 0, True, False, 50, 50, "HIGH"), ("b", 0, 0, True, False, 50, 50, "LOW"))
    preds = preds_frame(("a", 1, 1, True, False, 50), ("b", 900, 900, True, False, 50), ("c", 5, 5, True, False, 50))
    result = score(preds, labels)
    assert (result.loc.tp, result.loc.fp, result.loc.fn) == (1, 0, 0)
    assert result.n_scenes == 1 and result.n_ignored_predictions == 2


def test_class_and_length_arithmetic_on_paper():
    """Five matched pairs. Vessel: TP, skipped (label unknown), FP, TP, TP → P 3/4, R 1.
    Fishing (vessel labels with a known fishing value only): TP, FP (label False, pred True) → 2/3.
    Length errors: 0.5 (100 vs 150), 0, 0 (10 vs 10), 0 (600 vs 550 both capped at 500), label 4000
    unknown → skipped: 1 − 0.5/4."""
    labels = labels_frame(
        ("s", 0, 0, True, True, 100, 50, "HIGH"),
        ("s", 0, 1000, None, None, 20, 50, "MEDIUM"),
        ("s", 0, 2000, False, None, 10, 50, "HIGH"),
        ("s", 0, 3000, True, False, 600, 50, "HIGH"),
        ("s", 0, 4000, True, None, None, 50, "HIGH"),
    )
    preds = preds_frame(
        ("s", 0, 1, True, True, 150), ("s", 0, 1001, False, False, 20), ("s", 0, 2001, True, True, 10),
        ("s", 0, 3001, True, True, 550), ("s", 0, 4001, True, None, 300),
    )
    result = score(preds, labels)
    assert result.length_acc == 1.0 - 0.5 / 4  # four known lengths: 0.5, 0, 0, 0
    assert (result.vessel.tp, result.vessel.fp, result.vessel.fn) == (3, 1, 0)
    assert (result.fishing.tp, result.fishing.fp, result.fishing.fn, result.fishing.tn) == (1, 1, 0, 0)
    f1_v, f1_f = 2 * 0.75 * 1.0 / 1.75, 2 * 0.5 * 1.0 / 1.5
    assert result.scores()["vessel_fscore"] == f1_v and result.scores()["fishing_fscore"] == f1_f
    assert result.aggregate == 1.0 * (1 + result.length_acc + f1_v + f1_f + 0) / 5


def test_close_to_shore_on_paper(tmp_path):
    """Scene a: shore at row 0; near label (1 km) + near prediction → contributes (1 TP, and one far
    prediction not counted). Scene b: near label but no prediction within 2.2 km → not counted."""
    write_shoreline(tmp_path / "a_shoreline.npy", [np.array([[0, c] for c in range(0, 400)])])
    write_shoreline(tmp_path / "b_shoreline.npy", [np.array([[0, 0], [0, 1]])])
    labels = labels_frame(
        ("a", 100, 50, True, False, 50, 1.0, "HIGH"), ("a", 5000, 50, True, False, 50, 50, "HIGH"),
        ("b", 3000, 3000, True, False, 50, 1.5, "HIGH"),
    )
    preds = preds_frame(("a", 101, 50, True, False, 50), ("a", 5000, 51, True, False, 50),
                        ("b", 3000, 3001, True, False, 50))
    for matcher in ("fast", "dense"):
        result = score(preds, labels, shore_root=tmp_path, matcher=matcher)
        assert (result.shore.tp, result.shore.fp, result.shore.fn) == (1, 0, 0)
        assert result.scores()["loc_fscore_shore"] == 1.0
        # no fishing positives at all: F1_F = 0 (undefined precision), so (1 + 1 + 1 + 0 + 1) / 5
        assert result.scores()["aggregate"] == 0.8
    assert score(preds, labels).scores()["aggregate"] == 0.6  # no shoreline: F1_S = 0


def test_shoreline_point_at_distance_zero_does_not_count():
    on_point = np.array([[10.0, 10.0]])
    assert not near_shore(on_point, [np.array([[10, 10]])], 220.0).any()
    assert near_shore(on_point, [np.array([[10, 10], [10, 10], [10, 15]])], 220.0).all()
    assert not near_shore_dense(on_point, [np.array([[10, 10]])], 220.0).any()


def test_near_shore_fast_equals_dense_with_boundary_points():
    rng = np.random.default_rng(3)
    contours = [np.round(rng.random((300, 2)) * 2000).astype(np.int32), np.array([[1000, 1000], [1000, 1000]])]
    points = np.concatenate([
        rng.random((400, 2)) * 2400 - 200,
        np.array([[1000.0, 1220.0], [1132.0, 1176.0], [1000.0, 1220.0 + 1e-9], [1000.0, 1000.0]]),
        contours[0][:20].astype(float),
    ])
    assert np.array_equal(near_shore(points, contours, 220.0), near_shore_dense(points, contours, 220.0))


def test_near_shore_of_all_scenes_at_once_equals_scene_by_scene():
    """One grid search over every scene: a point sees only its own scene's contours (scene 1's
    contours lie right on scene 0's points), a scene without contours and unscored points are never near."""
    rng = np.random.default_rng(5)
    shorelines = [[np.round(rng.random((200, 2)) * 2000).astype(np.int32)] for _ in range(2)] + [[]]
    shorelines[1].append(np.round(rng.random((30, 2)) * 2000).astype(np.int32))
    points = np.concatenate([rng.random((600, 2)) * 2400 - 200, shorelines[1][0][:10] + 0.5])
    scene = rng.integers(-1, 3, len(points))
    scene[-10:] = 0
    fast = near_shore_scenes(points, scene, shorelines, 220.0)
    assert np.array_equal(fast, near_shore_dense_scenes(points, scene, shorelines, 220.0))
    for number, contours in enumerate(shorelines):
        mine = scene == number
        assert np.array_equal(fast[mine], near_shore_dense(points[mine], contours, 220.0))
    assert not fast[scene == -1].any() and not fast[scene == 2].any() and fast[scene == 1].any()


def test_empty_predictions_score_zero():
    labels = labels_frame(("s", 0, 0, True, False, 50, 50, "HIGH"))
    result = score(preds_frame(), labels)
    assert result.scores() == {k: 0 for k in result.scores()}


def test_unknown_scene_id_is_an_error():
    labels = labels_frame(("s", 0, 0, True, False, 50, 50, "HIGH"))
    with pytest.raises(Exception, match="nope"):
        score(preds_frame(("s", 0, 0, True, False, 50)), labels, options=ScoreOptions(scene_ids=("nope",)))


# --- whole scorer: fast vs dense, and real labels -------------------------------------------------------

@pytest.mark.parametrize("options", [ScoreOptions(), ScoreOptions(costly_dist=False), ScoreOptions(score_all=True)])
def test_score_fast_equals_dense_on_simulated_scenes(tmp_path, options):
    rng = np.random.default_rng(11)
    labels = random_labels(rng, 4, 150, shape=(3000, 3000), clustered=0.5)
    preds = noisy_predictions(rng, labels)
    for scene_id in labels["scene_id"].unique():
        write_shoreline(tmp_path / f"{scene_id}_shoreline.npy", random_shoreline(rng, (3000, 3000), 400))
    fast = score(preds, labels, tmp_path, options)
    dense = score(preds, labels, tmp_path, options, matcher="dense")
    assert fast.scores() == dense.scores()
    assert fast.tasks() == dense.tasks()
    assert fast.per_scene.equals(dense.per_scene)
    assert 0 < fast.scores()["aggregate"] < 1


@pytest.mark.skipif(not REAL_LABELS.is_file(), reason=f"real xView3 labels not found at {REAL_LABELS}")
def test_real_validation_labels_fed_back_score_one():
    labels = read_labels(REAL_LABELS)
    scores = score(labels.copy(), labels).scores()
    assert scores["loc_fscore"] == scores["vessel_fscore"] == scores["fishing_fscore"] == scores["length_acc"] == 1.0
    assert scores["aggregate"] == 0.8  # no shoreline files: F1_S = 0


# --- re-classing matched pairs (threshold calibration) ------------------------------------------------

def test_with_classes_equals_a_fresh_score_for_any_classes(tmp_path):
    """Crowded integer-pixel scenes (ties), class predictions drawn again and again: re-counting the
    matched pairs gives what a whole new score (fast and dense) gives."""
    rng = np.random.default_rng(5)
    labels = random_labels(rng, 3, 120, shape=(600, 600), clustered=0.7, cluster_px=6.0)
    preds = noisy_predictions(rng, labels, jitter_px=3.0)
    for scene_id in labels["scene_id"].unique():
        write_shoreline(tmp_path / f"{scene_id}_shoreline.npy", random_shoreline(rng, (600, 600), 100))
    base = score(preds, labels, tmp_path, any_classes=True)
    assert base.scores() == score(preds, labels, tmp_path).scores()
    for _ in range(6):
        is_vessel = rng.random(len(preds)) < 0.6
        is_fishing = is_vessel & (rng.random(len(preds)) < 0.5)
        again = preds.assign(is_vessel=is_vessel, is_fishing=is_fishing)
        counted = base.with_classes(is_vessel, is_fishing)
        assert counted.scores() == score(again, labels, tmp_path, matcher="dense").scores()
        assert counted.tasks() == score(again, labels, tmp_path).tasks()


def test_class_blind_ties_are_settled_officially():
    """Two predictions equidistant from one label, with the same classes: any choice scores the same
    for these classes (fast path), but not for others, so any_classes settles the tie officially."""
    labels = labels_frame(("s", 10, 5, True, True, None, 50, "HIGH"))
    preds = preds_frame(("s", 10, 0, True, False, 40), ("s", 10, 10, True, False, 40))
    assert score(preds, labels).dense_scenes == 0
    blind = score(preds, labels, any_classes=True)
    assert blind.dense_scenes == 1
    other = preds.assign(is_fishing=[True, False])
    official = score(other, labels, matcher="dense")
    assert blind.with_classes(other.is_vessel.to_numpy(), other.is_fishing.to_numpy()).scores() == official.scores()
    with pytest.raises(ValueError, match="any_classes=True"):
        score(preds, labels).with_classes(other.is_vessel.to_numpy(), other.is_fishing.to_numpy())
