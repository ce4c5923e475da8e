"""``xtgeo score`` end to end: real CSV files, the rich table, JSON, per-scene CSV and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.hostile import poison_shoreline
from xtgeo.errors import LabelError
from xtgeo.metrics import SCORE_KEYS
from xtgeo.scene.shoreline import write_shoreline
from xtgeo.schema import LABEL_COLUMNS, PREDICTION_COLUMNS, SCORE_LABEL_COLUMNS, read_labels, read_predictions
from xtgeo.synth.score_tables import noisy_predictions, random_labels, random_shoreline


@pytest.fixture()
def files(tmp_path):
    """Two simulated scenes: labels.csv (score columns), pred.csv, and PREP_DIR/shoreline/."""
    rng = np.random.default_rng(5)
    labels = random_labels(rng, 2, 80, shape=(2000, 2000))
    noisy_predictions(rng, labels).to_csv(tmp_path / "pred.csv", index=False)
    labels.to_csv(tmp_path / "labels.csv", index=False)
    (tmp_path / "prep" / "shoreline").mkdir(parents=True)
    for scene_id in labels["scene_id"].unique():
        write_shoreline(tmp_path / "prep" / "shoreline" / f"{scene_id}_shoreline.npy",
                        random_shoreline(rng, (2000, 2000), 300))
    return tmp_path



def test_score_writes_json_and_per_scene(files, xtgeo_cli):
    code, out, _ = xtgeo_cli("score", files / "pred.csv", files / "labels.csv", "--shore-from", files / "prep",
                           "--json", files / "score.json", "--per-scene", files / "scenes.csv")
    assert code == 0 and "aggregate" in out and "close to shore" in out
    scores = json.loads((files / "score.json").read_text())
    assert set(SCORE_KEYS) <= set(scores) and 0 < scores["aggregate"] < 1
    assert scores["loc_fscore_shore"] > 0  # shoreline files were used
    per_scene = (files / "scenes.csv").read_text().splitlines()
    assert per_scene[0].startswith("scene_id,predictions,labels,tp,fp,fn") and len(per_scene) == 3


def test_score_options_change_the_numbers(files, xtgeo_cli):
    base = ("--json", files / "a.json")
    xtgeo_cli("score", files / "pred.csv", files / "labels.csv", *base)
    xtgeo_cli("score", files / "pred.csv", files / "labels.csv", "--json", files / "b.json", "--score-all",
            "--distance-tolerance", "100", "--scene-id", "scene0001v")
    a, b = (json.loads((files / n).read_text()) for n in ("a.json", "b.json"))
    assert a["n_scenes"] == 2 and b["n_scenes"] == 1 and b["n_dropped_low"] == 0
    assert a["loc_fscore_shore"] == 0 and a["aggregate"] != b["aggregate"]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p, g: p.drop(columns="is_vessel"), "pred.csv: missing column(s) is_vessel"),
        (lambda p, g: p.assign(is_fishing=["maybe"] + [True] * (len(p) - 1)),
         "row 1 (line 2), column is_fishing: 'maybe' is not a boolean"),
        (lambda p, g: p.assign(detect_scene_row=[np.nan] + list(p.detect_scene_row[1:])),
         "row 1 (line 2), column detect_scene_row"),
    ],
)
def test_bad_predictions_give_one_line_errors(files, xtgeo_cli, mutate, message):
    import pandas as pd

    pred = mutate(pd.read_csv(files / "pred.csv"), None)
    pred.to_csv(files / "pred.csv", index=False)
    code, out, err = xtgeo_cli("score", files / "pred.csv", files / "labels.csv", "--json", files / "s.json")
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not (files / "s.json").exists()


def test_other_bad_inputs(files, xtgeo_cli):
    (files / "empty.csv").write_text("")
    code, _, err = xtgeo_cli("score", files / "empty.csv", files / "labels.csv")
    assert code == 1 and "empty.csv: empty file" in err
    code, _, err = xtgeo_cli("score", files / "pred.csv", files / "labels.csv", "--scene-id", "nowhere")
    assert code == 1 and "unknown scene id(s) nowhere" in err
    next(iter((files / "prep" / "shoreline").glob("*.npy"))).unlink()
    code, _, err = xtgeo_cli("score", files / "pred.csv", files / "labels.csv", "--shore-root",
                             files / "prep" / "shoreline")
    assert code == 1 and "_shoreline.npy: no shoreline file for scene" in err


def test_header_only_predictions_score_zero(files, xtgeo_cli):
    (files / "none.csv").write_text(",".join(PREDICTION_COLUMNS) + "\n")
    code, _, _ = xtgeo_cli("score", files / "none.csv", files / "labels.csv", "--json", files / "z.json")
    assert code == 0 and json.loads((files / "z.json").read_text())["aggregate"] == 0


def test_read_labels_accepts_full_and_score_only_files(tmp_path):
    rng = np.random.default_rng(1)
    labels = random_labels(rng, 1, 10, shape=(500, 500))
    extra = {c: 0.0 for c in LABEL_COLUMNS if c not in labels} | {"source": "manual", "detect_id": "x"}
    full = labels.assign(**extra)
    full[list(LABEL_COLUMNS)].to_csv(tmp_path / "full.csv", index=False)
    labels.to_csv(tmp_path / "score.csv", index=False)
    for name in ("full.csv", "score.csv"):
        read = read_labels(tmp_path / name)
        assert set(SCORE_LABEL_COLUMNS) <= set(read.columns) and len(read) == 10
        assert read["is_vessel"].dtype == "boolean" and read["detect_scene_row"].dtype.kind == "i"
    labels.drop(columns="confidence").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(LabelError, match="bad.csv: missing column"):
        read_labels(tmp_path / "bad.csv")
    labels.assign(confidence="SURE").to_csv(tmp_path / "conf.csv", index=False)
    with pytest.raises(LabelError, match="column confidence: 'SURE'"):
        read_labels(tmp_path / "conf.csv")
    labels.drop(columns="scene_id").to_csv(tmp_path / "noscene.csv", index=False)
    with pytest.raises(LabelError, match="noscene.csv: missing column.*scene_id"):
        read_predictions(tmp_path / "noscene.csv")


def test_a_poisoned_shoreline_cannot_run_code(files, xtgeo_cli, tmp_path):
    marker = tmp_path / "marker"
    labels = read_labels(files / "labels.csv")
    scene_id = labels["scene_id"].iloc[0]
    poisoned = poison_shoreline(files / "prep" / "shoreline" / f"{scene_id}_shoreline.npy", marker)
    code, _, err = xtgeo_cli("score", files / "pred.csv", files / "labels.csv",
                             "--shore-root", files / "prep" / "shoreline")
    assert code == 1 and not marker.exists()
    assert err == (f"error: {poisoned}: not an official shoreline file "
                   f"(refused to load posix.system (only numpy arrays may be in it))\n")


def test_fast_csv_parse_gives_the_text_paths_table_and_errors(tmp_path):
    """Plainly valid files take pandas' number parser; the result must equal the careful text path,
    and any cell the fast path cannot take (odd blank spelling, not a number) the text path's error."""
    import pandas as pd

    from xtgeo.schema import _read_csv_text, _read_csv_typed, validate_table

    header = ("detect_scene_row,detect_scene_column,scene_id,is_vessel,is_fishing,vessel_length_m,"
              "distance_from_shore_km,confidence\n")
    rows = ["12,40, s1 ,TRUE,0,NaN,1.5,HIGH", "13,41.5,s1,,false,,2,LOW", "1e3,7,s2,1,1.0,N/A,-0.25,MEDIUM",
            "5,5,s2,True,False,null,none,HIGH", "6,6,s3,false,true,12.25,NULL,LOW"]
    (tmp_path / "ok.csv").write_text(header + "\n".join(rows) + "\n")
    assert _read_csv_typed(tmp_path / "ok.csv") is not None  # the fast path takes this file
    fast = read_labels(tmp_path / "ok.csv")
    careful = validate_table(_read_csv_text(tmp_path / "ok.csv"), SCORE_LABEL_COLUMNS, "ok.csv")
    pd.testing.assert_frame_equal(fast, careful, check_exact=True)
    assert fast["scene_id"].tolist() == ["s1", "s1", "s2", "s2", "s3"] and fast["vessel_length_m"].isna().sum() == 4
    for bad, message in [("7,8,s1,1,0,nAn,1,HIGH", None),  # odd blank spelling: still blank, via text path
                         ("7,8,s1,1,0,ten,1,HIGH", "column vessel_length_m: 'ten' is not a number"),
                         ("7, ,s1,1,0,3,1,HIGH", "column detect_scene_column: '' is blank")]:
        (tmp_path / "bad.csv").write_text(header + "\n".join(rows + [bad]) + "\n")
        assert _read_csv_typed(tmp_path / "bad.csv") is None
        if message is None:
            assert read_labels(tmp_path / "bad.csv")["vessel_length_m"].isna().sum() == 5
        else:
            with pytest.raises(LabelError, match=f"row 6 \\(line 7\\), {message}"):
                read_labels(tmp_path / "bad.csv")
