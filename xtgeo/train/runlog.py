"""Run logs: ``RUN_DIR/metrics.jsonl`` (one JSON object per logged step) and TensorBoard events."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from xtgeo.atomic import atomic_path, json_safe
from xtgeo.errors import OutputError, XtgeoError, file_errors

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """All rows of a run's ``metrics.jsonl`` (empty when there is none); a last line cut short by a
    killed run is left out."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    rows = []
    for number, line in enumerate(lines, start=1):
        try:
            rows.append(json.loads(line))
        except ValueError:
            if number < len(lines):
                raise XtgeoError(f"{path}: line {number} is not a JSON object (the file was edited or "
                                 f"damaged)") from None
    return rows


def _json_row(row: dict[str, Any]) -> str:
    """One JSON line; NaN and infinities (not JSON) are written as null."""
    return json.dumps(json_safe(row), allow_nan=False)


class RunLog:
    """Appends metric rows to ``metrics.jsonl`` and TensorBoard. On resume from step N, rows
    logged after N by the interrupted run are dropped first, so the log matches the run."""

    def __init__(self, run_dir: str | Path, resume_step: int | None = None) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        if resume_step is not None and self.path.is_file():
            kept = [row for row in read_metrics(run_dir) if row.get("step", 0) <= resume_step]
            with atomic_path(self.path) as tmp:
                tmp.write_text("".join(_json_row(row) + "\n" for row in kept))
        elif self.path.exists():
            self.path.unlink()
        self.file = self.path.open("a")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(Path(run_dir) / TENSORBOARD_DIR), purge_step=resume_step)

    def log(self, row: dict[str, Any]) -> None:
        """Write one row (must hold ``step``); numbers also go to TensorBoard under their key."""
        with file_errors(self.path, "cannot write", OutputError):
            self.file.write(_json_row(row) + "\n")
            self.file.flush()
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(key, value, row["step"])
        self.writer.flush()

    def close(self) -> None:
        self.file.close()
        self.writer.close()
