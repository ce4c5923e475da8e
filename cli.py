"""The ``xtgeo`` command line: thin Typer commands that parse, validate and call ``pipelines``.

Options shared by several commands are defined once in :mod:`cli_options`. Every command that
fails on the user's input prints one line ``error: <file>: <problem>`` and exits with status 1
(see :func:`main`); heavy imports happen inside the commands so that ``xtgeo --help`` stays fast.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

import cli_options as opt
import xtgeo
from xtgeo.errors import XtgeoError, one_line

app = typer.Typer(
    name="xtgeo",
    help="Find dark vessels in whole Sentinel-1 SAR scenes with xT (nested tokenization + context).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        print(f"xtgeo {xtgeo.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Find dark vessels in whole Sentinel-1 SAR scenes with xT (nested tokenization + context)."""


# --- commands: synth ---
@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write scene folders, labels.csv and shoreline/ into.")],
    scenes: Annotated[int, typer.Option(help="Number of scenes.")] = 2,
    height: Annotated[int, typer.Option(help="Scene rows (10 m pixels); a full xView3 scene has ~29,400.")] = 2048,
    width: Annotated[int, typer.Option(help="Scene columns (10 m pixels); a full xView3 scene has ~24,400.")] = 2048,
    seed: opt.Seed = 0,
    quicklook: Annotated[bool, typer.Option(help="Also draw OUT_DIR/quicklook/<scene_id>.png per scene.")] = False,
    overwrite: Annotated[bool, typer.Option(
        help="Replace what an earlier synth wrote in OUT_DIR (other files are kept).")] = False,
) -> None:
    """Write synthetic Sentinel-1 scenes in the xView3 layout, with labels decided by scene context.

    OUT_DIR must be new or empty, unless --overwrite.

    Example: xtgeo synth data/synth --scenes 4 --height 2048 --width 2048 --seed 7 --quicklook
    """
    from pipelines.synth import run

    run(out_dir, scenes=scenes, height=height, width=width, seed=seed, quicklook=quicklook, overwrite=overwrite)


# --- commands: preprocess ---
@app.command()
def preprocess(
    scenes_dir: Annotated[Path, typer.Argument(help="Folder of xView3 scene folders (or one scene folder).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder PREP_DIR.")],
    labels: Annotated[Path | None, typer.Option(help="xView3 labels CSV to join to the scenes.")] = None,
    workers: opt.Workers = None,
    scheduler: opt.Scheduler = None,
    dashboard: opt.Dashboard = False,
    overwrite: Annotated[bool, typer.Option(help="Redo scenes whose outputs are already complete.")] = False,
    block_size: Annotated[int, typer.Option(help="Side of a block in pixels: one Dask task per block.")] = 2048,
    shore_cap_km: Annotated[float, typer.Option(help="Distance to shore is exact up to this cap (km), then capped.")]
    = 20.48,
) -> None:
    """Turn raw xView3 scenes into tiled GeoTIFFs with valid/land/distance-to-shore bands, in parallel.

    Writes PREP_DIR/<scene_id>/scene.tif + meta.json, PREP_DIR/shoreline/<scene_id>_shoreline.npy and
    PREP_DIR/labels.parquet; complete scenes are skipped on rerun. Bad scenes are listed at the end
    (exit status 1).

    Example: xtgeo preprocess data/scenes --out prep --labels data/scenes/labels.csv --workers 2
    """
    from pipelines.preprocess import run

    report = run(scenes_dir, out, labels, workers=workers, scheduler=scheduler, dashboard=dashboard,
                 overwrite=overwrite, block_size=block_size, shore_cap_km=shore_cap_km)
    if report.failed:
        raise typer.Exit(1)


# --- commands: score ---
@app.command("score")
def score_command(
    pred_csv: Annotated[Path, typer.Argument(help="Predictions CSV (xView3 submission columns).")],
    labels_csv: Annotated[Path, typer.Argument(help="Labels CSV (the 16 xView3 columns, or the 8 the score reads).")],
    shore_root: Annotated[Path | None, typer.Option(
        help="Folder that holds the <scene_id>_shoreline.npy files (official ones, or those of preprocess "
             "or synth) for the close-to-shore score.")] = None,
    shore_from: Annotated[Path | None, typer.Option(
        help="A preprocess output folder PREP_DIR: the same as --shore-root PREP_DIR/shoreline.")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Write the scores (official keys + counts) as JSON.")] = None,
    per_scene: Annotated[Path | None, typer.Option(help="Write per-scene counts and F1 as CSV.")] = None,
    distance_tolerance: Annotated[float, typer.Option(
        help="Match distance in metres (a hit is strictly closer).")] = 200.0,
    shore_tolerance: Annotated[float, typer.Option(
        help="Close-to-shore distance in km (0: no shore score).")] = 2.0,
    score_all: Annotated[bool, typer.Option(
        "--score-all", help="Score against every label, LOW-confidence ones too, and drop no prediction "
        "(--no-drop-low then changes nothing).")] = False,
    no_drop_low: Annotated[bool, typer.Option(
        "--no-drop-low", help="Still score against HIGH/MEDIUM labels only, but keep the predictions that match "
        "LOW labels (they count as false positives) instead of dropping them.")] = False,
    no_costly_dist: Annotated[bool, typer.Option(
        "--no-costly-dist", help="Use true distances above the tolerance in the assignment.")] = False,
    scene_id: Annotated[list[str] | None, typer.Option(
        "--scene-id", help="Score only this scene (repeatable).")] = None,
) -> None:
    """Score predictions with the official xView3 metric (defaults: the leaderboard invocation).

    By default predictions matched to LOW-confidence labels are dropped, then the rest are scored
    against the HIGH and MEDIUM labels, as on the leaderboard.

    Example: xtgeo score detections.csv labels.csv --shore-root prep/shoreline --json score.json
    """
    from pipelines.score import run
    from xtgeo.metrics import ScoreOptions

    options = ScoreOptions(
        distance_tolerance=distance_tolerance, shore_tolerance=shore_tolerance, score_all=score_all,
        drop_low=not no_drop_low, costly_dist=not no_costly_dist,
        scene_ids=tuple(scene_id) if scene_id else None,
    )
    run(pred_csv, labels_csv, shore_root=shore_root, shore_from=shore_from, json_out=json_out,
        per_scene_csv=per_scene, options=options)


# --- commands: predict ---
@app.command()
def predict(
    scene: Annotated[Path, typer.Argument(
        help="Scene folder, VV_dB.tif, 2-band GeoTIFF, preprocessed scene, or a folder of scenes.")],
    checkpoint: opt.Checkpoints,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="All detections in one file, written at the end: .csv, .gpkg, .geojson or .parquet.")]
    = None,
    out_dir: Annotated[Path | None, typer.Option(
        help="One detections file per scene, DIR/<scene_id>.<format>, written as each scene is done; a rerun "
             "predicts only the scenes whose files are missing.")] = None,
    format_: Annotated[str | None, typer.Option(
        "--format", help="Format of the --out-dir files: csv, gpkg, geojson or parquet"
        + opt.default("that of --out, else csv") + ".")] = None,
    heatmap: opt.Heatmap = None,
    scheduler: opt.Scheduler = None,
    window_size: opt.WindowSize = 4096,
    overlap: opt.Overlap = 512,
    batch: opt.Batch = 1,
    device: opt.Device = "auto",
    quicklook: opt.Quicklook = None,
    readers: opt.Readers = None,
    scenes_per_device: opt.ScenesPerDevice = 1,
    compile_: opt.Compile = False,
    tta: opt.Tta = False,
    tta_views: opt.TtaViews = None,
    keep_land: opt.KeepLand = False,
    center_threshold: opt.CenterThreshold = None,
    nms_radius: opt.NmsRadius = None,
    vessel_threshold: opt.VesselThreshold = None,
    fishing_threshold: opt.FishingThreshold = None,
) -> None:
    """Detect vessels in whole scenes with a trained checkpoint; write georeferenced detections.

    A scene of a folder that fails is reported by name while the others finish (exit status 1 at the
    end). With --scheduler the scenes run on that Dask cluster: one at a time per GPU worker (dask
    worker ADDRESS --resources GPU=1 --nthreads 1, one per GPU), else one per CPU worker thread.

    Example: xtgeo predict prep/SCENE_ID --checkpoint run/checkpoints/last.pt --out det.gpkg --quicklook ql.png

    Example: xtgeo predict scenes/ --checkpoint last.pt --out-dir detections/ --heatmap heat.tif --device cuda

    Example: xtgeo predict /shared/scenes --checkpoint /shared/best.pt --out-dir /shared/det --scheduler tcp://head:8786

    Example: xtgeo predict prep/ --checkpoint a/best.pt --checkpoint b/best.pt --tta --out ensemble_tta.csv
    """
    from pipelines.predict import run
    from xtgeo.predict.scene import PredictOptions

    options = PredictOptions(
        window_size=window_size, overlap=overlap, batch=batch, device=device, readers=readers,
        scenes_per_device=scenes_per_device, compile_model=compile_, tta=opt.tta_views(tta, tta_views),
        keep_land=keep_land, center_threshold=center_threshold, nms_radius_px=nms_radius,
        vessel_threshold=vessel_threshold, fishing_threshold=fishing_threshold,
    )
    run(scene, checkpoint, out, options, out_dir=out_dir, fmt=format_, heatmap=heatmap, quicklook=quicklook,
        scheduler=scheduler)


# --- commands: calibrate ---
@app.command()
def calibrate(
    checkpoint: opt.Checkpoint,
    data: opt.PrepDir,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Calibrated checkpoint to write: a new file, never the input checkpoint.")],
    scenes: Annotated[list[str] | None, typer.Option(
        "--scenes", help="Scene id to calibrate on (repeatable)" + opt.default("every labelled scene of --data")
        + ".")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Write before, after (aggregates), thresholds and all scores as JSON.")] = None,
    window_size: opt.WindowSize = 4096,
    overlap: opt.Overlap = 512,
    batch: opt.Batch = 1,
    device: opt.Device = "auto",
    readers: opt.Readers = None,
    compile_: opt.Compile = False,
    tta: opt.Tta = False,
    tta_views: opt.TtaViews = None,
) -> None:
    """Choose the centre, vessel and fishing thresholds that maximise the xView3 aggregate on labelled scenes.

    Each scene is predicted once; its detections are re-scored for every threshold tried.

    The checkpoint is written to --out with the thresholds; predict uses them (its threshold flags still win).

    Example: xtgeo calibrate --checkpoint run/checkpoints/best.pt --data prep_val --out calibrated.pt --json cal.json
    """
    from pipelines.calibrate import run
    from xtgeo.predict.scene import PredictOptions

    options = PredictOptions(window_size=window_size, overlap=overlap, batch=batch, device=device, readers=readers,
                             compile_model=compile_, tta=opt.tta_views(tta, tta_views))
    run(checkpoint, data, out, scene_ids=scenes, json_out=json_out, options=options)


# --- commands: train ---
@app.command()
def train(
    config: opt.Config,
    data: opt.PrepDir = Path("prep"),
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Run folder" + opt.default("runs/CONFIG_NAME") + ".")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a config value: key.path=value (repeatable).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this step; the schedule keeps train.steps.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out from checkpoints/last.pt.")] = False,
    gpus: Annotated[int | None, typer.Option(
        min=1, help="Local processes (DDP, one per GPU; gloo on CPU without CUDA). Under torchrun: ignored.")] = None,
) -> None:
    """Train xT on preprocessed scenes: checkpoints, metrics.jsonl and TensorBoard logs in the run folder.

    Example: xtgeo train --config configs/smoke.yaml --data prep --out runs/smoke --set train.steps=20
    """
    from pipelines.train import run

    run_dir = run(config, data, out or Path("runs") / config.stem, overrides=tuple(set_ or ()),
                  max_steps=max_steps, resume=resume, gpus=gpus)
    if os.environ.get("RANK", "0") == "0":  # under torchrun every rank returns here
        print(f"run: {run_dir}")


# --- commands: bench ---
@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Benchmark to run; leave out to list them.")] = None,
) -> None:
    """Run a speed/memory benchmark from benchmarks/ and print its table; extra arguments go to it.

    Example: xtgeo bench score --scenes 100 --labels 2000
    """
    from pipelines import bench as benchmarks

    if name is None:
        for script, summary in benchmarks.available().items():
            print(f"{script:>12}  {summary}")
        return
    benchmarks.run(name, list(ctx.args))


# --- commands: demo ---
@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for everything the demo makes.")]
    = Path("xtgeo-demo"),
    scenes: Annotated[int, typer.Option(min=2, help="Number of synthetic scenes.")] = 3,
    size: Annotated[int, typer.Option(min=256, help="Side of each synthetic scene in pixels.")] = 1024,
    seed: opt.Seed = 0,
) -> None:
    """Run the whole chain on synthetic scenes made on the spot, and say where to look.

    Example: xtgeo demo --out xtgeo-demo --scenes 3 --size 1024
    """
    from pipelines.demo import run

    run(out, scenes=scenes, size=size, seed=seed)


def show_library_messages() -> None:
    """Print the library's INFO messages (e.g. the pretrained-weights report) to stderr as plain lines."""
    logger = logging.getLogger("xtgeo")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _one_line_warnings() -> None:
    """Show xtgeo's warnings about the input as ``warning: <file>: <problem>`` lines."""
    import warnings

    from xtgeo.errors import XtgeoWarning

    default = warnings.formatwarning

    def format_warning(message, category, filename, lineno, line=None):  # noqa: ANN001 - warnings' hook
        if issubclass(category, XtgeoWarning):
            return f"warning: {message}\n"
        return default(message, category, filename, lineno, line)

    warnings.formatwarning = format_warning


def _terminate_like_interrupt() -> Callable[[], None]:
    """Let SIGTERM (``kill``, ``timeout``) end a command as Ctrl-C does, so that it cleans up its
    temporaries and records what it wrote; returns the function that restores the old handler."""
    import signal

    def interrupt(signum, frame):  # noqa: ANN001 - signal's hook
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning user errors into one line and exit status 1.

    Without ``argv`` (the ``xtgeo`` process itself) the objects left at the end are frozen out of
    the garbage collector: the interpreter's last collections would otherwise walk all of them
    (numba's, pandas'), 0.2–0.4 s of a 2 s ``xtgeo score``; the process frees its memory anyway.
    """
    show_library_messages()
    _one_line_warnings()
    restore_signals = _terminate_like_interrupt()
    try:
        app(args=argv, prog_name="xtgeo")
    except XtgeoError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        restore_signals()
        if argv is None:
            gc.freeze()


if __name__ == "__main__":
    main()
