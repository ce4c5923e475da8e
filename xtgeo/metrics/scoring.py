"""The xView3 score: scene selection, drop-low, matching, close-to-shore, classes, length, aggregate.

Semantics follow the official scorer (DIUx-xView ``xview3-reference``, ``metric.py``) run as on the
leaderboard (200 m, 2 km, drop-low, costly distances); every quirk is kept, see :func:`score`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from xtgeo.errors import ConfigError, SceneError
from xtgeo.metrics.dense import PIXEL_SIZE_M, Matches, match_dense, near_shore_dense_scenes
from xtgeo.metrics.matching import candidate_pairs, match_fast, near_shore_scenes
from xtgeo.scene.shoreline import read_shoreline, shoreline_file

#: Official cap on lengths before the relative error (the longest vessel is 458 m).
MAX_OBJECT_LENGTH_M = 500.0
#: The official score names, in the order they are reported.
SCORE_KEYS = ("loc_fscore", "loc_fscore_shore", "vessel_fscore", "fishing_fscore", "length_acc", "aggregate")


@dataclass(frozen=True)
class ScoreOptions:
    """Scorer settings; the defaults are the official leaderboard invocation."""

    distance_tolerance: float = 200.0  # metres; a true positive is strictly closer
    shore_tolerance: float = 2.0  # km; 0 switches the close-to-shore score off
    score_all: bool = False  # keep LOW labels (and do not drop predictions)
    drop_low: bool = True  # drop predictions matched to LOW labels
    costly_dist: bool = True  # distances above the tolerance cost 9,999,999 × 10
    scene_ids: tuple[str, ...] | None = None  # score only these scenes

    def __post_init__(self) -> None:
        if not (math.isfinite(self.distance_tolerance) and self.distance_tolerance > 0):
            raise ConfigError(f"distance tolerance {self.distance_tolerance} m: must be a positive, finite "
                              f"distance")
        if not (math.isfinite(self.shore_tolerance) and self.shore_tolerance >= 0):
            raise ConfigError(f"shore tolerance {self.shore_tolerance} km: must be 0 (off) or a positive, finite "
                              f"distance")


@dataclass(frozen=True)
class Task:
    """Pooled counts of one task and its precision, recall and F1 (0 when undefined)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def prf(self) -> tuple[float, float, float]:
        """Precision, recall, F1 with the official arithmetic (0 where a division is by zero)."""
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0
        fscore = (2 * precision * recall) / (precision + recall) if precision + recall else 0
        return precision, recall, fscore


@dataclass
class ScoreResult:
    """The six official scores, the pooled counts behind them and a per-scene breakdown."""

    loc: Task
    shore: Task
    vessel: Task
    fishing: Task
    length_acc: float
    length_pairs: int
    shore_scored: bool
    n_scenes: int
    n_predictions: int
    n_labels: int
    n_dropped_low: int
    n_ignored_predictions: int
    dense_scenes: int  # scene passes (drop-low, main, shore) solved densely because of a tie

    per_scene: pd.DataFrame = field(repr=False)
    #: The matched pairs' prediction rows and label classes (``score(..., any_classes=True)`` only).
    matched: MatchedClasses | None = field(default=None, repr=False)

    @property
    def aggregate(self) -> float:
        """``F1_D · (1 + length_acc + F1_V + F1_F + F1_S) / 5`` (official order of operations)."""
        total = 1 + self.length_acc + self.vessel.prf[2] + self.fishing.prf[2] + self.shore.prf[2]
        return self.loc.prf[2] * total / 5

    def scores(self) -> dict[str, float]:
        """The official score dictionary."""
        return {
            "loc_fscore": self.loc.prf[2],
            "loc_fscore_shore": self.shore.prf[2],
            "vessel_fscore": self.vessel.prf[2],
            "fishing_fscore": self.fishing.prf[2],
            "length_acc": self.length_acc,
            "aggregate": self.aggregate,
        }

    def with_classes(self, is_vessel: np.ndarray, is_fishing: np.ndarray) -> ScoreResult:
        """The same matches scored with other class predictions (one value per prediction row).

        Exact: which predictions match which labels does not depend on the classes, and a result
        of ``score(..., any_classes=True)`` holds the official matching for any classes.
        """
        if self.matched is None:
            raise ValueError("with_classes needs a result of score(..., any_classes=True)")
        rows = self.matched.prediction
        vessel, fishing = self.matched.tasks(np.asarray(is_vessel, dtype=np.float64)[rows],
                                             np.asarray(is_fishing, dtype=np.float64)[rows])
        return dataclasses.replace(self, vessel=vessel, fishing=fishing)

    def to_json_dict(self) -> dict:
        """Official scores plus precision/recall per task, counts and sizes (for ``--json``).

        A score may be NaN (a matched prediction without a length makes ``length_acc`` and the
        aggregate NaN, as in the official scorer); :func:`xtgeo.atomic.write_json` writes it as ``null``.
        """
        out: dict = dict(self.scores())
        for name, task in self.tasks().items():
            out[f"{name}_precision"], out[f"{name}_recall"], _ = task.prf
        out["counts"] = {name: asdict(task) for name, task in self.tasks().items()}
        out["counts"]["length_pairs"] = self.length_pairs
        for key in ("shore_scored", "n_scenes", "n_predictions", "n_labels", "n_dropped_low",
                    "n_ignored_predictions"):
            out[key] = getattr(self, key)
        return out

    def tasks(self) -> dict[str, Task]:
        """The four counted tasks by their official name stem."""
        return {"loc": self.loc, "loc_shore": self.shore, "vessel": self.vessel, "fishing": self.fishing}


@dataclass(frozen=True)
class MatchedClasses:
    """The matched pairs of a score: each pair's prediction row (position) and label classes (1/0/NaN)."""

    prediction: np.ndarray
    label_is_vessel: np.ndarray
    label_is_fishing: np.ndarray

    def tasks(self, is_vessel: np.ndarray, is_fishing: np.ndarray) -> tuple[Task, Task]:
        """The vessel and fishing tasks of the pairs, given their predictions' classes (1/0/NaN)."""
        return (_class_task(_class_outcome(is_vessel, self.label_is_vessel)),
                _class_task(_fishing_outcome(is_fishing, self.label_is_vessel, self.label_is_fishing)))


@dataclass(frozen=True)
class _Table:
    """The columns the metric reads, as arrays (classes: 1.0 true, 0.0 false, NaN unknown)."""

    scene: np.ndarray
    rc: np.ndarray
    is_vessel: np.ndarray
    is_fishing: np.ndarray
    length: np.ndarray
    shore_km: np.ndarray | None = None
    confidence: np.ndarray | None = None

    @classmethod
    def of(cls, frame: pd.DataFrame, scene: np.ndarray, labels: bool) -> _Table:
        return cls(
            scene=scene,
            rc=frame[["detect_scene_row", "detect_scene_column"]].to_numpy(dtype=np.float64),
            is_vessel=_class_values(frame["is_vessel"]),
            is_fishing=_class_values(frame["is_fishing"]),
            length=pd.to_numeric(frame["vessel_length_m"]).to_numpy(dtype=np.float64),
            shore_km=frame["distance_from_shore_km"].to_numpy(dtype=np.float64) if labels else None,
            confidence=frame["confidence"].astype(str).to_numpy(dtype=object) if labels else None,
        )


def _tables(predictions: pd.DataFrame, labels: pd.DataFrame) -> tuple[_Table, _Table, np.ndarray]:
    """Both tables with scene ids as integer codes, and the scene names by code."""
    scene_ids = pd.concat([predictions["scene_id"], labels["scene_id"]], ignore_index=True).astype(str)
    codes, names = pd.factorize(scene_ids)
    n = len(predictions)
    return (_Table.of(predictions, codes[:n], labels=False), _Table.of(labels, codes[n:], labels=True),
            np.asarray(names, dtype=object))


def _class_values(values: pd.Series) -> np.ndarray:
    """True/False/missing (bool, 0/1, nullable) as 1.0/0.0/NaN."""
    return values.astype("boolean").astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def score(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    shore_root: str | os.PathLike | None = None,
    options: ScoreOptions | None = None,
    matcher: str = "fast",
    any_classes: bool = False,
) -> ScoreResult:
    """Score predictions against labels exactly as the official xView3 scorer.

    Official behaviour kept: only label scenes present in the predictions are scored (or
    ``options.scene_ids``); drop-low matches predictions to all labels of the scene and deletes those
    matched within tolerance to a LOW label, then only HIGH/MEDIUM labels stay; a scene whose kept
    labels are none is not scored (its predictions are not false positives); close to shore uses
    labels with ``distance_from_shore_km <= shore_tolerance`` and predictions within
    ``shore_tolerance + tolerance`` of a shoreline contour point (distance 0 not counting), only in
    scenes having both, and is 0 without ``shore_root``. Where the official code would crash (a
    scene left without predictions) its labels are false negatives. ``matcher`` is ``"fast"``
    (:mod:`xtgeo.metrics.matching`) or ``"dense"`` (:mod:`xtgeo.metrics.dense`); both give the same.
    ``any_classes`` keeps the matched pairs in the result (:meth:`ScoreResult.with_classes`) and
    makes the fast matcher's tie test class-blind: ties that differ in which prediction matches a
    label are settled officially even when the given classes would not tell them apart.
    """
    options = options or ScoreOptions()
    match, shore_test = {"fast": (match_fast, near_shore_scenes),
                         "dense": (_match_dense, near_shore_dense_scenes)}[matcher]
    pred, gt, names = _tables(predictions, labels)
    tol = options.distance_tolerance
    # Rows stay in place (file order); leaving the score is a False in these masks.
    if options.scene_ids is not None:
        unknown = sorted(set(options.scene_ids) - set(names[np.unique(gt.scene)]))
        if unknown:
            raise ConfigError(f"scene id(s) not in the labels: {', '.join(unknown)}")
        chosen = np.isin(names, options.scene_ids)
        pred_on, gt_on = chosen[pred.scene], chosen[gt.scene]
    else:
        pred_on, gt_on = np.ones(len(pred.scene), dtype=bool), _present(pred.scene, len(names))[gt.scene]
    candidates = candidate_pairs(pred.rc, np.where(pred_on, pred.scene, -1), gt.rc, np.where(gt_on, gt.scene, -1), tol)

    def run(pred_on: np.ndarray, gt_on: np.ndarray, effect) -> tuple[Matches, np.ndarray, np.ndarray, np.ndarray]:
        scenes, pred_group, gt_group = _groups(pred.scene, pred_on, gt.scene, gt_on, len(names))
        pairs = match(pred.rc, pred_group, gt.rc, gt_group, len(scenes), tol, options.costly_dist,
                      effect=effect, candidates=candidates)
        return pairs, scenes, pred_group, gt_group

    n_dropped, dense_passes = 0, 0
    if not options.score_all:
        if options.drop_low:
            low = gt.confidence == "LOW"
            pairs, *_ = run(pred_on, gt_on, lambda p, g, d: np.where((d < tol) & low[g], p + 1, 0))
            dropped = pairs.pred[low[pairs.gt]]
            dense_passes += pairs.dense_scenes
            n_dropped = len(dropped)
            pred_on = pred_on.copy()
            pred_on[dropped] = False
        gt_on = gt_on & np.isin(gt.confidence, ("HIGH", "MEDIUM"))

    pairs, scenes, pred_group, gt_group = run(pred_on, gt_on, _main_effect(pred, gt, tol, any_classes))
    dense_passes += pairs.dense_scenes
    n_scored = int((pred_group >= 0).sum())
    loc = Task(tp=len(pairs.pred), fp=n_scored - len(pairs.pred), fn=int(gt_on.sum()) - len(pairs.pred))

    shore_scored, shore, shore_scene = False, Task(), None
    if options.shore_tolerance and shore_root is not None:
        near_pred = _near_shore_predictions(pred, pred_group, names[scenes], shore_root, options, shore_test)
        near_gt = gt_on & (gt.shore_km <= options.shore_tolerance)
        # a scene counts only with both near-shore labels and near-shore predictions
        both = _present(pred.scene[near_pred], len(names)) & _present(gt.scene[near_gt], len(names))
        shore_pairs, _, p_group, g_group = run(near_pred & both[pred.scene], near_gt & both[gt.scene],
                                               lambda p, g, d: d < tol)
        dense_passes += shore_pairs.dense_scenes
        n_pred, n_gt = int((p_group >= 0).sum()), int((g_group >= 0).sum())
        shore_scored = bool((near_gt & _present(pred.scene[pred_on], len(names))[gt.scene]).any())
        if shore_scored:
            shore = Task(tp=len(shore_pairs.pred), fp=n_pred - len(shore_pairs.pred), fn=n_gt - len(shore_pairs.pred))
        to_main = np.full(len(names) + 1, -1)
        to_main[scenes] = np.arange(len(scenes))
        shore_scene = (to_main[pred.scene[shore_pairs.pred]], to_main[pred.scene[p_group >= 0]],
                       to_main[gt.scene[g_group >= 0]])

    matched = MatchedClasses(pairs.pred, gt.is_vessel[pairs.gt], gt.is_fishing[pairs.gt])
    vessel, fishing = matched.tasks(pred.is_vessel[pairs.pred], pred.is_fishing[pairs.pred])
    length_acc, length_pairs = _length_accuracy(pred.length[pairs.pred], gt.length[pairs.gt])
    per_scene = _per_scene(names[scenes], pred_group, gt_group, pairs, shore_scene)
    return ScoreResult(
        loc=loc, shore=shore, vessel=vessel, fishing=fishing, length_acc=length_acc,
        length_pairs=length_pairs, shore_scored=shore_scored, n_scenes=len(scenes),
        n_predictions=n_scored, n_labels=int(gt_on.sum()), n_dropped_low=n_dropped,
        n_ignored_predictions=len(pred.scene) - n_dropped - n_scored,
        dense_scenes=dense_passes, per_scene=per_scene,
        matched=matched if any_classes else None,
    )


def _match_dense(*args, effect=None, candidates=None) -> Matches:
    """The dense reference needs neither effect codes (its choice among ties is the official one)
    nor candidate pairs."""
    return match_dense(*args)


def _present(scene: np.ndarray, n_names: int) -> np.ndarray:
    """Per scene code (plus a trailing False): whether any row has it."""
    present = np.zeros(n_names + 1, dtype=bool)
    present[scene] = True
    return present


def _groups(
    pred_scene: np.ndarray, pred_on: np.ndarray, gt_scene: np.ndarray, gt_on: np.ndarray, n_names: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scored scenes (codes of the active labels' scenes, in order of first appearance) and every
    row's scene number in that order (-1: not scored), as the official per-scene loop sees them."""
    codes, first = np.unique(gt_scene[gt_on], return_index=True)
    scenes = codes[np.argsort(first)]
    number = np.full(n_names + 1, -1)
    number[scenes] = np.arange(len(scenes))
    return scenes, np.where(pred_on, number[pred_scene], -1), np.where(gt_on, number[gt_scene], -1)


def _near_shore_predictions(pred, pred_group, scenes, shore_root, options, shore_test) -> np.ndarray:
    """Predictions of scored scenes within shore + distance tolerance of a contour (official radius)."""
    radius_px = (options.shore_tolerance + options.distance_tolerance / 1000) * 1000 / PIXEL_SIZE_M
    shorelines = []
    for scene_id in scenes:
        path = shoreline_file(shore_root, scene_id)
        if not path.is_file():
            raise SceneError(f"{path}: no shoreline file for scene {scene_id}")
        shorelines.append(read_shoreline(path))
    return shore_test(pred.rc, pred_group, shorelines, radius_px)


#: Outcome codes of a matched pair for a class task.
SKIP, TRUE_POS, TRUE_NEG, FALSE_POS, FALSE_NEG = range(5)


def _class_outcome(pred_value: np.ndarray, gt_value: np.ndarray) -> np.ndarray:
    """Official outcome per matched pair: skipped when the label is unknown, and a missing
    prediction never equals a label."""
    hit = pred_value == gt_value
    truth = gt_value == 1
    outcome = np.where(hit, np.where(truth, TRUE_POS, TRUE_NEG), np.where(truth, FALSE_NEG, FALSE_POS))
    return np.where(np.isnan(gt_value), SKIP, outcome)


def _class_task(outcome: np.ndarray) -> Task:
    counts = np.bincount(outcome, minlength=5)
    return Task(tp=int(counts[TRUE_POS]), fp=int(counts[FALSE_POS]), fn=int(counts[FALSE_NEG]),
                tn=int(counts[TRUE_NEG]))


def _fishing_outcome(pred_fishing: np.ndarray, gt_vessel: np.ndarray, gt_fishing: np.ndarray) -> np.ndarray:
    """Fishing outcome of matched pairs, counted only where the label is a vessel."""
    return np.where(gt_vessel == 1, _class_outcome(pred_fishing, gt_fishing), SKIP)


def _main_effect(pred: _Table, gt: _Table, tolerance_m: float, any_classes: bool = False):
    """Effect of a candidate pair on the final scores: class outcomes and the length term with its
    place in the sum (the prediction), or nothing when it does not score. With ``any_classes`` the
    class outcomes are replaced by what decides them under any class predictions: the prediction
    and the label's classes."""
    def effect(p: np.ndarray, g: np.ndarray, dist: np.ndarray) -> np.ndarray:
        known = ~np.isnan(gt.length[g])
        with np.errstate(divide="ignore", invalid="ignore"):
            error = _length_error(pred.length[p], gt.length[g])
        if any_classes:
            classes = [p, *(np.nan_to_num(v[g], nan=2).astype(np.int64) for v in (gt.is_vessel, gt.is_fishing))]
        else:
            classes = [_class_outcome(pred.is_vessel[p], gt.is_vessel[g]),
                       _fishing_outcome(pred.is_fishing[p], gt.is_vessel[g], gt.is_fishing[g])]
        key = np.column_stack([
            dist < tolerance_m,
            *classes,
            np.where(known, p, -1),
            np.where(known, error, 0.0).view(np.int64),
        ])
        key[key[:, 0] == 0] = 0
        return np.unique(key, axis=0, return_inverse=True)[1].ravel()
    return effect


def _length_error(pred_length: np.ndarray, gt_length: np.ndarray) -> np.ndarray:
    """Official relative length error with both lengths capped at 500 m."""
    capped_gt = np.minimum(gt_length, MAX_OBJECT_LENGTH_M)
    return np.abs(np.minimum(pred_length, MAX_OBJECT_LENGTH_M) - capped_gt) / capped_gt


def _length_accuracy(pred_length: np.ndarray, gt_length: np.ndarray) -> tuple[float, int]:
    """``1 − min(mean relative error of lengths capped at 500 m, 1)``; 0 without a known length.

    Summed left to right in pair order, as the official loop does, so the float is the same.
    """
    known = ~np.isnan(gt_length)
    if not known.any():
        return 0, 0
    with np.errstate(divide="ignore", invalid="ignore"):
        error = float(np.cumsum(_length_error(pred_length[known], gt_length[known]))[-1])
    mean = error / float(known.sum())
    return 1.0 - min(mean, 1.0), int(known.sum())


def _per_scene(scenes, pred_group, gt_group, pairs: Matches, shore_scene) -> pd.DataFrame:
    """Detection counts and F1 per scored scene, plus close-to-shore counts when scored."""
    def count(groups: np.ndarray) -> np.ndarray:
        return np.bincount(groups[groups >= 0], minlength=len(scenes))

    table = pd.DataFrame({"scene_id": scenes, "predictions": count(pred_group), "labels": count(gt_group)})
    table["tp"] = count(pred_group[pairs.pred])
    table["fp"] = table["predictions"] - table["tp"]
    table["fn"] = table["labels"] - table["tp"]
    if shore_scene is not None:
        tp_groups, p_groups, g_groups = shore_scene
        table["shore_tp"] = count(tp_groups)
        table["shore_fp"] = count(p_groups) - table["shore_tp"]
        table["shore_fn"] = count(g_groups) - table["shore_tp"]
    f1 = [Task(int(r.tp), int(r.fp), int(r.fn)).prf[2] for r in table.itertuples()]
    table["f1"] = np.asarray(f1, dtype=np.float64)
    return table
