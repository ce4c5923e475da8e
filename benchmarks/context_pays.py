"""Does context pay? Every xT context encoder, same budget and seeds, calibrated, scored on held-out scenes.

The study in one command, on synthetic scenes whose labels need context (``xtgeo.synth``: harbours,
anchorages 7.5-10 km from their harbour, lattices, the shipping lane, the fishing depth band).
Stages, each skipping what is already done (a stopped study continues where it stopped):

    data      xtgeo.synth scenes in parallel + preprocess: training, validation and held-out test
              scenes from distinct seeds                          WORK/data/{train,val,test}_{raw,prep}
    train     xtgeo train for every run of --plan, --parallel processes at once on one device, all
              with the same budget (steps, batch, crop, regions, schedule)     WORK/runs/<kind>_s<seed>/
    evaluate  per run: xtgeo calibrate on the validation scenes, xtgeo predict on the test scenes,
              xtgeo score                                                WORK/runs/<run>/eval_NNNNNN/
    report    WORK/study.json (a row per run, mean ± std per kind, differences from `none` seed by
              seed), the table, WORK/study.png; WORK/study.log has every line printed, and
              WORK/study_runs.tar.gz each run's config, metrics.jsonl, logs and scores

The default budget is the GPU study: one H100/H200, the 10 runs of the default plan training at
once, about 16 minutes in all on an H100 (see README, "Does context pay?"; to fit device calls of
10 minutes, stop it with --train-budget-s and run it again: it resumes). ``--smoke`` runs every stage on tiny
scenes on the CPU in a few minutes. Budget flags (--steps, --batch, ...) override either preset.
Trainings still running after --train-budget-s are stopped, and every run is then evaluated at
the last checkpointed step that all runs reached, so the comparison keeps equal steps.

Example: python benchmarks/context_pays.py --work /tmp/study                   # the GPU study
Example: python benchmarks/context_pays.py --work /tmp/smoke --smoke           # CPU, a few minutes
Example: python benchmarks/context_pays.py --work /tmp/vc --plan xl:3,xl_novalid:3   # validity channel
Example: python benchmarks/context_pays.py --work /tmp/study --stage report      # redo the report only
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SCORE_KEYS = ("aggregate", "loc_fscore", "loc_fscore_shore", "vessel_fscore", "fishing_fscore", "length_acc")
#: Per-run figures summarised per kind besides the scores.
RUN_KEYS = ("final_loss", "regions_per_s", "peak_memory_gib", "train_seconds")
THRESHOLD_KEYS = ("center_threshold", "vessel_threshold", "fishing_threshold")
#: Logged loss windows averaged by the plot's loss curves.
SMOOTH_POINTS = 5
#: Synthetic-data seeds of the three sets (their scene seeds never coincide).
DATA_SEEDS = {"train": 1, "val": 2, "test": 3}
STAGES = ("data", "train", "evaluate", "report")
#: In a run folder: how its training attempts ended (written by this script).
TRAIN_STATUS = "train_status.json"
#: Budget fields that must be at least 1.
POSITIVE = ("train_scenes", "val_scenes", "test_scenes", "size", "crop", "region", "steps", "batch", "parallel")
#: A variant is a context kind as its config sets it, or one with extra overrides.
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    **{kind: (f"configs/xview3_swin_t_{kind}.yaml", ()) for kind in ("none", "xl", "mamba", "hyper", "bixt", "vit")},
    "xl_novalid": ("configs/xview3_swin_t_xl.yaml", ("data.validity_channel=false",)),
}


@dataclass(frozen=True)
class Budget:
    """Data sizes and the training budget every run shares; ``sets`` are further shared overrides."""

    train_scenes: int
    val_scenes: int
    test_scenes: int
    size: int
    crop: int
    region: int
    backbone: str
    steps: int
    batch: int
    lr: float
    plan: str
    parallel: int
    loader_workers: int
    train_budget_s: float | None
    sets: tuple[str, ...]


PRESETS = {
    # One H200 (16 cores, 139 GB): 10 runs at once. ResNet-18 regions (timm, from scratch) instead
    # of Swin-T: about a third of the work per region; the question is context, not the backbone.
    "gpu": Budget(train_scenes=16, val_scenes=4, test_scenes=10, size=3072, crop=2048, region=256,
                  backbone="resnet18", steps=300, batch=2, lr=5e-4, plan="none:3,xl:3,mamba:1,hyper:1,bixt:1,vit:1",
                  parallel=10, loader_workers=2, train_budget_s=None,
                  sets=("model.region_batch=64", "model.region_encoder.grad_checkpointing=false",
                        "model.decoder.width=128", "model.decoder.min_width=16",
                        "model.decoder.grad_checkpointing=true")),
    # The CPU smoke: the smoke config's sizes (configs/smoke.yaml) for every context kind.
    "smoke": Budget(train_scenes=3, val_scenes=1, test_scenes=2, size=1024, crop=128, region=64,
                    backbone="test_convnext", steps=60, batch=2, lr=5e-3,
                    plan="none:2,xl:2,mamba:1,hyper:1,bixt:1,vit:1", parallel=2, loader_workers=0, train_budget_s=None,
                    sets=("model.region_batch=64", "model.region_encoder.grad_checkpointing=false",
                          "model.context.depth=1", "model.context.dim=32", "model.context.heads=2",
                          "model.decoder.width=32", "model.decoder.min_width=8", "model.decoder.band_rows=4",
                          "model.decoder.grad_checkpointing=false", "train.device=cpu",
                          "postprocess.center_threshold=0.1")),
}


# --- the plan ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """One training: a variant (context kind) and a seed; its folder is ``WORK/runs/<name>``."""

    kind: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.kind}_s{self.seed}"


def parse_plan(text: str) -> list[Run]:
    """``"none:3,xl:3,mamba:1"`` → runs of seeds 0..n-1 per kind, in that order; ValueError if malformed."""
    runs: list[Run] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, _, count = item.partition(":")
        if kind not in VARIANTS:
            raise ValueError(f"plan {text!r}: unknown kind {kind!r} (one of {', '.join(VARIANTS)})")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"plan {text!r}: {item!r} needs a number of seeds >= 1, as in {kind}:3")
        if any(run.kind == kind for run in runs):
            raise ValueError(f"plan {text!r}: {kind} is listed twice")
        runs += [Run(kind, seed) for seed in range(int(count))]
    if not runs:
        raise ValueError(f"plan {text!r}: no runs")
    return runs


def train_overrides(budget: Budget, loader_workers: int) -> tuple[str, ...]:
    """The ``--set`` overrides every run shares: data, model size, schedule, no in-training validation;
    eager, with the checkpointing the budget sets (ten processes compiling at once, or each sizing
    its checkpointing to the GPU memory left by the others, would cost more than they save)."""
    steps = budget.steps
    return (f"data.crop_size={budget.crop}", f"model.region_size={budget.region}",
            f"model.region_encoder.name={budget.backbone}", f"train.steps={steps}", f"train.epoch_steps={steps}",
            f"train.warmup_steps={max(steps // 10, 1)}", f"train.batch_size={budget.batch}", f"train.lr={budget.lr}",
            f"train.log_every={max(steps // 60, 1)}", f"train.checkpoint_every={max(steps // 10, 1)}",
            "train.validation=none", "data.val_scenes_count=0", f"data.num_workers={loader_workers}",
            "train.compile=false", "train.checkpointing=config", *budget.sets)


# --- data ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSet:
    """One set of scenes: the raw synthetic folder (with labels.csv) and its preprocessed folder."""

    raw: Path
    prep: Path


def data_sets(work: Path) -> dict[str, DataSet]:
    return {name: DataSet(work / "data" / f"{name}_raw", work / "data" / f"{name}_prep") for name in DATA_SEEDS}


def _synth_one(args: tuple[str, int, int]):
    from xtgeo.synth import make_scene

    out, size, seed = args
    return make_scene(out, height=size, width=size, seed=seed).labels


def make_data(work: Path, budget: Budget, workers: int, log: Callable[..., None]) -> dict[str, DataSet]:
    """The three sets, made in parallel (a set whose ``labels.parquet`` exists is kept)."""
    import pandas as pd

    from xtgeo.preprocess.run import dask_client, run_preprocess
    from xtgeo.synth import LABELS_FILE, scene_seeds, write_labels

    sets = data_sets(work)
    counts = {"train": budget.train_scenes, "val": budget.val_scenes, "test": budget.test_scenes}
    seeds = {name: scene_seeds(DATA_SEEDS[name], counts[name]) for name in sets}
    assert len({s for v in seeds.values() for s in v}) == sum(counts.values()), "scene seeds of two sets coincide"
    todo = [name for name, ds in sets.items() if not (ds.prep / "labels.parquet").is_file()]
    if not todo:
        return sets
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        jobs = {name: list(pool.map(_synth_one, [(str(sets[name].raw), budget.size, s) for s in seeds[name]]))
                for name in todo}
    for name, tables in jobs.items():
        write_labels(sets[name].raw / LABELS_FILE, pd.concat(tables, ignore_index=True))
    log(f"data: {sum(counts[n] for n in todo)} synthetic {budget.size}² scenes in {time.perf_counter() - start:.0f} s")
    with dask_client(workers) as client:
        for name in todo:
            report = run_preprocess(sets[name].raw, sets[name].prep, sets[name].raw / LABELS_FILE, client=client)
            if report.failed:
                raise SystemExit(f"error: preprocess of the {name} scenes failed: {report.failed}")
    log(f"data: made and preprocessed in {time.perf_counter() - start:.0f} s")
    return sets


# --- processes -----------------------------------------------------------------------------------
@dataclass
class Job:
    """Commands run one after the other (stopping at the first failure), output appended to ``log``."""

    name: str
    commands: list[list[str]]
    log: Path
    returncode: int | None = None
    stopped: bool = False
    seconds: float = 0.0


def xtgeo_command(*args: object) -> list[str]:
    """``xtgeo ARGS`` in this interpreter (the repository's ``cli`` module)."""
    return [sys.executable, "-m", "cli", *(str(a) for a in args)]


def run_jobs(jobs: Sequence[Job], parallel: int, env: dict[str, str], deadline: float | None = None,
             report: Callable[[list[Job], float], None] | None = None, every_s: float = 30.0) -> None:
    """Run ``jobs``, at most ``parallel`` at once; jobs still running at ``deadline`` (a
    ``time.monotonic()`` value) are stopped (SIGTERM, SIGKILL 20 s later), jobs not started by then
    never start. ``report(running, elapsed)`` is called every ``every_s``. If this process is
    interrupted, every job's process group is killed."""
    pending, running = list(jobs), {}  # name -> (job, process, command index, start, log file)
    start = last_report = time.monotonic()

    def launch(job: Job, index: int, began: float) -> None:
        job.log.parent.mkdir(parents=True, exist_ok=True)
        out = job.log.open("a")
        out.write(f"$ {' '.join(job.commands[index])}\n")
        out.flush()
        proc = subprocess.Popen(job.commands[index], stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env,
                                start_new_session=True)
        running[job.name] = (job, proc, index, began, out)

    def signal_group(proc: subprocess.Popen, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    try:
        while pending or running:
            late = deadline is not None and time.monotonic() > deadline
            while pending and len(running) < parallel and not late:
                launch(pending.pop(0), 0, time.monotonic())
            for job in pending if late else ():
                job.stopped = True
            pending = [] if late else pending
            for name, (job, proc, index, began, out) in list(running.items()):
                if proc.poll() is None:
                    if late and not job.stopped:
                        job.stopped = True
                        signal_group(proc, signal.SIGTERM)
                    elif late and time.monotonic() > deadline + 20:
                        signal_group(proc, signal.SIGKILL)
                    continue
                out.close()
                del running[name]
                if proc.returncode == 0 and index + 1 < len(job.commands) and not job.stopped:
                    launch(job, index + 1, began)
                    continue
                job.returncode, job.seconds = proc.returncode, time.monotonic() - began
            if report and running and time.monotonic() - last_report >= every_s:
                last_report = time.monotonic()
                report([entry[0] for entry in running.values()], last_report - start)
            time.sleep(0.5)
    finally:
        for _, proc, _, _, out in running.values():
            signal_group(proc, signal.SIGKILL)
            proc.wait()
            out.close()


def child_env(parallel: int) -> dict[str, str]:
    """The environment of every child: CPU threads shared out between the ``parallel`` processes."""
    threads = str(max(1, (os.cpu_count() or 1) // parallel))
    return {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "PYTHONUNBUFFERED": "1"}


# --- training ------------------------------------------------------------------------------------
def checkpoint_steps(run_dir: Path) -> set[int]:
    """Steps of the run's ``checkpoints/step_NNNNNN.pt`` files."""
    return {int(p.stem.removeprefix("step_")) for p in (run_dir / "checkpoints").glob("step_*.pt")}


def train_runs(work: Path, runs: list[Run], budget: Budget, train_prep: Path, extra_sets: Sequence[str],
               log: Callable[..., None]) -> None:
    """Train every run not yet at ``budget.steps`` (resuming a stopped one), ``budget.parallel`` at once."""
    shared = train_overrides(budget, budget.loader_workers)
    jobs = []
    for run in runs:
        run_dir = work / "runs" / run.name
        if budget.steps in checkpoint_steps(run_dir):
            continue
        config, variant_sets = VARIANTS[run.kind]
        sets = [*shared, *variant_sets, f"seed={run.seed}", *extra_sets]
        args = ["train", "--config", REPO / config, "--data", train_prep, "--out", run_dir,
                *(a for s in sets for a in ("--set", s))]
        if (run_dir / "checkpoints" / "last.pt").is_file():
            args.append("--resume")
        jobs.append(Job(run.name, [xtgeo_command(*args)], work / "runs" / f"{run.name}.train.log"))
    if not jobs:
        return
    log(f"train: {len(jobs)} run(s), {min(budget.parallel, len(jobs))} at once, {budget.steps} steps of "
        f"{budget.batch} × {budget.crop}² crops ({(budget.crop // budget.region) ** 2} regions of {budget.region} px)")

    def progress(running: list[Job], elapsed: float) -> None:
        steps = {job.name: _last_step(work / "runs" / job.name) for job in running}
        log(f"train {elapsed:.0f} s: " + " · ".join(f"{name} {step}/{budget.steps}" for name, step in steps.items()))

    deadline = time.monotonic() + budget.train_budget_s if budget.train_budget_s else None
    run_jobs(jobs, budget.parallel, child_env(budget.parallel), deadline, progress)
    for job in jobs:
        before = (train_status(work / "runs" / job.name) or {}).get("seconds", 0.0)
        (work / "runs" / job.name / TRAIN_STATUS).write_text(json.dumps(
            {"seconds": before + job.seconds, "returncode": job.returncode, "stopped_at_budget": job.stopped}))
        state = "stopped at the time budget" if job.stopped else f"exit {job.returncode}"
        log(f"train: {job.name} {state} after {job.seconds:.0f} s (step {_last_step(work / 'runs' / job.name)}; "
            f"log {job.log})")


def train_status(run_dir: Path) -> dict | None:
    """How the run's last training attempt ended (``seconds`` over all attempts, ``returncode``,
    ``stopped_at_budget``), or None before any."""
    path = run_dir / TRAIN_STATUS
    return json.loads(path.read_text()) if path.is_file() else None


def training_failed(run_dir: Path) -> bool:
    """True when the run's last training attempt failed (not stopped at the time budget)."""
    status = train_status(run_dir)
    return status is not None and status["returncode"] != 0 and not status["stopped_at_budget"]


def _last_step(run_dir: Path) -> int:
    from xtgeo.train.runlog import read_metrics

    rows = read_metrics(run_dir)
    return int(rows[-1]["step"]) if rows else 0


def evaluation_step(work: Path, runs: list[Run], planned: int) -> int | None:
    """``planned`` when every run finished; else the last checkpointed step every run reached (runs
    whose training failed or that have no checkpoint are left out); None when no run has one."""
    found = [steps for run in runs if not training_failed(work / "runs" / run.name)
             and (steps := checkpoint_steps(work / "runs" / run.name))]
    if not found:
        return None
    common = set.intersection(*found)
    return planned if planned in common else max(common, default=None)


# --- evaluation ----------------------------------------------------------------------------------
def eval_dir(work: Path, run: Run, step: int) -> Path:
    return work / "runs" / run.name / f"eval_{step:06d}"


def evaluate_runs(work: Path, runs: list[Run], step: int, sets: dict[str, DataSet], budget: Budget,
                  calibrate: bool, log: Callable[..., None]) -> None:
    """Per run, at ``step``: calibrate on the validation scenes, predict the test scenes, score them."""
    from xtgeo.train.checkpoint import checkpoint_path

    windows = ("--window-size", budget.crop, "--overlap", budget.crop // 4)  # the context of a training crop
    jobs = []
    for run in runs:
        checkpoint, out = checkpoint_path(work / "runs" / run.name, step), eval_dir(work, run, step)
        if not checkpoint.is_file() or (out / "score.json").is_file() or training_failed(work / "runs" / run.name):
            continue
        commands = []
        if calibrate:
            commands.append(xtgeo_command("calibrate", "--checkpoint", checkpoint, "--data", sets["val"].prep,
                                          "--out", out / "calibrated.pt", "--json", out / "calibration.json",
                                          *windows))
            checkpoint = out / "calibrated.pt"
        commands.append(xtgeo_command("predict", sets["test"].prep, "--checkpoint", checkpoint,
                                      "--out", out / "detections.csv", *windows))
        commands.append(xtgeo_command("score", out / "detections.csv", sets["test"].raw / "labels.csv",
                                      "--shore-from", sets["test"].prep, "--json", out / "score.json"))
        out.mkdir(parents=True, exist_ok=True)
        jobs.append(Job(run.name, commands, out / "evaluate.log"))
    if not jobs:
        return
    what = "calibrate, predict, score" if calibrate else "predict, score (no calibration)"
    log(f"evaluate: {len(jobs)} run(s) at step {step}: {what}, {min(budget.parallel, len(jobs))} at once")
    run_jobs(jobs, budget.parallel, child_env(budget.parallel))
    for job in jobs:
        log(f"evaluate: {job.name} exit {job.returncode} after {job.seconds:.0f} s (log {job.log})")


# --- report --------------------------------------------------------------------------------------
def training_figures(rows: list[dict], step: int) -> dict:
    """From a run's metrics rows up to ``step``: the loss curve, the loss over the last tenth of the
    steps, median regions/s (the first logged window, with start-up, left out) and peak memory."""
    logged = [r for r in rows if "loss" in r and r["step"] <= step]
    if not logged:
        return {"final_loss": None, "regions_per_s": None, "peak_memory_gib": None, "loss_curve": []}
    tail = [r["loss"] for r in logged if r["step"] > 0.9 * step] or [logged[-1]["loss"]]
    speeds = [r["regions_per_s"] for r in logged[1:]] or [logged[0]["regions_per_s"]]
    return {"final_loss": statistics.fmean(tail), "regions_per_s": statistics.median(speeds),
            "peak_memory_gib": max(r["memory_gib"] for r in logged),
            "loss_curve": [[r["step"], r["loss"]] for r in logged]}


def run_row(work: Path, run: Run, step: int | None, planned: int) -> dict:
    """One JSON row: scores on the test scenes at ``step``, thresholds used, training figures
    (up to ``step``; a run that was not evaluated: up to ``planned``)."""
    from xtgeo.train.runlog import read_metrics

    run_dir = work / "runs" / run.name
    row: dict = {"kind": run.kind, "seed": run.seed, "run": run.name, "steps": step}
    status = train_status(run_dir)
    row["train_seconds"] = status["seconds"] if status else None
    row.update(training_figures(read_metrics(run_dir), planned if step is None else step))
    out = eval_dir(work, run, step) if step is not None else None
    if training_failed(run_dir):
        problem = f"training failed (exit {status['returncode']}, see runs/{run.name}.train.log)"
        return {**row, "status": problem, **dict.fromkeys(SCORE_KEYS)}
    if out is None or not (out / "score.json").is_file():
        return {**row, "status": "not evaluated", **dict.fromkeys(SCORE_KEYS)}
    scores = json.loads((out / "score.json").read_text())
    row.update({key: float(scores[key]) for key in SCORE_KEYS})
    calibration = out / "calibration.json"
    if calibration.is_file():
        found = json.loads(calibration.read_text())
        row.update(calibrated=True, thresholds={k: found["thresholds"][k] for k in THRESHOLD_KEYS},
                   val_aggregate_before=found["before"], val_aggregate_after=found["after"])
    else:
        post = yaml.safe_load((run_dir / "config.yaml").read_text())["postprocess"]
        row.update(calibrated=False, thresholds={k: post[k] for k in THRESHOLD_KEYS})
    return {**row, "status": "ok"}


def summarise(rows: list[dict]) -> dict[str, dict]:
    """Per kind (in row order): the number of runs and the mean and standard deviation (n - 1;
    None for one run) of every score and training figure over the evaluated runs."""
    summary: dict[str, dict] = {}
    for kind in dict.fromkeys(row["kind"] for row in rows):
        done = [row for row in rows if row["kind"] == kind and row["status"] == "ok"]
        entry: dict = {"runs": len(done)}
        for key in (*SCORE_KEYS, *RUN_KEYS):
            values = [row[key] for row in done if row[key] is not None]
            entry[key] = {"mean": statistics.fmean(values) if values else None,
                          "std": statistics.stdev(values) if len(values) > 1 else None}
        summary[kind] = entry
    return summary


def contrasts(rows: list[dict], baseline: str = "none") -> dict[str, dict]:
    """For each other kind: its score minus the ``baseline``'s of the same seed, per seed, their
    mean, and whether every seed agrees in sign (all > 0 or all < 0; None with a single seed)."""
    base = {row["seed"]: row for row in rows if row["kind"] == baseline and row["status"] == "ok"}
    out: dict[str, dict] = {}
    for kind in dict.fromkeys(row["kind"] for row in rows if row["kind"] != baseline):
        paired = [row for row in rows if row["kind"] == kind and row["status"] == "ok" and row["seed"] in base]
        if not paired:
            continue
        out[kind] = {}
        for key in SCORE_KEYS:
            diffs = {row["seed"]: row[key] - base[row["seed"]][key] for row in paired}
            agree = all(d > 0 for d in diffs.values()) or all(d < 0 for d in diffs.values())
            out[kind][key] = {"per_seed": diffs, "mean": statistics.fmean(diffs.values()),
                              "same_sign": agree if len(diffs) > 1 else None}
    return out


def _mean_std(entry: dict, digits: int = 3) -> str:
    if entry["mean"] is None:
        return "-"
    return f"{entry['mean']:.{digits}f}" + ("" if entry["std"] is None else f" ± {entry['std']:.{digits}f}")


def print_tables(summary: dict, diffs: dict, title: str, log: Callable[..., None]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for name in ("kind", "runs", *SCORE_KEYS, "final loss", "regions/s", "GiB"):
        table.add_column(name, justify="left" if name == "kind" else "right")
    for kind, entry in summary.items():
        table.add_row(kind, str(entry["runs"]), *(_mean_std(entry[k]) for k in SCORE_KEYS),
                      _mean_std(entry["final_loss"]), _mean_std(entry["regions_per_s"], 0),
                      _mean_std(entry["peak_memory_gib"], 1))
    console = Console(width=200, record=True)
    console.print(table)
    if diffs:
        table = Table(title="minus `none` of the same seed: mean (per seed; * two or more seeds, all of one sign)")
        for name in ("kind", *SCORE_KEYS):
            table.add_column(name, justify="left" if name == "kind" else "right")
        for kind, entry in diffs.items():
            table.add_row(kind, *(f"{entry[k]['mean']:+.3f}{'*' if entry[k]['same_sign'] else ''} ("
                                  + " ".join(f"{d:+.2f}" for d in entry[k]["per_seed"].values()) + ")"
                                  for k in SCORE_KEYS))
        console.print(table)
    log(console.export_text(), echo=False)


def plot(rows: list[dict], summary: dict, out: Path, title: str) -> Path:
    """Per kind, points per seed and mean ± std of the aggregate and close-to-shore F1, and the
    training loss curves (one line per run, one colour per kind)."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xtgeo.atomic import atomic_path

    kinds = list(summary)
    colours = {kind: plt.get_cmap("tab10")(i % 10) for i, kind in enumerate(kinds)}
    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    for ax, key, label in ((axes[0], "aggregate", "xView3 aggregate"),
                           (axes[1], "loc_fscore_shore", "close-to-shore detection F1")):
        for x, kind in enumerate(kinds):
            points = [(row["seed"], row[key]) for row in rows if row["kind"] == kind and row["status"] == "ok"]
            for seed, value in points:
                ax.scatter(x - 0.15 + 0.1 * (seed % 4) / 3, value, color=colours[kind], s=28, zorder=3)
            stats = summary[kind][key]
            if stats["mean"] is not None:
                ax.errorbar(x + 0.25, stats["mean"], yerr=stats["std"] or 0, fmt="s", color="black", capsize=4)
        ax.set_xticks(range(len(kinds)), kinds)
        ax.set_ylabel(label)
        ax.set_title(f"{label}: runs (dots), mean ± std (square)")
        ax.grid(alpha=0.3)
    shown = set()
    for row in rows:
        if row["loss_curve"]:
            steps, losses = (np.asarray(v, dtype=float) for v in zip(*row["loss_curve"]))
            width = min(SMOOTH_POINTS, len(losses))
            mean = np.convolve(losses, np.ones(width) / width, mode="valid")
            axes[2].plot(steps, losses, color=colours[row["kind"]], alpha=0.15, lw=0.8)
            axes[2].plot(steps[width - 1:], mean, color=colours[row["kind"]], alpha=0.9, lw=1.3,
                         label=None if row["kind"] in shown else row["kind"])
            shown.add(row["kind"])
    axes[2].set_yscale("log")
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("training loss")
    axes[2].set_title(f"training loss (mean of {SMOOTH_POINTS} logged windows; faint: each)")
    axes[2].legend()
    axes[2].grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out


def archive_runs(work: Path, runs: list[Run], out: Path) -> Path:
    """Each run's config, metrics, logs and evaluation JSON in one ``.tar.gz`` (no checkpoints)."""
    from xtgeo.atomic import atomic_path

    with atomic_path(out) as tmp, tarfile.open(tmp, "w:gz") as tar:
        for run in runs:
            run_dir = work / "runs" / run.name
            for path in sorted([*run_dir.glob("*.yaml"), *run_dir.glob("*.json*"), *run_dir.glob("eval_*/*.json"),
                                *run_dir.glob("eval_*/*.log"), *run_dir.parent.glob(f"{run.name}.*.log")]):
                tar.add(path, arcname=str(path.relative_to(work)))
    return out


def report(work: Path, runs: list[Run], step: int | None, budget: Budget, info: dict,
           log: Callable[..., None]) -> dict:
    """Write ``study.json``, ``study.png``, ``study_runs.tar.gz`` and print the tables."""
    from xtgeo.atomic import atomic_path

    rows = [run_row(work, run, step, budget.steps) for run in runs]
    summary, diffs = summarise(rows), contrasts(rows)
    title = (f"{info['preset']} budget on {info['device']}: {budget.steps} steps × {budget.batch} crops of "
             f"{budget.crop}² ({budget.backbone}, {budget.region}-px regions), scored at step {step}")
    result = {"info": info, "budget": dataclasses.asdict(budget), "rows": rows, "summary": summary, "contrasts": diffs}
    with atomic_path(work / "study.json") as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
    print_tables(summary, diffs, f"held-out scenes, {title}", log)
    plot(rows, summary, work / "study.png", title)
    archive_runs(work, runs, work / "study_runs.tar.gz")
    failed = [f"{row['run']} ({row['status']})" for row in rows if row["status"] != "ok"]
    if failed:
        log(f"report: not evaluated: {', '.join(failed)}")
    log(f"report: {work / 'study.json'}, {work / 'study.png'}, {work / 'study_runs.tar.gz'}, {work / 'study.log'}")
    return result


# --- command line --------------------------------------------------------------------------------
def device_name() -> str:
    try:
        names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                               text=True, timeout=30, check=True).stdout.split("\n")
        names = [n.strip() for n in names if n.strip()]
        return f"{len(names)} × {names[0]}" if names else "cpu"
    except (OSError, subprocess.SubprocessError):
        return "cpu"


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, Budget, list[Run]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="study folder (data, runs, study.json, ...)")
    parser.add_argument("--smoke", action="store_true", help="the CPU smoke budget instead of the GPU study's")
    parser.add_argument("--stage", choices=(*STAGES, "all"), default="all")
    parser.add_argument("--plan", help="runs as KIND:SEEDS,... (seeds 0..SEEDS-1) [preset: "
                        f"{PRESETS['gpu'].plan}]; kinds: {', '.join(VARIANTS)}")
    parser.add_argument("--parallel", type=int, help="processes at once (trainings; then evaluations)")
    for name, kind in (("train-scenes", int), ("val-scenes", int), ("test-scenes", int), ("size", int),
                       ("crop", int), ("region", int), ("backbone", str), ("steps", int), ("batch", int),
                       ("lr", float), ("loader-workers", int), ("train-budget-s", float)):
        parser.add_argument(f"--{name}", type=kind, help="overrides the preset's value")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2),
                        help="processes making the data [cores - 2]")
    parser.add_argument("--no-calibrate", action="store_true",
                        help="predict with the thresholds of the training config instead of calibrated ones")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="one more override for every run, e.g. --set train.bf16=false")
    args = parser.parse_args(argv)
    budget = PRESETS["smoke" if args.smoke else "gpu"]
    chosen = {f.name: getattr(args, f.name) for f in dataclasses.fields(Budget)
              if f.name != "sets" and getattr(args, f.name, None) is not None}
    budget = dataclasses.replace(budget, **chosen)
    for name, value in (*((n, getattr(budget, n)) for n in POSITIVE), ("workers", args.workers)):
        if value < 1:
            parser.error(f"--{name.replace('_', '-')}: must be at least 1, got {value}")
    if budget.loader_workers < 0:
        parser.error(f"--loader-workers: must be 0 or more, got {budget.loader_workers}")
    for name in ("lr", "train_budget_s"):
        value = getattr(budget, name)
        if value is not None and not 0 < value < float("inf"):
            parser.error(f"--{name.replace('_', '-')}: must be a positive number, got {value}")
    if budget.crop % budget.region or budget.crop > budget.size:
        parser.error(f"--crop {budget.crop}: must be a multiple of --region {budget.region} "
                     f"and at most --size {budget.size}")
    try:
        runs = parse_plan(budget.plan)
    except ValueError as err:
        parser.error(str(err))
    return args, budget, runs


#: Budget fields that change results: a study folder keeps them (``--plan`` may grow, the rest is how it runs).
RESULT_FIELDS = ("train_scenes", "val_scenes", "test_scenes", "size", "crop", "region", "backbone", "steps", "batch",
                 "lr", "sets")


def check_same_budget(work: Path, budget: Budget, extra_sets: Sequence[str], calibrate: bool) -> None:
    """Record the budget in ``WORK/study_budget.json`` the first time; later, refuse a different one."""
    wanted = {**{name: getattr(budget, name) for name in RESULT_FIELDS}, "extra_sets": list(extra_sets),
              "calibrate": calibrate}
    wanted = json.loads(json.dumps(wanted))  # tuples as lists, as read back
    path = work / "study_budget.json"
    if path.is_file():
        found = json.loads(path.read_text())
        changed = [key for key in wanted if found.get(key) != wanted[key]]
        if changed:
            raise SystemExit(f"error: {work} holds a study with another budget ({', '.join(changed)} differ: "
                             f"see {path}); use the same flags or another --work")
    else:
        path.write_text(json.dumps(wanted, indent=1) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    args, budget, runs = parse_args(argv)
    command = " ".join(["context_pays.py", *(sys.argv[1:] if argv is None else argv)])
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped (by timeout): children stop too
    try:
        run_study(args, budget, runs, command)
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_study(args: argparse.Namespace, budget: Budget, runs: list[Run], command: str) -> None:
    """The stages ``args.stage`` asks for, in order; every line printed also goes to WORK/study.log."""
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    check_same_budget(work, budget, args.sets, not args.no_calibrate)
    with (work / "study.log").open("a") as log_file:

        def log(line: str, echo: bool = True) -> None:
            if echo:
                print(line, flush=True)
            log_file.write(line.rstrip("\n") + "\n")
            log_file.flush()

        log(f"study: {command}")
        info = {"preset": "smoke" if args.smoke else "gpu", "device": device_name(),
                "calibrated": not args.no_calibrate, "stage_seconds": {}}
        sets = data_sets(work)
        for stage in STAGES if args.stage == "all" else (args.stage,):
            begin = time.perf_counter()
            if stage == "data":
                sets = make_data(work, budget, args.workers, log)
            elif not (sets["train"].prep / "labels.parquet").is_file():
                raise SystemExit(f"error: {sets['train'].prep}: no data yet; run --stage data first")
            step = evaluation_step(work, runs, budget.steps) if stage in ("evaluate", "report") else None
            if stage == "train":
                train_runs(work, runs, budget, sets["train"].prep, args.sets, log)
            elif stage == "evaluate" and step is not None:
                evaluate_runs(work, runs, step, sets, budget, not args.no_calibrate, log)
            elif stage == "report":
                report(work, runs, step, budget, info, log)
            info["stage_seconds"][stage] = time.perf_counter() - begin
            log(f"{stage}: {info['stage_seconds'][stage]:.0f} s")


if __name__ == "__main__":
    main()
