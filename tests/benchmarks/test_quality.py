"""benchmarks/quality.py end to end on the smoke run: its rows, every score key, and calibration
never worse on the scenes it searched."""

import json
import subprocess
import sys

from tests.paths import REPO
from xtgeo.metrics import SCORE_KEYS


def test_quality_benchmark_runs_end_to_end(smoke_run, prepared_dataset, tmp_path):
    """Calibrated on the run's validation scene, scored on its other scene (a cheap run: no TTA row,
    which the predict tests cover)."""
    report = tmp_path / "quality.json"
    first = sorted(p.parent.name for p in prepared_dataset.glob("*/scene.tif"))[0]
    command = [sys.executable, str(REPO / "benchmarks" / "quality.py"), "--run", str(smoke_run), "--data",
               str(prepared_dataset), "--test", str(prepared_dataset), "--test-scenes", first, "--tta-views", "none",
               "--ensemble-last", "2", "--window-size", "1024", "--overlap", "0", "--device", "cpu",
               "--json", str(report)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "held-out xView3 scores" in done.stdout
    result = json.loads(report.read_text())
    assert result["test_scenes"] == [first] and first not in result["calibration_scenes"]
    rows = result["rows"]
    assert [r["row"] for r in rows] == ["config thresholds", "calibrated", "ensemble of 2, calibrated"]
    assert [(len(r["checkpoints"]), r["views"]) for r in rows] == [(1, 1), (1, 1), (2, 1)]
    assert rows[-1]["checkpoints"][0].endswith("step_000006.pt")
    for row in rows:
        assert set(row["scores"]) == set(SCORE_KEYS) and all(0 <= v <= 1 for v in row["scores"].values())
        assert row["predict_s"] > 0
    for row in rows[1:]:
        assert row["calibration_scores"]["after"] >= row["calibration_scores"]["before"]
