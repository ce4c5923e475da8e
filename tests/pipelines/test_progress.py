"""Progress when the output is not a terminal: plain lines at a steady cadence, in logs and in train.log."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

from rich.console import Console

from pipelines.progress import LineProgress, progress_for
from tests.paths import REPO, SMOKE_CONFIG

LINE = re.compile(r"^\d\d:\d\d:\d\d train step (\d+)/6 \(\d+%\)")
RATE = re.compile(r" [\d.e+]+/s ETA [\d:]+")


def test_line_progress_writes_at_its_cadence_with_rate_and_eta():
    out = io.StringIO()
    console = Console(file=out, width=200)
    assert isinstance(progress_for(console), LineProgress)
    every = LineProgress(console, interval=0.0)
    task = every.add_task("blocks", total=4)
    for _ in range(4):
        every.advance(task)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and "blocks 1/4 (25%)" in lines[0]  # from the first move on
    assert re.search(r"blocks 2/4 \(50%\) [\d.e+]+/s ETA 0:00:\d\d$", lines[1]), lines[1]
    assert "4/4 (100%)" in lines[-1]
    out.truncate(0), out.seek(0)
    idle = every.add_task("nothing yet", total=3)
    every.remove_task(idle)  # a task that never moved writes nothing (nor does an error before it)
    assert out.getvalue() == ""

    out.truncate(0), out.seek(0)
    rarely = LineProgress(console, interval=3600.0, fields=("info",))
    task = rarely.add_task("train step", total=100, info="")
    for step in range(1, 51):
        rarely.update(task, completed=step, info=f"loss {1 / step:.3f}")
    rarely.remove_task(task)  # the first move, then the last state when the task goes
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "train step 1/100 (1%)" in lines[0]
    assert lines[1].split(" ", 1)[1].startswith("train step 50/100 (50%)")
    assert lines[1].endswith("loss 0.020")


def test_train_into_a_log_file_shows_where_things_are_progress_lines_and_scores(prepared_dataset, tmp_path):
    run_dir = tmp_path / "run"
    log = tmp_path / "out.log"
    with log.open("w") as sink:
        done = subprocess.run(
            [sys.executable, "-c", "import cli; cli.main()", "train", "--config", str(SMOKE_CONFIG), "--data",
             str(prepared_dataset), "--out", str(run_dir), "--set", "train.steps=6", "--set", "train.epoch_steps=6",
             "--set", "data.val_stride_fraction=2"],
            stdout=sink, stderr=subprocess.STDOUT, timeout=600, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "XTGEO_PROGRESS_SECONDS": "0"},
        )
    text = log.read_text()
    assert done.returncode == 0, text
    assert "\x1b[" not in text and "━" not in text  # no terminal bars or colours in a log
    assert f"run folder {run_dir}" in text and f"tensorboard --logdir {run_dir / 'tensorboard'}" in text
    steps = [int(m.group(1)) for line in text.splitlines() if (m := LINE.match(line))]
    assert steps == [1, 2, 3, 4, 5, 6]  # every step, as XTGEO_PROGRESS_SECONDS=0 asks
    last = next(line for line in text.splitlines() if LINE.match(line) and "6/6" in line)
    assert "loss " in last and "regions/s" in last and "ETA 0:00:00" in last
    assert re.search(r"validation at step 6: .*aggregate [\d.]+", text)
    kept = (run_dir / "train.log").read_text()  # the run folder keeps the same lines (rates read apart)

    def steps(log: str) -> list[str]:
        return [RATE.sub("", line.split(" ", 1)[1]) for line in log.splitlines() if LINE.match(line)]

    assert steps(kept) == steps(text) and len(steps(kept)) == 6
    for log_text in (text, kept):  # start-up notes: on the console and in the run's log
        assert re.search(r"model built in [\d.]+ s\n", log_text), log_text
        assert re.search(r"first step done [\d.]+ s after the start \(checkpointing probe 0.0 s", log_text)


def _cli_into_log(log, *args: object) -> tuple[int, str]:
    """``xtgeo ARGS`` in a subprocess whose output is a file (not a terminal), a line per move."""
    with log.open("w") as sink:
        done = subprocess.run([sys.executable, "-c", "import cli; cli.main()", *map(str, args)], stdout=sink,
                              stderr=subprocess.STDOUT, timeout=600, cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO), "XTGEO_PROGRESS_SECONDS": "0"})
    return done.returncode, log.read_text()


def _assert_no_terminal_bars(text: str) -> None:
    """No colours and no bar in a log: every line that counts something is a plain progress line
    (the summary table at the end may draw its box)."""
    assert "\x1b[" not in text
    counting = [line for line in text.splitlines() if re.search(r"\d+/\d+", line) and "━" in line]
    assert not counting, counting


def _moves(text: str, what: str) -> list[tuple[int, int]]:
    """(done, total) of every plain progress line of ``what`` that gives a rate and an ETA."""
    pattern = re.compile(rf"^\d\d:\d\d:\d\d {what} (\d+)/(\d+) \(\d+%\) [\d.e+]+/s ETA [\d:]+")
    return [(int(m.group(1)), int(m.group(2))) for line in text.splitlines() if (m := pattern.match(line))]


def test_preprocess_and_predict_into_a_log_file_write_plain_progress_lines_with_eta(
        synth_dataset, smoke_checkpoint, tmp_path):
    status, text = _cli_into_log(tmp_path / "preprocess.log", "preprocess", synth_dataset, "--out",
                                 tmp_path / "prep", "--workers", 1)
    assert status == 0, text
    _assert_no_terminal_bars(text)
    blocks = _moves(text, "blocks")
    assert blocks and blocks[-1][0] == blocks[-1][1], text  # blocks counted up to their total
    assert _moves(text, "scenes")[-1] == (2, 2), text

    status, text = _cli_into_log(tmp_path / "predict.log", "predict", tmp_path / "prep", "--checkpoint",
                                 smoke_checkpoint, "--out-dir", tmp_path / "detections", "--window-size", 512,
                                 "--overlap", 0, "--device", "cpu")
    assert status == 0, text
    _assert_no_terminal_bars(text)
    assert _moves(text, "scenes")[-1] == (2, 2), text
    windows = [line for line in text.splitlines() if re.search(r" windows \d+/\d+ \(\d+%\) .*ETA", line)]
    assert len(windows) >= 2, text  # each scene's windows, each line with its rate and ETA
