"""``xtgeo train``: :func:`xtgeo.train.trainer.run_training` with progress on the console and in a log.

When it starts it says where the run folder, checkpoints, metrics and TensorBoard logs are, and
what the start-up does until the first step is done (:meth:`TrainProgress.note`). Then a
bar of steps with the last loss, throughput, memory and ETA (plain lines at a steady cadence when
the output is not a terminal), and every validation's scores as they come; the same lines also go
to ``RUN_DIR/train.log``.
"""

from __future__ import annotations

import datetime
import functools
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import TextColumn

from pipelines.progress import LineProgress, progress_for
from xtgeo.config import Config
from xtgeo.train.checkpoint import checkpoint_path
from xtgeo.train.runlog import METRICS_FILE, TENSORBOARD_DIR
from xtgeo.train.trainer import TrainProgress, run_training

#: The plain-text log of a run, in its folder.
LOG_FILE = "train.log"


class TrainBar(TrainProgress):
    """Training progress (a bar on stderr, or lines when it is not a terminal), what the run says
    (where its files are, its start-up notes, validation scores: on stdout), all of it also in
    ``train.log``."""

    def __init__(self, run_dir: str | Path, console: Console | None = None, out: Console | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.console = console or Console(stderr=True)
        self.out = out or Console()

    def start(self, total: int, done: int) -> None:
        self.log_file = (self.run_dir / LOG_FILE).open("a")
        self.log = Console(file=self.log_file, width=240, no_color=True, highlight=False)
        checkpoints = checkpoint_path(self.run_dir).parent
        self._say(f"run folder {self.run_dir}: checkpoints in {checkpoints}, metrics in {self.run_dir / METRICS_FILE},"
                  f" this log in {self.run_dir / LOG_FILE}; TensorBoard: tensorboard --logdir "
                  f"{self.run_dir / TENSORBOARD_DIR}")
        if done:
            self._say(f"resuming at step {done} of {total}")
        self.bars = [progress_for(self.console, TextColumn("{task.fields[info]}"), fields=("info",), transient=False),
                     LineProgress(self.log, fields=("info",))]
        for bars in self.bars:
            bars.start()
        self.tasks = [bars.add_task("train step", total=total, completed=done, info="") for bars in self.bars]

    def update(self, step: int, row: dict[str, Any] | None = None) -> None:
        info = {}
        if row is not None:
            info["info"] = (f"loss {row['loss']:.4f}  {row['regions_per_s']:.1f} regions/s  {row['memory_gib']:.2f} GiB"
                            f"  data wait {row.get('data_wait_fraction', 0.0):.0%}")
        for bars, task in zip(self.bars, self.tasks):
            bars.update(task, completed=step, **info)

    def note(self, text: str) -> None:
        self._say(text)

    def validated(self, row: dict[str, Any]) -> None:
        scores = "  ".join(f"{key.removeprefix('val_')} {value:.4g}" for key, value in row.items()
                           if key.startswith("val_") and isinstance(value, (int, float)))
        self._say(f"validation at step {row['step']}: {scores}")

    def close(self) -> None:
        for bars in self.bars:
            bars.stop()
        self.log_file.close()

    def _say(self, text: str) -> None:
        """A line on stdout and in the log, after the time of day (as progress lines)."""
        line = f"{datetime.datetime.now():%H:%M:%S} {text}"
        for console in (self.out, self.log):
            console.print(line, markup=False, highlight=False, soft_wrap=True)


def run(config: str | Path | dict | Config, data_dir: str | Path, out_dir: str | Path, **options: Any) -> Path:
    """Train as :func:`~xtgeo.train.trainer.run_training` (same ``options``), showing progress and writing
    ``train.log``; returns the run folder."""
    return run_training(config, data_dir, out_dir, progress=functools.partial(TrainBar, out_dir), **options)
