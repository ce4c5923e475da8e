"""Validation keeps best.pt and calibrates thresholds; the search is exact and never worse."""

from __future__ import annotations

import json

import pytest
import torch

from xtgeo.train.calibrate import BEST_METRIC
from xtgeo.train.checkpoint import best_checkpoint_path, checkpoint_path, load_checkpoint
from xtgeo.train.runlog import read_metrics


def test_validation_keeps_the_best_checkpoint_with_its_calibrated_thresholds(smoke_run):
    rows = [r for r in read_metrics(smoke_run) if BEST_METRIC in r]
    assert [r["step"] for r in rows] == [6, 12]
    for row in rows:
        ckpt = load_checkpoint(checkpoint_path(smoke_run, row["step"]))
        calibration = ckpt["calibration"]
        assert calibration["after"] == row[BEST_METRIC] >= calibration["before"] == row["val_aggregate"]
        assert all(0 < calibration["thresholds"][k] < 1 for k in ("center_threshold", "vessel_threshold",
                                                                    "fishing_threshold"))
        assert calibration["thresholds"]["center_threshold"] == row["calibrated_center_threshold"]
    winner = max(rows, key=lambda r: r[BEST_METRIC])  # the first of equals
    best = load_checkpoint(best_checkpoint_path(smoke_run))
    assert best["best"] == {"metric": BEST_METRIC, "value": winner[BEST_METRIC], "step": winner["step"]}
    assert best["step"] == winner["step"]
    same_step = load_checkpoint(checkpoint_path(smoke_run, winner["step"]))
    assert all(torch.equal(best["model"][k], same_step["model"][k]) for k in best["model"])
    assert load_checkpoint(checkpoint_path(smoke_run))["best"] == best["best"]  # last.pt knows it (resume)


@pytest.fixture(scope="module")
def val_scene(smoke_run, prepared_dataset):
    """The smoke run's validation scene, its labels, and the last checkpoint's model and config."""
    from xtgeo.predict.scene import load_model
    from xtgeo.train.calibrate import open_labelled

    scenes = open_labelled(prepared_dataset)
    model, config = load_model(checkpoint_path(smoke_run, 6))  # with the thresholds calibrated in training
    return scenes, model, config


def test_search_equals_fresh_detections_and_is_never_worse(val_scene):
    """A centre threshold filters the candidates and the class thresholds re-class them: exactly what
    peak extraction with those thresholds gives, scored from scratch."""
    from xtgeo.metrics import ScoreOptions, score
    from xtgeo.predict.inference import Predictor
    from xtgeo.predict.scene import predict_scene, scene_detections
    from xtgeo.train.calibrate import candidate_config, search_thresholds

    scenes, model, config = val_scene
    source = scenes.sources[-1]
    ids = [source.scene_id]
    labels = scenes.labels[scenes.labels.scene_id == source.scene_id]
    predicted = predict_scene(source, Predictor(model, "cpu"), candidate_config(config), window_size=1024, overlap=0,
                              keep_maps=True)
    calibration = search_thresholds(predicted.detections, labels, scenes.shore_root, config.postprocess, ids)
    assert calibration.after >= calibration.before and calibration.scenes == tuple(ids)
    options = ScoreOptions(scene_ids=tuple(ids))
    for thresholds, expected in ((config.postprocess, calibration.scores_before),
                                 (calibration.apply(config.postprocess), calibration.scores_after)):
        fresh = scene_detections(source, predicted.maps.maps, thresholds)
        assert score(fresh, labels, scenes.shore_root, options).scores() == expected
    assert calibration.after > 0  # the smoke model's weak peaks are on objects once the threshold is low
    assert calibration.apply(config.postprocess).nms_radius_px == config.postprocess.nms_radius_px


def test_calibrate_command_writes_a_new_checkpoint_that_predict_uses(smoke_run, prepared_dataset, tmp_path,
                                                                     xtgeo_cli):
    import pandas as pd

    scene_id = sorted(p.parent.name for p in prepared_dataset.glob("*/scene.tif"))[-1]
    source = checkpoint_path(smoke_run, 6)
    out, report = tmp_path / "calibrated.pt", tmp_path / "calibration.json"
    source_bytes = source.read_bytes()
    windows = ("--window-size", 1024, "--overlap", 0, "--device", "cpu")
    status, _, err = xtgeo_cli("calibrate", "--checkpoint", source, "--data", prepared_dataset, "--scenes", scene_id,
                               "--out", out, "--json", report, *windows)
    assert status == 0, err
    result = json.loads(report.read_text())
    assert set(result) >= {"before", "after", "thresholds", "scores_before", "scores_after", "scenes"}
    assert result["after"] >= result["before"] and result["scenes"] == [scene_id]
    saved, original = load_checkpoint(out), load_checkpoint(source)
    assert saved["calibration"]["thresholds"] == result["thresholds"] and source.read_bytes() == source_bytes
    assert all(torch.equal(saved["model"][k], original["model"][k]) for k in original["model"])
    # predict with the calibrated checkpoint = predict with the original and the thresholds given as flags
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in result["thresholds"].items()]
    scene = prepared_dataset / scene_id
    assert xtgeo_cli("predict", scene, "--checkpoint", out, "--out", tmp_path / "a.csv", *windows)[0] == 0
    assert xtgeo_cli("predict", scene, "--checkpoint", source, "--out", tmp_path / "b.csv", *windows, *flags)[0] == 0
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert len(a) > 0 and a.equals(b)
    # the input checkpoint is never the output
    status, _, err = xtgeo_cli("calibrate", "--checkpoint", source, "--data", prepared_dataset, "--out", source)
    assert status == 1 and "is also an input of this command" in err and err.count("\n") == 1
    status, _, err = xtgeo_cli("calibrate", "--checkpoint", source, "--data", prepared_dataset, "--scenes", "nope",
                               "--out", tmp_path / "x.pt")
    assert status == 1 and "no prepared scene nope" in err and not (tmp_path / "x.pt").exists()


def test_capped_candidates_are_searched_only_where_they_are_complete():
    """A scene cut at the candidate cap holds every peak above its weakest candidate only: the
    search tries no centre threshold below it, though lower ones would score better here."""
    import pandas as pd

    from xtgeo.config import PostprocessConfig
    from xtgeo.train.calibrate import ThresholdGrid, search_thresholds

    objects = [(100, 100), (200, 300), (300, 500)]
    labels = pd.DataFrame({"scene_id": "s", "detect_scene_row": [r for r, _ in objects],
                           "detect_scene_column": [c for _, c in objects], "is_vessel": True, "is_fishing": False,
                           "vessel_length_m": 50.0, "distance_from_shore_km": 30.0, "confidence": "HIGH"})
    false_alarms = [(600, 100), (650, 300)]
    rows, cols = zip(*(objects + false_alarms))
    candidates = pd.DataFrame({"scene_id": "s", "detect_scene_row": rows, "detect_scene_column": cols,
                               "score": [0.04, 0.04, 0.04, 0.5, 0.3], "vessel_score": 0.9, "fishing_score": 0.1,
                               "vessel_length_m": 50.0})
    start, grid = PostprocessConfig(center_threshold=0.6), ThresholdGrid(center=(0.02, 0.05, 0.2))
    free = search_thresholds(candidates, labels, None, start, ["s"], grid)
    assert free.thresholds["center_threshold"] == 0.02 and free.after > free.before and free.complete_above == 0
    capped = search_thresholds(candidates.iloc[[3, 4, 0]], labels, None, start, ["s"], grid, max_per_scene=3)
    assert capped.complete_above == pytest.approx(0.04) and capped.thresholds["center_threshold"] >= 0.04
    assert capped.after < free.after
