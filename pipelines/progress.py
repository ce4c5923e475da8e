"""Progress of long commands: rich bars (with an ETA) on a terminal, plain lines otherwise.

When the output is a log file, a pipe or a batch job's capture, :class:`LineProgress` writes one
line when a task first moves, then one every :data:`INTERVAL_S` seconds for each task that moved,
and one when it completes: ``12:00:05 scenes 3/100 (3%) 0.21/s ETA 0:07:42 …``. It offers the part of rich's
``Progress`` that the commands use, so a command drives either one the same way
(:func:`progress_for`).
"""

from __future__ import annotations

import datetime
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: Seconds between two log lines of a task (``XTGEO_PROGRESS_SECONDS`` in the environment sets it).
INTERVAL_S = float(os.environ.get("XTGEO_PROGRESS_SECONDS", "30"))


def bar_columns(*extra: ProgressColumn) -> tuple[ProgressColumn, ...]:
    """The columns of xtgeo's bars: description, bar, done/total, ``extra``, elapsed, ETA."""
    return (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), *extra, TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn())


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0.0
    fields: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    start_completed: float = 0.0
    printed: float = field(default_factory=time.monotonic)
    printed_completed: float = 0.0


class LineProgress:
    """Plain progress lines at a steady cadence (see the module doc); thread-safe."""

    def __init__(self, console: Console, interval: float | None = None, fields: tuple[str, ...] = ()):
        self.console, self.fields = console, fields
        self.interval = INTERVAL_S if interval is None else interval
        self._tasks: dict[int, _Task] = {}
        self._next = 0
        self._lock = threading.Lock()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Nothing to start (rich's API)."""

    def stop(self) -> None:
        """Nothing to stop (rich's API)."""

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **fields: Any) -> int:
        """A new task (its first line comes when it first moves)."""
        with self._lock:
            task_id, self._next = self._next, self._next + 1
            self._tasks[task_id] = _Task(description, total, completed, fields, start_completed=completed,
                                         printed_completed=completed)
        return task_id

    def advance(self, task_id: int, advance: float = 1) -> None:
        """``advance`` more done."""
        with self._lock:
            task = self._tasks[task_id]
            task.completed += advance
            self._maybe_write(task)

    def update(self, task_id: int, *, completed: float | None = None, total: float | None = None,
               advance: float | None = None, **fields: Any) -> None:
        """Set what is done (or ``advance`` it), the total or other fields."""
        with self._lock:
            task = self._tasks[task_id]
            if total is not None:
                task.total = total
            if completed is not None:
                task.completed = completed
            if advance is not None:
                task.completed += advance
            task.fields.update(fields)
            self._maybe_write(task)

    def remove_task(self, task_id: int) -> None:
        """Forget a task (its last line is written if it moved since)."""
        with self._lock:
            task = self._tasks.pop(task_id)
            if task.completed != task.printed_completed:
                self._write(task)

    def _maybe_write(self, task: _Task) -> None:
        if task.completed == task.printed_completed:
            return
        first = task.printed_completed == task.start_completed
        finished = task.total is not None and task.completed >= task.total
        if first or finished or time.monotonic() - task.printed >= self.interval:
            self._write(task)

    def _write(self, task: _Task) -> None:
        now = time.monotonic()
        task.printed, task.printed_completed = now, task.completed
        parts = [datetime.datetime.now().strftime("%H:%M:%S"), task.description]
        if task.total:
            parts.append(f"{task.completed:g}/{task.total:g} ({100 * task.completed / task.total:.0f}%)")
        else:
            parts.append(f"{task.completed:g}")
        rate = (task.completed - task.start_completed) / max(now - task.started, 1e-9)
        if task.completed > task.start_completed:
            parts.append(f"{rate:.3g}/s")
            if task.total:
                eta = max(task.total - task.completed, 0) / rate
                parts.append(f"ETA {datetime.timedelta(seconds=round(eta))}")
        parts += [str(task.fields[name]) for name in self.fields if task.fields.get(name)]
        self.console.print(" ".join(parts), markup=False, highlight=False, soft_wrap=True)


def progress_for(console: Console, *extra: ProgressColumn, fields: tuple[str, ...] = (),
                 transient: bool = True) -> Progress | LineProgress:
    """Rich bars (:func:`bar_columns` + ``extra``) when ``console`` is a terminal, else
    :class:`LineProgress` showing the task ``fields`` that ``extra`` shows."""
    if console.is_terminal and not console.is_jupyter:
        return Progress(*bar_columns(*extra), console=console, transient=transient)
    return LineProgress(console, fields=fields)
