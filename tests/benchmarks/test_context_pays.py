"""The context study (benchmarks/context_pays.py): the plan, the process runner, the equal-step rule,
and a reduced smoke study end to end (real synth, preprocess, train, predict, score processes)."""

import importlib.util
import json
import os
import shutil
import statistics
import sys
import tarfile
import time

import matplotlib.image
import pytest
import yaml

from tests.paths import REPO


def _load_study():
    spec = importlib.util.spec_from_file_location("context_pays", REPO / "benchmarks" / "context_pays.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


study = _load_study()
#: The reduced smoke study of the end-to-end test: two seeds of `none`, one of `xl`, 4 steps.
PLAN, STEPS = "none:2,xl:1", 4


def test_a_plan_gives_seeds_from_zero_per_kind_in_order():
    runs = study.parse_plan("none:2, xl:1,xl_novalid:2")
    assert [(r.kind, r.seed) for r in runs] == [("none", 0), ("none", 1), ("xl", 0), ("xl_novalid", 0),
                                                ("xl_novalid", 1)]
    assert runs[-1].name == "xl_novalid_s1"


@pytest.mark.parametrize(("plan", "problem"), [("none:3,transformer:1", "unknown kind 'transformer'"),
                                               ("none:0", "number of seeds >= 1"), ("xl", "number of seeds"),
                                               ("xl:1,xl:2", "listed twice"), (" , ", "no runs")])
def test_a_bad_plan_is_refused_naming_the_problem(plan, problem):
    with pytest.raises(ValueError, match=problem):
        study.parse_plan(plan)


def test_bad_budget_flags_stop_with_one_line(tmp_path, capsys):
    for flags, problem in ((["--steps", "0"], "--steps: must be at least 1"),
                           (["--crop", "300"], "must be a multiple of --region"),
                           (["--lr", "nan"], "--lr: must be a positive number"),
                           (["--plan", "xl:1,vit:x"], "'vit:x' needs a number of seeds")):
        with pytest.raises(SystemExit):
            study.parse_args(["--work", str(tmp_path), "--smoke", *flags])
        assert problem in capsys.readouterr().err


def test_jobs_run_in_order_stop_at_a_failure_and_at_the_deadline(tmp_path):
    python = sys.executable
    chain = study.Job("chain", [[python, "-c", "print('first')"], [python, "-c", "raise SystemExit(3)"],
                                [python, "-c", "print('never')"]], tmp_path / "chain.log")
    sleeper = study.Job("sleeper", [[python, "-c", "import time; time.sleep(60)"]], tmp_path / "sleeper.log")
    start = time.monotonic()
    study.run_jobs([chain, sleeper], parallel=2, env=study.child_env(2), deadline=time.monotonic() + 5)
    assert time.monotonic() - start < 30
    assert (chain.returncode, chain.stopped) == (3, False)
    assert "first" in chain.log.read_text() and "never" not in chain.log.read_text().replace("print('never')", "")
    assert sleeper.stopped and sleeper.returncode != 0


def test_an_interrupted_runner_kills_its_jobs(tmp_path):
    pid_file = tmp_path / "pid"
    job = study.Job("sleeper", [[sys.executable, "-c", f"import os, time; open({str(pid_file)!r}, 'w')"
                                 ".write(str(os.getpid())); time.sleep(60)"]], tmp_path / "sleeper.log")

    def interrupt(running, elapsed):
        if pid_file.is_file() and pid_file.read_text():
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        study.run_jobs([job], parallel=1, env=study.child_env(1), report=interrupt, every_s=0.5)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_runs_are_compared_at_the_last_step_all_of_them_reached(tmp_path):
    runs = study.parse_plan("none:1,xl:2")
    for run, steps in zip(runs, ([10, 20, 30], [10, 20], [10, 20, 30, 40])):
        folder = tmp_path / "runs" / run.name / "checkpoints"
        folder.mkdir(parents=True)
        for step in steps:
            (folder / f"step_{step:06d}.pt").touch()
    assert study.evaluation_step(tmp_path, runs, planned=40) == 20
    (tmp_path / "runs" / "xl_s0" / "checkpoints" / "step_000030.pt").touch()
    (tmp_path / "runs" / "xl_s0" / "checkpoints" / "step_000040.pt").touch()
    (tmp_path / "runs" / "none_s0" / "checkpoints" / "step_000040.pt").touch()
    assert study.evaluation_step(tmp_path, runs, planned=40) == 40
    assert study.evaluation_step(tmp_path / "elsewhere", runs, planned=40) is None


def test_a_run_whose_training_failed_does_not_hold_the_others_back(tmp_path):
    runs = study.parse_plan("none:1,xl:2")
    for run, steps, returncode, stopped in zip(runs, ([10, 20], [10], [10, 20]), (-15, 1, -15), (True, False, True)):
        folder = tmp_path / "runs" / run.name
        (folder / "checkpoints").mkdir(parents=True)
        for step in steps:
            (folder / "checkpoints" / f"step_{step:06d}.pt").touch()
        (folder / study.TRAIN_STATUS).write_text(json.dumps(
            {"seconds": 5.0, "returncode": returncode, "stopped_at_budget": stopped}))
    assert [study.training_failed(tmp_path / "runs" / run.name) for run in runs] == [False, True, False]
    assert study.evaluation_step(tmp_path, runs, planned=40) == 20
    row = study.run_row(tmp_path, runs[1], 20, planned=40)
    assert row["status"] == "training failed (exit 1, see runs/xl_s0.train.log)" and row["aggregate"] is None


@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory):
    """The smoke study with a reduced plan and budget, run once; returns its folder and study.json."""
    work = tmp_path_factory.mktemp("study")
    study.main(["--work", str(work), "--smoke", "--plan", PLAN, "--steps", str(STEPS), "--size", "768",
                "--workers", "1"])
    return work, json.loads((work / "study.json").read_text())


def test_the_smoke_study_writes_one_row_per_run_with_scores_and_training_figures(smoke_study):
    work, result = smoke_study
    rows = result["rows"]
    assert [(row["kind"], row["seed"], row["status"]) for row in rows] == [("none", 0, "ok"), ("none", 1, "ok"),
                                                                           ("xl", 0, "ok")]
    for row in rows:
        metrics = [m for line in (work / "runs" / row["run"] / "metrics.jsonl").read_text().splitlines()
                   if "loss" in (m := json.loads(line))]  # training rows, not the start-up row
        assert row["steps"] == STEPS
        assert all(0 <= row[key] <= 1 for key in study.SCORE_KEYS)
        assert row["loss_curve"] == [[m["step"], m["loss"]] for m in metrics]
        assert row["peak_memory_gib"] == max(m["memory_gib"] for m in metrics) > 0
        assert row["regions_per_s"] > 0 and row["final_loss"] > 0 and row["train_seconds"] > 0
        calibration = json.loads((work / "runs" / row["run"] / f"eval_{STEPS:06d}" / "calibration.json").read_text())
        assert row["calibrated"]
        assert row["thresholds"] == {k: calibration["thresholds"][k] for k in study.THRESHOLD_KEYS}
        assert all(0 <= value <= 1 for value in row["thresholds"].values())
        assert row["val_aggregate_after"] >= row["val_aggregate_before"]
    assert rows[0]["loss_curve"] != rows[1]["loss_curve"]  # the seeds differ


def test_the_summary_and_contrasts_agree_with_the_rows(smoke_study):
    _, result = smoke_study
    rows, summary = result["rows"], result["summary"]
    none = [row for row in rows if row["kind"] == "none"]
    xl = next(row for row in rows if row["kind"] == "xl")
    assert summary["none"]["runs"] == 2 and summary["xl"]["runs"] == 1
    for key in (*study.SCORE_KEYS, "final_loss", "regions_per_s"):
        assert summary["none"][key]["mean"] == pytest.approx(statistics.fmean(row[key] for row in none))
        assert summary["none"][key]["std"] == pytest.approx(statistics.stdev(row[key] for row in none))
        assert summary["xl"][key] == {"mean": pytest.approx(xl[key]), "std": None}
    difference = xl["aggregate"] - none[0]["aggregate"]
    assert result["contrasts"]["xl"]["aggregate"]["per_seed"] == {"0": pytest.approx(difference)}
    assert result["contrasts"]["xl"]["aggregate"]["same_sign"] is None  # one seed: no agreement to speak of


def test_the_smoke_study_draws_its_plot_and_archives_each_run(smoke_study):
    work, _ = smoke_study
    image = matplotlib.image.imread(work / "study.png")
    assert image.shape[0] > 300 and image.shape[1] > 900
    with tarfile.open(work / "study_runs.tar.gz") as tar:
        names = set(tar.getnames())
    for run in ("none_s0", "none_s1", "xl_s0"):
        assert {f"runs/{run}/metrics.jsonl", f"runs/{run}/config.yaml", f"runs/{run}.train.log",
                f"runs/{run}/eval_{STEPS:06d}/score.json"} <= names
    assert "held-out scenes" in (work / "study.log").read_text()


def test_a_finished_study_rerun_redoes_only_the_report(smoke_study):
    work, _ = smoke_study
    outputs = [*(work / "runs").glob("*/checkpoints/*.pt"), *(work / "runs").glob("*/eval_*/score.json"),
               *(work / "data").glob("*_prep/labels.parquet")]
    stamps = {path: path.stat().st_mtime_ns for path in outputs}
    study.main(["--work", str(work), "--smoke", "--plan", PLAN, "--steps", str(STEPS), "--size", "768"])
    assert {path: path.stat().st_mtime_ns for path in outputs} == stamps
    assert len(json.loads((work / "study.json").read_text())["rows"]) == 3


def test_a_study_folder_refuses_another_budget(smoke_study):
    work, _ = smoke_study
    with pytest.raises(SystemExit, match="another budget \\(steps differ"):
        study.main(["--work", str(work), "--smoke", "--plan", PLAN, "--steps", str(STEPS + 1), "--size", "768"])


def test_without_calibration_a_row_holds_the_thresholds_of_the_run_config(smoke_study, tmp_path):
    work, _ = smoke_study
    run, copy = study.Run("none", 0), tmp_path / "runs" / "none_s0"
    (copy / f"eval_{STEPS:06d}").mkdir(parents=True)
    for name in ("config.yaml", "metrics.jsonl", f"eval_{STEPS:06d}/score.json"):
        shutil.copy(work / "runs" / run.name / name, copy / name)
    row = study.run_row(tmp_path, run, STEPS, planned=STEPS)
    postprocess = yaml.safe_load((copy / "config.yaml").read_text())["postprocess"]
    assert row["status"] == "ok" and not row["calibrated"]
    assert row["thresholds"] == {key: postprocess[key] for key in study.THRESHOLD_KEYS}
