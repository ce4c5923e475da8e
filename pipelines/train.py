"""``xtgeo train``: :func:`xtgeo.train.trainer.run_training` with a progress bar on the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from xtgeo.config import Config
from xtgeo.train.trainer import TrainProgress, run_training


class TrainBar(TrainProgress):
    """A rich bar of steps with the last logged loss, throughput and memory."""

    def start(self, total: int, done: int) -> None:
        columns = (TextColumn("train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                   TimeRemainingColumn())
        self.bar = Progress(*columns)
        self.bar.start()
        self.task = self.bar.add_task("train", total=total, completed=done, info="")

    def update(self, step: int, row: dict[str, Any] | None = None) -> None:
        if row is not None:
            info = f"loss {row['loss']:.4f}  {row['regions_per_s']:.1f} regions/s  {row['memory_gib']:.2f} GiB"
            self.bar.update(self.task, info=info)
        self.bar.update(self.task, completed=step)

    def close(self) -> None:
        self.bar.stop()


def run(config: str | Path | dict | Config, data_dir: str | Path, out_dir: str | Path, **options: Any) -> Path:
    """Train as :func:`~xtgeo.train.trainer.run_training` (same ``options``), showing a bar; returns the run folder."""
    return run_training(config, data_dir, out_dir, progress=TrainBar, **options)
