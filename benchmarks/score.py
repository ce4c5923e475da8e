"""Benchmark ``xtgeo score``: the fast scorer against the dense reimplementation (and the official code).

Simulated xView3-like tables (``xtgeo.synth.score_tables``): N scenes × M labels and as many
predictions, with a shoreline per scene, once with whole-pixel prediction coordinates (exact
distance ties: some scene passes need scipy's own tie-breaking, replayed) and once sub-pixel. Prints
one row per scorer and coordinate kind with its time, its speed-up over the dense reference and the
official code, whether the six official scores are identical, and the fast scorer's tied passes.
``--official DIR`` also times the official ``metric.py`` (DIUx-xView xview3-reference, checked out
outside this repository). ``--whole-process`` adds rows that time whole commands from the CSV files
on disk, interpreter start and imports included: ``xtgeo score`` (``python cli.py score``) and,
with ``--official``, ``python DIR/metric.py`` with the leaderboard flags; ``--repeat N`` runs each
command N times, the two in turn, and reports the median (the load average is in the title).

Example: python benchmarks/score.py --scenes 100 --labels 2000 --official /tmp/official --whole-process
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from xtgeo.metrics import score
from xtgeo.metrics.lsap import scipy_assignment
from xtgeo.scene.shoreline import write_shoreline
from xtgeo.synth.score_tables import noisy_predictions, random_labels, random_shoreline


def _official_scores(official_dir: Path, pred: pd.DataFrame, gt: pd.DataFrame, shore_root: str | None) -> dict:
    """Run the official pipeline (its ``main`` minus argument parsing and file reading)."""
    os.environ["TQDM_DISABLE"] = "1"
    sys.path.insert(0, str(official_dir))
    metric = importlib.import_module("metric")
    gt = gt[gt["scene_id"].isin(pred["scene_id"].unique())].reset_index()
    pred = metric.drop_low_confidence_preds(pred, gt, distance_tolerance=200, costly_dist=True)
    gt = gt[gt["confidence"].isin(["HIGH", "MEDIUM"])].reset_index()
    return metric.score(pred, gt, shore_root, 200, 2, True)


REPO = Path(__file__).resolve().parent.parent


def _timed_command(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "TQDM_DISABLE": "1"})
    return time.perf_counter() - start


def _whole_processes(args, preds, labels, shore_root: Path | None, tmp: Path, timings: dict, results: dict) -> None:
    """Time ``xtgeo score`` (and the official ``metric.py``) as whole processes on CSV files, each
    ``args.repeat`` times in turn; the median goes to ``timings``."""
    pred_csv, gt_csv, out = tmp / "pred_wp.csv", tmp / "gt_wp.csv", tmp / "score.json"
    preds.to_csv(pred_csv, index=False)
    labels.to_csv(gt_csv, index=False)
    command = [sys.executable, str(REPO / "cli.py"), "score", str(pred_csv), str(gt_csv), "--json", str(out)]
    if shore_root:
        command += ["--shore-root", str(shore_root)]
    commands = {"xtgeo score (process)": (command, REPO, out)}
    if args.official:
        official_out = tmp / "official.json"
        command = [sys.executable, str(args.official / "metric.py"), "--inference_file", str(pred_csv),
                   "--label_file", str(gt_csv), "--output", str(official_out), "--distance_tolerance", "200",
                   "--shore_tolerance", "2", "--drop_low_detect", "--costly_dist"]
        if shore_root:
            command += ["--shore_root", str(shore_root)]
        commands["official metric.py (process)"] = (command, args.official, official_out)
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, (command, cwd, written) in commands.items():
            written.unlink(missing_ok=True)
            seconds[name].append(_timed_command(command, cwd))
            results[name] = json.loads(written.read_text())  # the six scores at top level, and more
    for name, runs in seconds.items():
        timings[name] = statistics.median(runs)
        print(f"{name}: " + ", ".join(f"{s:.2f}" for s in runs) + f" s (median {timings[name]:.2f})", flush=True)


def _as_official_csv(frame: pd.DataFrame, folder: Path, name: str) -> pd.DataFrame:
    """Round-trip through CSV so the official code sees the dtypes it sees in production."""
    path = folder / name
    frame.to_csv(path, index=False)
    return pd.read_csv(path, index_col=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=100)
    parser.add_argument("--labels", type=int, default=2000, help="labels per scene (and as many predictions)")
    parser.add_argument("--coords", choices=("both", "whole-pixel", "sub-pixel"), default="both",
                        help="prediction coordinates: whole pixels (exact distance ties) and/or sub-pixel")
    parser.add_argument("--no-shore", action="store_true", help="score without shoreline files")
    parser.add_argument("--skip-dense", action="store_true")
    parser.add_argument("--official", type=Path, help="folder with the official metric.py and constants.py")
    parser.add_argument("--whole-process", action="store_true",
                        help="also time whole commands (xtgeo score, official metric.py) from CSV files")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each whole process (the median is shown)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    table = Table(title=f"xtgeo score: {args.scenes} scenes × {args.labels} labels and as many predictions"
                  f" (shore {'off' if args.no_shore else 'on'}; load average at the start "
                  f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())})")
    for column in ("coordinates", "scorer", "seconds", "× vs dense", "× vs official", "same six scores",
                   "aggregate", "tied scene passes"):
        table.add_column(column, justify="right")
    kinds = ["whole-pixel", "sub-pixel"] if args.coords == "both" else [args.coords]
    # numba compiles the tie replay at its first use (once per install): keep that out of the timings
    scipy_assignment((2, 2), np.array([0]), np.array([0]), np.array([1.0]), 1e8)
    for kind in kinds:
        _benchmark(args, kind, table)
    Console().print(table)


def _benchmark(args: argparse.Namespace, kind: str, table: Table) -> None:
    """Time every scorer on one simulated data set and add its rows to ``table``."""
    rng = np.random.default_rng(args.seed)
    labels = random_labels(rng, args.scenes, args.labels)
    preds = noisy_predictions(rng, labels, integer=kind == "whole-pixel")
    with tempfile.TemporaryDirectory() as tmp:
        shore_root = None
        if not args.no_shore:
            shore_root = Path(tmp) / "shoreline"
            shore_root.mkdir()
            for scene_id in labels["scene_id"].unique():
                write_shoreline(shore_root / f"{scene_id}_shoreline.npy", random_shoreline(rng))
        timings: dict[str, float] = {}
        results: dict[str, dict] = {}
        for matcher in ["fast"] + ([] if args.skip_dense else ["dense"]):
            start = time.perf_counter()
            result = score(preds, labels, shore_root, matcher=matcher)
            timings[matcher] = time.perf_counter() - start
            results[matcher] = result.scores()
            if matcher == "fast":
                tied = result.dense_scenes
        if args.official:
            pred_csv = _as_official_csv(preds, Path(tmp), "pred.csv")
            gt_csv = _as_official_csv(labels, Path(tmp), "gt.csv")
            start = time.perf_counter()
            results["official"] = _official_scores(args.official, pred_csv, gt_csv,
                                                   str(shore_root) if shore_root else None)
            timings["official"] = time.perf_counter() - start
        if args.whole_process:
            _whole_processes(args, preds, labels, shore_root, Path(tmp), timings, results)

    reference = results.get("official", results.get("dense"))
    for name, seconds in timings.items():
        table.add_row(
            kind,
            name,
            f"{seconds:.3f}",
            f"{timings['dense'] / seconds:.1f}" if "dense" in timings else "-",
            _speedup(timings, name, seconds),
            "-" if reference is None else str(all(results[name][k] == reference[k] for k in reference)),
            f"{results[name]['aggregate']:.6f}",
            str(tied) if name == "fast" else "",
        )


def _speedup(timings: dict[str, float], name: str, seconds: float) -> str:
    """How many times faster than the official code: a whole process against the official process,
    an in-process scorer against the official code in process."""
    official = "official metric.py (process)" if name.endswith("(process)") else "official"
    return f"{timings[official] / seconds:.1f}" if official in timings else "-"


if __name__ == "__main__":
    main()
