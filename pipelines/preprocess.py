"""``xtgeo preprocess``: :func:`xtgeo.preprocess.run.run_preprocess` with progress bars and a summary table."""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console
from rich.table import Table

from pipelines.progress import progress_for
from xtgeo.preprocess.run import PreprocessProgress, PreprocessReport, SceneOutcome, run_preprocess


class PreprocessBars(PreprocessProgress):
    """Two bars (or log lines): scenes and blocks, with an ETA (failed scenes are listed in the summary)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bars = progress_for(console)

    def start(self, scenes: int, blocks: int, dashboard: str | None = None) -> None:
        if dashboard:
            self.console.print(f"Dask dashboard: {dashboard}")
        self.bars.start()
        self.scenes = self.bars.add_task("scenes", total=scenes)
        self.blocks = self.bars.add_task("blocks", total=blocks)

    def block_done(self) -> None:
        self.bars.advance(self.blocks)

    def scene_done(self, outcome: SceneOutcome) -> None:
        self.bars.advance(self.scenes)

    def close(self) -> None:
        self.bars.stop()


def run(scenes_dir: str | os.PathLike, out: str | os.PathLike, labels: str | os.PathLike | None = None, *,
        console: Console | None = None, **options: Any) -> PreprocessReport:
    """Preprocess as :func:`~xtgeo.preprocess.run.run_preprocess` (same ``options``), showing
    progress, then print the summary."""
    console = console or Console(stderr=True)
    report = run_preprocess(scenes_dir, out, labels, progress=PreprocessBars(console), **options)
    print_summary(report, console)
    return report


def print_summary(report: PreprocessReport, console: Console) -> None:
    """A table of scenes, a line about the labels, and each failed scene with its problem as a whole
    line (never cut to fit a table cell)."""
    table = Table(title="preprocess", show_lines=False)
    for column in ("scene", "status", "seconds", "detail"):
        table.add_column(column)
    styles = {"done": "green", "skipped": "cyan", "failed": "bold red"}
    for o in report.outcomes:
        seconds = f"{o.seconds:.1f}" if o.status == "done" else ""
        detail = "see below" if o.status == "failed" else o.message
        table.add_row(o.scene_id, f"[{styles[o.status]}]{o.status}[/]", seconds, detail)
    console.print(table)
    if report.labels is not None:
        lab = report.labels
        console.print(f"labels: {lab.written} rows written to {lab.path}", soft_wrap=True)
        if len(lab.outside):
            sample = ", ".join(
                f"{r.scene_id} row {int(r.detect_scene_row)} col {int(r.detect_scene_column)}"
                for r in lab.outside.head(5).itertuples()
            )
            console.print(f"[yellow]labels: {len(lab.outside)} rows outside their scene, dropped[/] ({sample})",
                          soft_wrap=True)
        if lab.unknown_scene_rows:
            console.print(f"labels: {lab.unknown_scene_rows} rows of scenes not preprocessed here, dropped",
                          soft_wrap=True)
    for o in report.failed:
        console.print(f"failed: {o.scene_id}: {o.message}", soft_wrap=True, markup=False, highlight=False)
    if report.failed:
        console.print(f"[bold red]{len(report.failed)} of {len(report.outcomes)} scenes failed[/]")
