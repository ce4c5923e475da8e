"""Options shared by ``xtgeo`` commands, each defined once (as rasterio's ``rio/options.py``).

A command declares ``name: SomeOption = default``; the flag, its help text and its checks come
from here, so a flag means the same in every command that takes it. Help texts escape the ``[``
of a hand-written ``[default: …]`` (rich markup would swallow it); options with a plain default
show Typer's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def default(text: str) -> str:
    """`` [default: text]`` as it survives rich markup in a help text."""
    return rf" \[default: {text}]"


# --- files and folders -----------------------------------------------------------------------
Config = Annotated[Path, typer.Option("--config", "-c", help="Run config YAML (see configs/).")]
Checkpoint = Annotated[Path, typer.Option("--checkpoint", help="Training checkpoint (.pt) of `xtgeo train`.")]
Checkpoints = Annotated[list[Path], typer.Option(
    "--checkpoint", help="Training checkpoint (.pt) of `xtgeo train`; repeat it to average an ensemble's maps "
    "(thresholds: the first checkpoint's).")]
PrepDir = Annotated[Path, typer.Option("--data", help="Preprocessed scenes folder PREP_DIR (of `xtgeo preprocess`).")]
Quicklook = Annotated[Path | None, typer.Option(
    help="Also draw a PNG of the scene with detections by class; with several scenes or --out-dir, one per scene, "
         "named <stem>_<scene_id>.png.")]
Heatmap = Annotated[Path | None, typer.Option(
    help="Also write the centre probability as a GeoTIFF on the scene grid (uint8 percent, 255 = nodata); with "
         "several scenes or --out-dir, one per scene, named <stem>_<scene_id>.tif.")]

# --- Dask ------------------------------------------------------------------------------------
Workers = Annotated[int | None, typer.Option(
    min=1, help="Dask LocalCluster worker processes" + default("one per core, fewer if memory is short") + ".")]
Scheduler = Annotated[str | None, typer.Option(
    help="Address of a running Dask scheduler (e.g. tcp://host:8786) whose workers do the work instead of this "
         "machine; they need the inputs and outputs at the same paths (a shared file system).")]
Dashboard = Annotated[bool, typer.Option(
    help="Start the LocalCluster's Dask dashboard (needs the bokeh package) and print its address.")]

# --- synthetic data --------------------------------------------------------------------------
Seed = Annotated[int, typer.Option(help="Random seed: the same seed writes identical bytes.")]

# --- prediction ------------------------------------------------------------------------------
WindowSize = Annotated[int, typer.Option(
    help="Side of the inference window in pixels: each window goes through xT whole.")]
Overlap = Annotated[int, typer.Option(help="Overlap of neighbouring windows in pixels (at most half a window).")]
Batch = Annotated[int, typer.Option(min=1, help="Windows per forward pass (halved on GPU out-of-memory).")]
Device = Annotated[str, typer.Option(
    help="auto, cpu, cuda (every GPU, one scene each) or cuda:N; on --scheduler workers auto and cuda mean the "
         "worker's GPU.")]
Readers = Annotated[int | None, typer.Option(
    min=1, help="Window-reading threads per device" + default("the CPU cores shared out per GPU, 4 to 16; 2 on the CPU")
    + ".")]
ScenesPerDevice = Annotated[int, typer.Option(
    min=1, help="Scenes predicted at once on each device, taking its model in turn: while one scene's windows run, "
    "the next one's first windows are read and the last one's detections made. Each holds its full-scene maps "
    "(8 bytes a pixel: 5.7 GB on the GPU for 29,400 x 24,400). On one H100 with 16 cores, 2 gained 1 % (the scenes' "
    "readers share the cores).")]
Compile = Annotated[bool, typer.Option(
    "--compile/--no-compile", help="torch.compile the model: a one-time compilation (about a minute), then faster "
    "windows; pays off from a few full scenes on a GPU.")]
Tta = Annotated[bool, typer.Option(
    "--tta", help="Test-time augmentation: average the maps over the 8 flips and rotations of each window "
    "(8 times the model time).")]
TtaViews = Annotated[str | None, typer.Option(
    "--tta-views", help="Which views --tta averages: rot180 (2), flips (4: mirrors and rot180) or d4 (all 8); "
    "implies --tta.")]
KeepLand = Annotated[bool, typer.Option(
    "--keep-land", help="Keep detections on land (the prepared land band, or owiMask.tif of a raw scene), "
    "marked in an on_land column; by default they are dropped.")]
CenterThreshold = Annotated[float | None, typer.Option(
    help="Centre probability a detection needs" + default("the checkpoint's") + ".")]
NmsRadius = Annotated[int | None, typer.Option(
    "--nms-radius", help="Minimum peak separation in pixels" + default("the checkpoint's") + ".")]
VesselThreshold = Annotated[float | None, typer.Option(
    help="Vessel probability for is_vessel" + default("the checkpoint's") + ".")]
FishingThreshold = Annotated[float | None, typer.Option(
    help="Fishing probability for is_fishing (of vessels)" + default("the checkpoint's") + ".")]


def tta_views(tta: bool, views: str | None) -> str:
    """The test-time augmentation that ``--tta`` and ``--tta-views`` ask for (a name of TTA_VIEWS)."""
    return views or ("d4" if tta else "none")
