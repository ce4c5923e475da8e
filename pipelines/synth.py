"""``xtgeo synth``: write a synthetic xView3 dataset with a progress bar and a summary table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from pipelines.progress import progress_for
from xtgeo.made import record_made
from xtgeo.synth import LABELS_FILE, SHORELINE_DIR, make_dataset
from xtgeo.synth.make import COMMAND

QUICKLOOK_DIR = "quicklook"


@dataclass(frozen=True)
class SynthResult:
    """What ``synth`` wrote: the dataset folder, its labels and the quicklook PNGs."""

    out_dir: Path
    labels: pd.DataFrame
    quicklooks: list[Path]


def summary_table(labels: pd.DataFrame) -> Table:
    """Per-scene object counts by class, as a rich table."""
    table = Table(title="synthetic scenes", caption="near shore: known distance to land < 2 km")
    table.add_column("scene", no_wrap=True, min_width=17)
    for column in ("objects", "vessels", "fishing", "non-vessels", "near shore"):
        table.add_column(column, justify="right")
    for scene_id, rows in labels.groupby("scene_id", sort=False):
        vessel = rows["is_vessel"].astype("boolean")
        table.add_row(
            scene_id, str(len(rows)), str(int(vessel.fillna(False).sum())),
            str(int(rows["is_fishing"].astype("boolean").fillna(False).sum())),
            str(int((~vessel.fillna(True)).sum())), str(int((rows["distance_from_shore_km"] < 2).sum())),
        )
    return table


def run(out_dir: Path, *, scenes: int, height: int, width: int, seed: int, quicklook: bool = False,
        overwrite: bool = False, console: Console | None = None) -> SynthResult:
    """Make the dataset (see :func:`xtgeo.synth.make_dataset`), optionally quicklooks, and report."""
    console = console or Console(stderr=True)
    with progress_for(console) as progress:
        task = progress.add_task("synth rows", total=2 * scenes * height)
        labels = make_dataset(out_dir, scenes=scenes, height=height, width=width, seed=seed,
                              on_rows=lambda n: progress.advance(task, n), overwrite=overwrite)
    quicklooks: list[Path] = []
    if quicklook:
        from xtgeo.plots import quicklook as draw

        for scene_id, rows in labels.groupby("scene_id", sort=False):
            quicklooks.append(draw(out_dir / scene_id, rows, out_dir / QUICKLOOK_DIR / f"{scene_id}.png"))
            record_made(out_dir, COMMAND, quicklooks[-1:])
    console.print(summary_table(labels))
    console.print(f"wrote {scenes} scene(s), {out_dir / LABELS_FILE} and {out_dir / SHORELINE_DIR}/")
    return SynthResult(out_dir, labels, quicklooks)
