"""``xtgeo demo``: the whole chain on synthetic scenes that it makes itself.

Stages run in order into one output folder; each prints what it made, and the demo ends with a
short list of the files worth opening. The folder's files are recorded (:mod:`xtgeo.made`): a
rerun removes those and nothing that was put there since.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from pipelines import predict, preprocess, score, synth, train
from xtgeo.atomic import check_output, make_folder
from xtgeo.config import load_config
from xtgeo.data.dataset import open_prepared
from xtgeo.errors import OutputError, XtgeoError
from xtgeo.made import files_under, is_made_by, record_made, remove_made
from xtgeo.synth import LABELS_FILE, SHORELINE_DIR
from xtgeo.train.checkpoint import checkpoint_path
from xtgeo.train.runlog import METRICS_FILE

SMOKE_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "smoke.yaml"
#: The smoke config trained a little longer, so that the held-out scene gets clean detections
#: (measured: 200 steps and a 0.3 centre threshold give detection F1 0.89 on seed 0's scenes).
DEMO_OVERRIDES = ("train.steps=200", "train.epoch_steps=100", "postprocess.center_threshold=0.3")


#: The name the demo's files are recorded under (:mod:`xtgeo.made`): a rerun replaces those only.
COMMAND = "demo"


def fresh_demo_folder(out_dir: Path) -> None:
    """Remove what an earlier demo made in ``out_dir`` (files put there since are kept); refuse a
    non-empty folder that the demo did not make."""
    check_output(out_dir, folder=True, flag="--out")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not is_made_by(out_dir, COMMAND):
            raise OutputError(f"{out_dir}: is not empty and was not made by `xtgeo demo`; choose another --out")
        remove_made(out_dir, COMMAND)
    make_folder(out_dir)
    record_made(out_dir, COMMAND)


@dataclass
class DemoResult:
    """Where the demo put things; the paths worth opening are in ``highlights``."""

    out_dir: Path
    highlights: dict[str, Path] = field(default_factory=dict)


def run(out_dir: Path, *, scenes: int = 3, size: int = 1024, seed: int = 0,
        console: Console | None = None) -> DemoResult:
    """Run every built stage on ``scenes`` synthetic scenes of ``size`` × ``size`` pixels."""
    console = console or Console(stderr=True)
    out_dir = Path(out_dir)
    fresh_demo_folder(out_dir)
    kept = files_under(out_dir)  # the user's, left by the last demo's cleanup

    def record() -> None:  # after each stage, and after a failure or Ctrl-C: the next demo replaces them
        record_made(out_dir, COMMAND, files_under(out_dir) - kept)

    try:
        return _stages(out_dir, scenes, size, seed, console, record)
    finally:
        record()


def _stages(out_dir: Path, scenes: int, size: int, seed: int, console: Console,
            record: Callable[[], None]) -> DemoResult:
    result = DemoResult(out_dir)

    console.rule("[bold]synth[/]: synthetic Sentinel-1 scenes with context-dependent labels")
    made = synth.run(out_dir / "scenes", scenes=scenes, height=size, width=size, seed=seed,
                     quicklook=True, overwrite=True, console=console)
    labels = made.out_dir / LABELS_FILE
    result.highlights["labels"] = labels

    record()
    console.rule("[bold]preprocess[/]: validity, land, distance to shore, tiled GeoTIFFs (Dask)")
    prep_dir = out_dir / "prep"
    report = preprocess.run(made.out_dir, prep_dir, labels, console=console)
    if report.failed:
        raise XtgeoError(f"{prep_dir}: preprocessing failed for {len(report.failed)} scene(s)")
    result.highlights["prepared"] = prep_dir

    record()
    console.rule("[bold]train[/]: xT smoke run (tiny backbone, Transformer-XL context) on CPU")
    config = load_config(SMOKE_CONFIG, DEMO_OVERRIDES)
    run_dir = train.run(config, prep_dir, out_dir / "run")
    result.highlights["checkpoint"] = checkpoint_path(run_dir)
    result.highlights["metrics"] = run_dir / METRICS_FILE

    prepared = open_prepared(prep_dir, config.data)
    held_out = [prepared.scenes[i].scene_id for i in prepared.val_ids]
    record()
    console.rule(f"[bold]predict[/]: held-out scene {', '.join(held_out)}")
    detections = out_dir / "detections.csv"
    quicklook = out_dir / "detections.png"
    predict.run(prep_dir / held_out[0], result.highlights["checkpoint"], detections, quicklook=quicklook,
                console=console)
    result.highlights["labels quicklook"] = made.out_dir / "quicklook" / f"{held_out[0]}.png"
    result.highlights["detections"] = detections
    result.highlights["detections quicklook"] = quicklook

    record()
    console.rule("[bold]score[/]: official xView3 metric on the held-out scene")
    score.run(detections, labels, shore_root=made.out_dir / SHORELINE_DIR,
              json_out=out_dir / "score.json", console=console)
    result.highlights["score"] = out_dir / "score.json"

    console.rule("[bold]done")
    for name, path in result.highlights.items():
        console.print(f"{name:>20}: {path}")
    return result
