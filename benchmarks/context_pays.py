"""Does context pay? Swin-T <xT> XL against the same model without context, same budget, on
synthetic scenes whose labels are decided by context (harbours, rocks, lattices, lanes, depth).
``--compare validity`` runs the same comparison for XL with and without the validity channel.

Stages (each skipped when its output exists, so the script can run in parts):

    data          xtgeo synth (scenes in parallel) + xtgeo preprocess, training and held-out sets
    train-xl      xtgeo train configs/xview3_swin_t_xl.yaml   with --set overrides below
    train-none    xtgeo train configs/xview3_swin_t_none.yaml with the same overrides and steps
    train-xl_novalid  (--compare validity) the XL config with data.validity_channel=false
    score         xtgeo predict + xtgeo score of the pair on the held-out scenes; prints the table

Example: python benchmarks/context_pays.py --work /tmp/cp --stage all --steps 250 --max-steps 200
Example: python benchmarks/context_pays.py --work /tmp/cp --compare validity --steps 120
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Variant:
    """One trained model: run folder ``run_<name>``, its config and its own ``--set`` overrides."""

    name: str
    title: str
    config: str
    sets: tuple[str, ...] = ()


XL = Variant("xl", "Swin-T <xT> XL", "configs/xview3_swin_t_xl.yaml")
#: The pairs compared, everything else (data, budget, seed) equal.
COMPARISONS = {
    "context": (XL, Variant("none", "Swin-T, no context", "configs/xview3_swin_t_none.yaml")),
    "validity": (XL, Variant("xl_novalid", "Swin-T <xT> XL, no validity channel", XL.config,
                             ("data.validity_channel=false",))),
}
SCORE_KEYS = ("loc_fscore", "loc_fscore_shore", "vessel_fscore", "fishing_fscore", "length_acc", "aggregate")


def _one_scene(args: tuple[str, int, int]) -> pd.DataFrame:
    from xtgeo.synth import make_scene

    out, size, seed = args
    return make_scene(out, height=size, width=size, seed=seed).labels


def make_data(work: Path, name: str, scenes: int, size: int, seed: int, workers: int) -> Path:
    """Synthetic scenes (made in parallel) and their preprocessed folder ``work/<name>_prep``."""
    from dask.distributed import Client, LocalCluster

    from xtgeo.preprocess.run import run_preprocess
    from xtgeo.synth import LABELS_FILE, scene_seeds, write_labels

    raw, prep = work / f"{name}_raw", work / f"{name}_prep"
    if (prep / "labels.parquet").is_file():
        return prep
    raw.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(workers) as pool:
        tables = list(pool.map(_one_scene, [(str(raw), size, s) for s in scene_seeds(seed, scenes)]))
    write_labels(raw / LABELS_FILE, pd.concat(tables, ignore_index=True))
    with LocalCluster(n_workers=workers, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        report = run_preprocess(raw, prep, raw / LABELS_FILE, client=client)
    if report.failed:
        raise SystemExit(f"preprocess failed: {report.failed}")
    return prep


def overrides(steps: int, crop: int, region: int, workers: int) -> tuple[str, ...]:
    """The shared budget: same crops, regions, steps, schedule and data for both models."""
    return (f"data.crop_size={crop}", f"model.region_size={region}", f"train.steps={steps}",
            f"train.epoch_steps={steps}", f"train.warmup_steps={max(steps // 10, 1)}", "train.batch_size=4",
            "train.lr=5.0e-4", "train.log_every=10", f"train.checkpoint_every={max(steps // 5, 1)}",
            "train.validation=none", "data.val_scenes_count=0", f"data.num_workers={workers}")


def train(work: Path, variant: Variant, prep: Path, opts: tuple[str, ...], max_steps: int | None) -> Path:
    from xtgeo.train.checkpoint import checkpoint_path
    from xtgeo.train.trainer import run_training

    run = work / f"run_{variant.name}"
    if not checkpoint_path(run).is_file():
        start = time.perf_counter()
        run_training(variant.config, prep, run, overrides=(*opts, *variant.sets), max_steps=max_steps)
        (run / "wall_s.txt").write_text(f"{time.perf_counter() - start:.1f}\n")
    return run


def wall_seconds(run: Path) -> float | None:
    """Training wall time that :func:`train` recorded in the run folder (None when it did not)."""
    path = run / "wall_s.txt"
    return float(path.read_text()) if path.is_file() else None


def score_runs(work: Path, variants: tuple[Variant, ...], test_prep: Path, window: int,
               out: Path | None) -> dict[str, dict[str, float]]:
    from xtgeo.metrics import score
    from xtgeo.predict.detections import concat_frames, write_detections
    from xtgeo.predict.inference import Predictor
    from xtgeo.predict.scene import default_readers, load_model, predict_scene, resolve_devices
    from xtgeo.predict.sources import find_sources
    from xtgeo.schema import read_predictions

    labels = pd.read_parquet(test_prep / "labels.parquet")
    results = {}
    for variant in variants:
        kind = variant.name
        run = work / f"run_{kind}"
        pred_csv = work / f"pred_{kind}.csv"
        model, config = load_model(run / "checkpoints" / "last.pt")
        device = resolve_devices("auto")[0]
        predictor = Predictor(model, device)
        found = [predict_scene(source, predictor, config, window_size=window, overlap=window // 8,
                               readers=default_readers([device])).detections for source in find_sources(test_prep)]
        write_detections(concat_frames(found), pred_csv)
        scores = score(read_predictions(pred_csv), labels, test_prep / "shoreline").scores()
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        results[kind] = {**{k: float(scores[k]) for k in SCORE_KEYS}, "steps": rows[-1]["step"],
                         "final_loss": rows[-1]["loss"], "regions_per_s": rows[-1]["regions_per_s"],
                         "train_wall_s": wall_seconds(run)}
    table = Table(title="held-out synthetic scenes: xtgeo score")
    table.add_column("model")
    for key in (*SCORE_KEYS, "steps", "train_wall_s"):
        table.add_column(key, justify="right")
    for variant in variants:
        row = results[variant.name]
        wall = "-" if row["train_wall_s"] is None else f"{row['train_wall_s']:.0f}"
        table.add_row(variant.title, *(f"{row[k]:.3f}" for k in SCORE_KEYS), str(row["steps"]), wall)
    Console().print(table)
    if out is not None:
        out.write_text(json.dumps(results, indent=2))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    names = dict.fromkeys(v.name for pair in COMPARISONS.values() for v in pair)
    parser.add_argument("--compare", choices=tuple(COMPARISONS), default="context",
                        help="which pair to train and score")
    parser.add_argument("--stage", choices=("data", *(f"train-{n}" for n in names), "score", "all"), default="all")
    parser.add_argument("--scenes", type=int, default=12)
    parser.add_argument("--test-scenes", type=int, default=4)
    parser.add_argument("--size", type=int, default=3072)
    parser.add_argument("--crop", type=int, default=2048)
    parser.add_argument("--region", type=int, default=256)
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--max-steps", type=int, default=None, help="stop there; the schedule keeps --steps")
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="extra override for every model of the pair, e.g. --set seed=1")
    args = parser.parse_args()
    variants = COMPARISONS[args.compare]
    stages = ("data", *(f"train-{v.name}" for v in variants), "score") if args.stage == "all" else (args.stage,)
    if args.stage.startswith("train-") and args.stage.removeprefix("train-") not in {v.name for v in variants}:
        parser.error(f"--stage {args.stage} is not part of --compare {args.compare}")
    train_prep = make_data(args.work, "train", args.scenes, args.size, 1, args.workers)
    test_prep = make_data(args.work, "test", args.test_scenes, args.size, 2, args.workers)
    opts = (*overrides(args.steps, args.crop, args.region, args.workers), *args.sets)
    for variant in variants:
        if f"train-{variant.name}" in stages:
            train(args.work, variant, train_prep, opts, args.max_steps)
    if "score" in stages:
        score_runs(args.work, variants, test_prep, args.crop, args.json)


if __name__ == "__main__":
    main()
