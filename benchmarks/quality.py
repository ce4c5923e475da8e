"""Model quality on held-out scenes: config vs calibrated thresholds vs calibrated + TTA vs an ensemble.

Every row is a model (one checkpoint or an ensemble) with or without test-time augmentation,
scored with the official xView3 metric on the held-out labelled scenes of ``--test``:

- ``config thresholds``: the checkpoint as trained, with its config's ``postprocess`` thresholds;
- ``calibrated``: the same predictions with thresholds calibrated on the calibration scenes;
- ``calibrated + TTA``: maps averaged over ``--tta-views``, thresholds calibrated with TTA too;
- ``ensemble, calibrated``: the maps of several checkpoints averaged, thresholds calibrated so.

The calibration scenes are in ``--data``: ``--val-scenes``, else the validation scenes of the
checkpoint's config, else (a config that names none) every labelled scene there; they should not
be test scenes. Each model predicts every scene once, at the lowest centre threshold searched
(:mod:`xtgeo.train.calibrate`); thresholds are then filters and re-counts, so the rows of one
model share its predictions. ``predict s`` is the time to predict
the test scenes, ``calibrate s`` the time to predict the calibration scenes and search. The
single checkpoint is ``--checkpoint``, or the run's ``best.pt`` (else ``last.pt``); the ensemble
is every ``--ensemble`` checkpoint given, or ``best.pt`` of every ``--run`` when there are several,
or the last ``--ensemble-last`` step checkpoints of the run. Prints a table; ``--json`` writes
every score key per row.

Example: python benchmarks/quality.py --run runs/xl --data prep --test prep_test --ensemble-last 3 --device cuda
Example: python benchmarks/quality.py --run W/runs/xl_s0 --run W/runs/xl_s1 --run W/runs/xl_s2 \
    --data W/data/val_prep --test W/data/test_prep --window-size 2048 --overlap 512 --device cuda
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from xtgeo.atomic import atomic_path
from xtgeo.config import PostprocessConfig, load_config
from xtgeo.data.dataset import open_prepared
from xtgeo.metrics import SCORE_KEYS, ScoreOptions, score
from xtgeo.predict.inference import TTA_VIEWS
from xtgeo.predict.scene import PredictOptions, load_models, resolve_devices
from xtgeo.train.calibrate import LabelledScenes, open_labelled, predict_candidates, search_thresholds, with_thresholds
from xtgeo.train.checkpoint import (
    CHECKPOINT_DIR,
    THRESHOLD_KEYS,
    best_checkpoint_path,
    checkpoint_path,
    load_checkpoint,
)

#: Table headers of the score keys (the JSON keeps the official names).
SHORT_NAMES = dict(zip(SCORE_KEYS, ("F1_D", "F1_S", "F1_V", "F1_F", "length", "aggregate")))


@dataclasses.dataclass(frozen=True)
class System:
    """A model to score: its checkpoints (an ensemble when several) and its test-time views."""

    name: str
    checkpoints: tuple[Path, ...]
    tta: str = "none"
    with_config_row: bool = False  # also score the config's own thresholds


def _run_checkpoint(run: Path) -> Path:
    best = best_checkpoint_path(run)
    return best if best.is_file() else checkpoint_path(run)


def _single(args: argparse.Namespace) -> Path:
    return args.checkpoint or _run_checkpoint(args.run[0])


def _ensemble(args: argparse.Namespace) -> tuple[Path, ...]:
    if args.ensemble:
        return tuple(args.ensemble)
    if not args.run:
        return ()
    if len(args.run) > 1:
        return tuple(_run_checkpoint(run) for run in args.run)
    steps = sorted((args.run[0] / CHECKPOINT_DIR).glob("step_*.pt"))[-args.ensemble_last:]
    return tuple(steps) if len(steps) > 1 else ()


def _systems(args: argparse.Namespace) -> list[System]:
    single = _single(args)
    systems = [System("single", (single,), with_config_row=True)]
    if args.tta_views != "none":
        systems.append(System(f"TTA {args.tta_views}", (single,), args.tta_views))
    members = _ensemble(args)
    if members:
        systems.append(System(f"ensemble of {len(members)}", members))
    return systems


def _config_thresholds(checkpoint: Path) -> PostprocessConfig:
    """The thresholds of the checkpoint's config, as trained (not its calibration)."""
    return load_config(load_checkpoint(checkpoint)["config"]).postprocess


def _calibration_scenes(args: argparse.Namespace) -> LabelledScenes:
    """``--val-scenes``, else the validation scenes of the checkpoint's config, else every labelled scene."""
    if args.val_scenes:
        return open_labelled(args.data, args.val_scenes)
    config = load_config(load_checkpoint(_single(args))["config"])
    if not (config.data.val_scenes or config.data.val_scenes_count):
        return open_labelled(args.data)
    split = open_prepared(args.data, config.data)
    return open_labelled(args.data, [split.scenes[i].scene_id for i in split.val_ids])


def _score_row(name: str, system: System, thresholds: PostprocessConfig, test: LabelledScenes, candidates,
               seconds: dict[str, float]) -> dict:
    kept = with_thresholds(candidates, thresholds)
    result = score(kept, test.labels, test.shore_root, ScoreOptions(scene_ids=tuple(test.scene_ids)))
    return {"row": name, "checkpoints": [str(p) for p in system.checkpoints], "tta": system.tta,
            "views": len(TTA_VIEWS[system.tta]), **seconds,
            "thresholds": {key: getattr(thresholds, key) for key in THRESHOLD_KEYS},
            "scores": result.scores(), "detections": int(len(kept))}


def _evaluate(system: System, args: argparse.Namespace, val: LabelledScenes, test: LabelledScenes,
              options: PredictOptions, device: torch.device, console: Console) -> list[dict]:
    models, config = load_models(system.checkpoints)
    start = _config_thresholds(system.checkpoints[0])
    config = dataclasses.replace(config, postprocess=start)
    predictor = dataclasses.replace(options, tta=system.tta).predictor(models, device)
    console.print(f"{system.name}: calibrating on {len(val.sources)} scene(s), testing on {len(test.sources)}")
    began = time.perf_counter()
    calibration = search_thresholds(predict_candidates(val.sources, predictor, config, options), val.labels,
                                    val.shore_root, start, val.scene_ids)
    calibrate_s = time.perf_counter() - began
    began = time.perf_counter()
    candidates = predict_candidates(test.sources, predictor, config, options)
    predict_s = time.perf_counter() - began
    rows = []
    if system.with_config_row:
        rows.append(_score_row("config thresholds", system, start, test, candidates, {"predict_s": predict_s}))
    name = "calibrated" if system.tta == "none" and len(models) == 1 else f"{system.name}, calibrated"
    rows.append(_score_row(name, system, calibration.apply(start), test, candidates,
                           {"predict_s": predict_s, "calibrate_s": calibrate_s}))
    rows[-1]["calibration_scores"] = {"before": calibration.before, "after": calibration.after}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--run", type=Path, action="append",
                       help="Run folder (repeat: the ensemble is their best.pt checkpoints).")
    model.add_argument("--checkpoint", type=Path, help="The single checkpoint, instead of a run's best.pt.")
    parser.add_argument("--data", type=Path, required=True,
                        help="PREP_DIR of the calibration scenes (see --val-scenes and the module doc).")
    parser.add_argument("--test", type=Path, required=True, help="PREP_DIR of held-out labelled scenes.")
    parser.add_argument("--val-scenes", nargs="+", help="Calibrate on these scenes of --data instead.")
    parser.add_argument("--test-scenes", nargs="+", help="Score only these scenes of --test.")
    parser.add_argument("--ensemble-last", type=int, default=3, help="Ensemble of the run's last N step checkpoints.")
    parser.add_argument("--ensemble", type=Path, nargs="+", help="Ensemble of these checkpoints instead.")
    parser.add_argument("--tta-views", default="d4", choices=sorted(TTA_VIEWS), help="Views of the TTA row.")
    parser.add_argument("--window-size", type=int, default=4096)
    parser.add_argument("--overlap", type=int, default=512)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true", help="torch.compile the models (GPU).")
    parser.add_argument("--json", type=Path, help="Write every row (all score keys, seconds, thresholds) as JSON.")
    args = parser.parse_args()

    console = Console(width=max(Console().width, 150))
    device = resolve_devices(args.device)[0]
    options = PredictOptions(window_size=args.window_size, overlap=args.overlap, batch=args.batch,
                             compile_model=args.compile)
    options.check()
    val, test = _calibration_scenes(args), open_labelled(args.test, args.test_scenes)
    rows = [row for system in _systems(args) for row in _evaluate(system, args, val, test, options, device, console)]

    table = Table(title=f"held-out xView3 scores: {len(test.sources)} test scene(s), thresholds calibrated on "
                        f"{len(val.sources)} ({device}, window {args.window_size}/{args.overlap})")
    for column in ("row", "models × views", "center / vessel / fishing", *SHORT_NAMES.values(), "predict s",
                   "calibrate s"):
        table.add_column(column, justify="left" if column == "row" else "right")
    for row in rows:
        t = row["thresholds"]
        table.add_row(row["row"], f"{len(row['checkpoints'])} × {row['views']}",
                      f"{t['center_threshold']:g} / {t['vessel_threshold']:g} / {t['fishing_threshold']:g}",
                      *(f"{row['scores'][k]:.4f}" for k in SCORE_KEYS), f"{row['predict_s']:.1f}",
                      f"{row['calibrate_s']:.1f}" if "calibrate_s" in row else "")
    console.print(table)
    if args.json is not None:
        report = {"machine": {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else
                              platform.processor() or platform.machine(), "torch": torch.__version__},
                  "test_scenes": test.scene_ids, "calibration_scenes": val.scene_ids, "rows": rows}
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
