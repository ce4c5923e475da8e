"""Threshold calibration: the centre, vessel and fishing thresholds that maximise the xView3 aggregate.

The search re-uses one prediction per scene. Its *candidates* are the detections found at the
lowest centre threshold searched (:func:`candidate_config`); the detections at a higher threshold
are exactly the candidates that score above it (a peak is the maximum of its window whatever the
threshold, and peaks of equal height are thinned alike), so each centre threshold is a filter and
one :func:`~xtgeo.metrics.score`. The vessel and fishing thresholds only change the classes of the
detections, not which of them match labels, so each pair of them is a re-count of the matched pairs
(:meth:`~xtgeo.metrics.ScoreResult.with_classes`), not a new match. The starting thresholds are
tried first and replaced only by strictly better ones: on the scenes searched, the aggregate after
is never below the aggregate before.

A calibration is stored in a checkpoint as ``ckpt["calibration"]`` (:meth:`Calibration.to_dict`);
:func:`xtgeo.predict.scene.load_model` applies its thresholds over the config's ``postprocess``
section (:func:`xtgeo.train.checkpoint.calibrated_thresholds`), and thresholds given on the
command line apply over both.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xtgeo.config import Config, PostprocessConfig
from xtgeo.errors import ConfigError, SceneError
from xtgeo.metrics import ScoreOptions, score
from xtgeo.predict.detections import concat_frames
from xtgeo.predict.inference import Predictor
from xtgeo.predict.postprocess import above_threshold, decide
from xtgeo.predict.scene import PredictOptions, default_readers, predict_scene
from xtgeo.predict.sources import SceneSource, open_prepared_scene
from xtgeo.scene import prepared
from xtgeo.tasks.xview3 import HEADS, PEAK_HEAD
from xtgeo.train.checkpoint import THRESHOLD_KEYS

#: The validation metric (a ``metrics.jsonl`` key) that picks ``best.pt``.
BEST_METRIC = "val_calibrated_aggregate"
#: Candidates kept per scene, the strongest. A weak model (early in training) can have millions of
#: peaks above 0.01 in a full scene; with the cap, a scene's search starts at its weakest candidate.
MAX_CANDIDATES_PER_SCENE = 20_000


def _steps(low: float, high: float, step: float) -> tuple[float, ...]:
    return tuple(round(float(v), 4) for v in np.arange(low, high + step / 2, step))


@dataclass(frozen=True)
class ThresholdGrid:
    """The threshold values searched (the starting thresholds are always tried too).

    Centre thresholds start low (0.01): a short or focal-loss-trained model's peaks can be weak
    and well placed; the candidates are then found once at 0.01.
    """

    center: tuple[float, ...] = (0.01, 0.02, 0.03, 0.05, 0.075, *_steps(0.1, 0.9, 0.05))
    vessel: tuple[float, ...] = _steps(0.05, 0.95, 0.05)
    fishing: tuple[float, ...] = _steps(0.05, 0.95, 0.05)

    def lowest_center(self, start: PostprocessConfig) -> float:
        """The centre threshold the candidates must be found at."""
        return min((*self.center, start.center_threshold))


@dataclass(frozen=True)
class Calibration:
    """The chosen thresholds and the scores before (starting thresholds) and after, on ``scenes``."""

    thresholds: dict[str, float]
    scores_before: dict[str, float]
    scores_after: dict[str, float]
    scenes: tuple[str, ...]
    #: The lowest centre threshold tried because candidates were capped (0: none were).
    complete_above: float = 0.0

    @property
    def before(self) -> float:
        return self.scores_before["aggregate"]

    @property
    def after(self) -> float:
        return self.scores_after["aggregate"]

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON and ``weights_only`` checkpoints): ``before``, ``after``, ``thresholds``, ..."""
        return {"before": self.before, "after": self.after, "thresholds": dict(self.thresholds),
                "scores_before": dict(self.scores_before), "scores_after": dict(self.scores_after),
                "scenes": list(self.scenes), "complete_above": self.complete_above}

    def apply(self, postprocess: PostprocessConfig) -> PostprocessConfig:
        """``postprocess`` with the calibrated thresholds."""
        return dataclasses.replace(postprocess, **self.thresholds)


@dataclass(frozen=True)
class LabelledScenes:
    """Prepared scenes with their labels (``PREP_DIR/labels.parquet``) and shoreline folder."""

    sources: list[SceneSource]
    labels: pd.DataFrame
    shore_root: Path

    @property
    def scene_ids(self) -> list[str]:
        return [s.scene_id for s in self.sources]


def open_labelled(prep_dir: str | os.PathLike, scene_ids: Sequence[str] | None = None) -> LabelledScenes:
    """The scenes of ``prep_dir`` that have labels (or ``scene_ids``, each of which must), sorted by id."""
    prep_dir = Path(prep_dir)
    labels_path = prep_dir / prepared.LABELS_FILE
    if not labels_path.is_file():
        raise SceneError(f"{labels_path}: missing; calibration needs labelled scenes (preprocess with --labels)")
    labels = pd.read_parquet(labels_path)
    labels["scene_id"] = labels["scene_id"].astype(str)
    labelled = set(labels["scene_id"])
    present = {p.parent.name for p in prep_dir.glob(f"*/{prepared.SCENE_FILE}")}
    wanted = sorted(set(scene_ids)) if scene_ids else sorted(labelled & present)
    missing = [s for s in wanted if s not in present]
    if missing:
        raise ConfigError(f"{prep_dir}: no prepared scene {', '.join(missing)}")
    unlabelled = [s for s in wanted if s not in labelled]
    if unlabelled:
        raise ConfigError(f"{labels_path}: no labels for scene {', '.join(unlabelled)}")
    if not wanted:
        raise SceneError(f"{prep_dir}: no prepared scene has labels in {labels_path.name}")
    sources = [open_prepared_scene(prepared.scene_dir(prep_dir, s)) for s in wanted]
    return LabelledScenes(sources, labels[labels["scene_id"].isin(wanted)].reset_index(drop=True),
                          prep_dir / prepared.SHORELINE_DIR)


def candidate_config(config: Config, grid: ThresholdGrid = ThresholdGrid()) -> Config:
    """``config`` with the centre threshold lowered to the grid's lowest, to predict the candidates."""
    lowest = grid.lowest_center(config.postprocess)
    return dataclasses.replace(config, postprocess=dataclasses.replace(config.postprocess, center_threshold=lowest))


def predict_candidates(
    sources: Sequence[SceneSource],
    predictor: Predictor,
    config: Config,
    options: PredictOptions = PredictOptions(),
    grid: ThresholdGrid = ThresholdGrid(),
    on_windows: Callable[[int], Any] | None = None,
) -> pd.DataFrame:
    """Every scene's detections at the grid's lowest centre threshold, at most the strongest
    :data:`MAX_CANDIDATES_PER_SCENE` (the candidates of a search); ``options`` gives the windows and
    readers, ``on_windows(n)`` is called as windows are done."""
    low = candidate_config(config, grid)
    readers = options.readers or default_readers([predictor.device])
    return concat_frames([
        predict_scene(source, predictor, low, window_size=options.window_size, overlap=options.overlap,
                      readers=readers, max_detections=MAX_CANDIDATES_PER_SCENE, on_windows=on_windows).detections
        for source in sources
    ])


def complete_above(candidates: pd.DataFrame, max_per_scene: int = MAX_CANDIDATES_PER_SCENE) -> float:
    """The lowest centre threshold at which the candidates are every detection predict would find:
    the weakest candidate of the scenes cut at ``max_per_scene`` (0 when none was cut)."""
    scores = candidates.groupby("scene_id")[PEAK_HEAD.score_column].agg(["size", "min"])
    cut = scores[scores["size"] >= max_per_scene]
    return float(cut["min"].max()) if len(cut) else 0.0


def _class_scores(candidates: pd.DataFrame) -> dict[str, np.ndarray]:
    """The candidates' probabilities of the ``threshold`` heads, by head name."""
    return {h.name: candidates[h.score_column].to_numpy() for h in HEADS if h.decoding == "threshold"}


def _classes(candidates: pd.DataFrame, thresholds: PostprocessConfig) -> dict[str, np.ndarray]:
    """The class columns (``is_vessel``, ``is_fishing``) predict gives the candidates with ``thresholds``."""
    decided = decide(_class_scores(candidates), thresholds)
    return {h.label_column: decided[h.name] for h in HEADS if h.decoding == "threshold"}


def with_thresholds(candidates: pd.DataFrame, thresholds: PostprocessConfig) -> pd.DataFrame:
    """The candidates that predict with ``thresholds`` finds, classed as it classes them."""
    kept = candidates[above_threshold(candidates[PEAK_HEAD.score_column].to_numpy(),
                                      getattr(thresholds, PEAK_HEAD.threshold_key))]
    return kept.assign(**_classes(kept, thresholds))


def search_thresholds(
    candidates: pd.DataFrame,
    labels: pd.DataFrame,
    shore_root: str | os.PathLike | None,
    start: PostprocessConfig,
    scene_ids: Sequence[str],
    grid: ThresholdGrid = ThresholdGrid(),
    max_per_scene: int = MAX_CANDIDATES_PER_SCENE,
) -> Calibration:
    """The thresholds of ``grid`` (and ``start``) with the best aggregate on ``scene_ids``.

    ``candidates`` are predict's detections of those scenes at ``grid.lowest_center(start)`` or
    below (columns ``score``, ``vessel_score``, ``fishing_score`` and the submission columns),
    as :func:`predict_candidates` gives them (at most ``max_per_scene`` per scene, the strongest):
    centre thresholds below :func:`complete_above` are
    not tried (and the starting one, when it is below, is scored on the candidates as they are);
    ``labels`` and ``shore_root`` are scored as by ``xtgeo score`` (official options).
    """
    options = ScoreOptions(scene_ids=tuple(scene_ids))
    floor = complete_above(candidates, max_per_scene)
    class_thresholds = [(start.vessel_threshold, start.fishing_threshold),
                        *((v, f) for v in grid.vessel for f in grid.fishing)]
    before: dict[str, float] | None = None
    best_aggregate, best, after = -1.0, start, {}
    for center in (start.center_threshold, *(c for c in grid.center if c >= floor)):
        kept = with_thresholds(candidates, dataclasses.replace(start, center_threshold=center))
        matched = score(kept, labels, shore_root, options, any_classes=True)
        for vessel, fishing in class_thresholds:
            thresholds = dataclasses.replace(start, center_threshold=center, vessel_threshold=vessel,
                                             fishing_threshold=fishing)
            classes = _classes(kept, thresholds)
            result = matched.with_classes(classes["is_vessel"], classes["is_fishing"])
            if before is None:  # the starting thresholds come first
                before = result.scores()
            if result.aggregate > best_aggregate:
                best_aggregate, best, after = result.aggregate, thresholds, result.scores()
    assert before is not None
    return Calibration({key: float(getattr(best, key)) for key in THRESHOLD_KEYS}, before, after, tuple(scene_ids),
                       floor)


def validation_scores(calibration: Calibration) -> dict[str, float]:
    """A validation row's score keys: ``val_<key>`` at the config's thresholds, ``val_calibrated_<key>``
    at the calibrated ones, and the calibrated thresholds as ``calibrated_<threshold>``."""
    return {**{f"val_{key}": value for key, value in calibration.scores_before.items()},
            **{f"val_calibrated_{key}": value for key, value in calibration.scores_after.items()},
            **{f"calibrated_{key}": value for key, value in calibration.thresholds.items()}}
