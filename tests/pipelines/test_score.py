"""``xtgeo score`` end to end: real CSV files, the rich table, JSON, per-scene CSV and clear errors."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from tests.hostile import poison_shoreline, run_on_small_disk, xtgeo_command
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


def _first(column: str, text: str):
    """A change to a table: ``text`` in ``column`` of its first row."""
    return lambda table, _: table.assign(**{column: [text] + table[column].astype(str).tolist()[1:]})


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p, g: p.drop(columns="is_vessel"), "pred.csv: missing column(s) is_vessel"),
        (lambda p, g: p.assign(is_fishing=["maybe"] + [True] * (len(p) - 1)),
         "row 1 (line 2), column is_fishing: 'maybe' is not a boolean"),
        (lambda p, g: p.assign(detect_scene_row=[np.nan] + list(p.detect_scene_row[1:])),
         "row 1 (line 2), column detect_scene_row"),
        (_first("detect_scene_row", "inf"), "row 1 (line 2), column detect_scene_row: 'inf' is not a finite number"),
        (_first("detect_scene_column", "-inf"), "column detect_scene_column: '-inf' is not a finite number"),
        (_first("detect_scene_column", "1e308"), "column detect_scene_column: '1e308' is out of range (must be from 0"),
        (_first("detect_scene_row", "-3"), "column detect_scene_row: '-3' is out of range (must be from 0 to 100000)"),
        (_first("vessel_length_m", "-20"), "column vessel_length_m: '-20' is out of range (must be at least 0)"),
        (_first("vessel_length_m", "Infinity"), "column vessel_length_m: 'Infinity' is not a finite number"),
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
    from xtgeo.schema import _read_csv_text, _read_csv_typed, validate_table

    header = ("detect_scene_row,detect_scene_column,scene_id,is_vessel,is_fishing,vessel_length_m,"
              "distance_from_shore_km,confidence\n")
    rows = ["12,40, s1 ,TRUE,0,NaN,1.5,HIGH", "13,41.5,s1,,false,,2,LOW", "1e3,7,s2,1,1.0,N/A,0.25,MEDIUM",
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


@pytest.mark.parametrize(
    ("column", "bad"),
    [("is_vessel", "maybe"), ("is_fishing", " yes "), ("confidence", "low"), ("scene_id", "a/b"), ("scene_id", "..")],
)
def test_text_columns_checked_per_distinct_value_name_the_same_row(tmp_path, column, bad):
    """The fast path checks each distinct text value once (categorical columns): a bad value must
    give the text path's error, naming its first row and counting the others."""
    from xtgeo.schema import _read_csv_text, _read_csv_typed, validate_table

    header = "detect_scene_row,detect_scene_column,scene_id,is_vessel,is_fishing,vessel_length_m,confidence"
    good = {"scene_id": " s1", "is_vessel": "True", "is_fishing": "false", "confidence": "HIGH"}
    rows = []
    for k in range(6):
        cells = dict(good, scene_id=f"s{k % 2}")
        if k in (2, 4):
            cells[column] = bad
        rows.append(f"{k},{k},{cells['scene_id']},{cells['is_vessel']},{cells['is_fishing']},10,{cells['confidence']}")
    path = tmp_path / "labels.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    typed = _read_csv_typed(path)
    assert typed is not None and isinstance(typed[column].dtype, pd.CategoricalDtype)
    with pytest.raises(LabelError) as careful:
        validate_table(_read_csv_text(path), PREDICTION_COLUMNS, "labels.csv")
    with pytest.raises(LabelError) as fast:
        validate_table(typed, PREDICTION_COLUMNS, "labels.csv")
    assert str(fast.value) == str(careful.value)
    assert f"row 3 (line 4), column {column}: {bad.strip()!r}" in str(fast.value) and "1 more row" in str(fast.value)


@pytest.mark.parametrize(
    ("column", "text", "problem"),
    [
        ("detect_scene_row", "inf", "is not a finite number"),
        ("distance_from_shore_km", "-1", "is out of range (must be at least 0)"),
        ("vessel_length_m", "1e400", "is not a finite number"),
        ("detect_lat", "500", "is out of range (must be from -90 to 90)"),
    ],
)
def test_bad_label_values_give_one_line_errors(files, xtgeo_cli, column, text, problem):
    import pandas as pd

    labels = pd.read_csv(files / "labels.csv", dtype=str, keep_default_na=False)
    if column == "detect_lat":
        labels[column] = "10"
    _first(column, text)(labels, None).to_csv(files / "labels.csv", index=False)
    code, _, err = xtgeo_cli("score", files / "pred.csv", files / "labels.csv")
    assert code == 1 and err == f"error: labels.csv: row 1 (line 2), column {column}: {text!r} {problem}\n"


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--distance-tolerance", "nan", "distance tolerance nan m: must be a positive, finite distance"),
        ("--distance-tolerance", "inf", "distance tolerance inf m"),
        ("--distance-tolerance", "-5", "distance tolerance -5.0 m"),
        ("--distance-tolerance", "0", "distance tolerance 0.0 m"),
        ("--shore-tolerance", "nan", "shore tolerance nan km: must be 0 (off) or a positive, finite distance"),
        ("--shore-tolerance", "inf", "shore tolerance inf km"),
        ("--shore-tolerance", "-1", "shore tolerance -1.0 km"),
    ],
)
def test_tolerances_must_be_finite_and_not_negative(files, xtgeo_cli, flag, value, message):
    code, _, err = xtgeo_cli("score", files / "pred.csv", files / "labels.csv", flag, value)
    assert code == 1 and err.startswith(f"error: {message}") and len(err.splitlines()) == 1


def test_a_blank_length_writes_valid_json_with_null_and_says_so(files, xtgeo_cli):
    import pandas as pd

    pd.read_csv(files / "pred.csv").assign(vessel_length_m="").to_csv(files / "pred.csv", index=False)
    code, out, _ = xtgeo_cli("score", files / "pred.csv", files / "labels.csv", "--json", files / "s.json")
    assert code == 0 and "(null in --json)" in " ".join(out.split())
    text = (files / "s.json").read_text()
    assert "NaN" not in text
    scores = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert scores["length_acc"] is None and scores["aggregate"] is None and scores["loc_fscore"] > 0


def test_outputs_never_replace_a_folder_or_an_input(files, xtgeo_cli):
    folder = files / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep me")
    labels_before = (files / "labels.csv").read_text()
    cases = [
        (("--json", folder), f"--json {folder}: is a folder; give a file name (nothing was written or removed)"),
        (("--per-scene", folder), f"--per-scene {folder}: is a folder"),
        (("--json", files / "labels.csv"), f"--json {files / 'labels.csv'}: is also an input of this command"),
        (("--per-scene", files / "pred.csv"), f"--per-scene {files / 'pred.csv'}: is also an input"),
        (("--json", files / "o.x", "--per-scene", files / "o.x"), "given for two outputs"),
        (("--json", files / "labels.csv" / "s.json"), "is a file, not a folder"),
        (("--json", files / "prep" / "shoreline"), "is a folder"),
    ]
    for args, message in cases:
        code, _, err = xtgeo_cli("score", files / "pred.csv", files / "labels.csv", "--shore-from", files / "prep",
                                 *args)
        assert code == 1 and message in err and len(err.splitlines()) == 1, (args, err)
    assert (folder / "keep.txt").read_text() == "keep me" and (files / "labels.csv").read_text() == labels_before
    assert len(list((files / "prep" / "shoreline").iterdir())) == 2


@pytest.mark.parametrize("read_only", [False, True], ids=["full-disk", "read-only"])
def test_json_on_a_full_or_read_only_disk_is_one_line(files, read_only):
    mount = files / "small"
    done = run_on_small_disk("4k", mount, xtgeo_command("score", files / "pred.csv", files / "labels.csv",
                                                       "--per-scene", mount / "per_scene.csv"),
                             read_only=read_only, full=not read_only)
    reason = "is not a writable folder" if read_only else "cannot write (No space left on device)"
    assert done.returncode == 1 and reason in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert str(mount / "per_scene.csv") in done.stderr


def test_with_the_preprocessed_scenes_a_prediction_outside_its_scene_is_an_error(files, xtgeo_cli):
    import pandas as pd

    from xtgeo.preprocess.writer import write_meta
    from xtgeo.scene import prepared

    pred = pd.read_csv(files / "pred.csv")
    rc = ["detect_scene_row", "detect_scene_column"]
    pred[rc] = pred[rc].clip(0, 1999)  # the simulator's false alarms may fall anywhere in a full-size scene
    pred.to_csv(files / "pred.csv", index=False)
    for scene_id in pred["scene_id"].unique():  # the simulated labels are in 2000 x 2000 scenes
        write_meta(prepared.scene_dir(files / "prep", scene_id) / prepared.META_FILE,
                            {"height": 2000, "width": 2000})
    code, _, _ = xtgeo_cli("score", files / "pred.csv", files / "labels.csv", "--shore-from", files / "prep")
    assert code == 0
    pred.loc[3, "detect_scene_column"] = 2000
    pred.to_csv(files / "pred.csv", index=False)
    code, _, err = xtgeo_cli("score", files / "pred.csv", files / "labels.csv", "--shore-from", files / "prep")
    scene = pred.loc[3, "scene_id"]
    assert code == 1 and err == (f"error: pred.csv: row 4 (line 5), column detect_scene_column: '2000.0' lies outside "
                                 f"scene {scene} (2000 x 2000 pixels)\n")


def test_a_scene_id_that_would_name_a_path_is_refused(files, xtgeo_cli):
    import pandas as pd

    pred = pd.read_csv(files / "pred.csv")
    pred.assign(scene_id="../../elsewhere").to_csv(files / "pred.csv", index=False)
    code, _, err = xtgeo_cli("score", files / "pred.csv", files / "labels.csv", "--shore-from", files / "prep")
    assert code == 1 and err == ("error: pred.csv: row 1 (line 2), column scene_id: '../../elsewhere' is not a scene "
                                 f"id (it would name a path) ({len(pred) - 1} more row(s) like it)\n")


def test_score_imports_only_what_it_needs(tmp_path):
    """Sub-pixel predictions have no exact distance ties: the command needs neither numba (the tie
    replay) nor scipy, and never the model, raster or GIS stacks (each costs the process time)."""
    rng = np.random.default_rng(6)
    labels = random_labels(rng, 2, 300, shape=(2000, 2000), clustered=0.5)
    noisy_predictions(rng, labels, integer=False).to_csv(tmp_path / "pred.csv", index=False)
    labels.to_csv(tmp_path / "labels.csv", index=False)
    for scene_id in labels["scene_id"].unique():
        write_shoreline(tmp_path / f"{scene_id}_shoreline.npy", random_shoreline(rng, (2000, 2000), 300))
    heavy = {"scipy", "numba", "torch", "rasterio", "geopandas", "dask"}
    imported = "sorted({m.split('.')[0] for m in sys.modules} & HEAVY)".replace("HEAVY", repr(heavy))
    report = f"import atexit, sys; atexit.register(lambda: print({imported}))"
    command = xtgeo_command("score", tmp_path / "pred.csv", tmp_path / "labels.csv", "--shore-root", tmp_path)
    command[2] = f"{report}; {command[2]}"
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "close to shore (F1_S)" in result.stdout and result.stdout.strip().splitlines()[-1] == "[]"
