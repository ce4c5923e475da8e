"""Where ``xtgeo train``'s step time goes on the GPU: busy share and what the GPU waited for.

Trains in this process as ``xtgeo train`` does (on the synthetic scenes of ``benchmarks/train.py``,
made once in ``--work``), profiles steps ``--first`` … ``--first + --count - 1`` with
``torch.profiler`` (CPU and CUDA; Python stacks with ``--stacks``) and prints: per profiled step its wall time and
the time the GPU was busy (the union of its kernels, copies and memsets); and the GPU's idle gaps
blamed on the code that launched the work ending each gap (the innermost xtgeo frame around the
launch with ``--stacks``, else the operators around it; "autograd thread" for backward), summed. The chrome trace
(``trace.json.gz``, for chrome://tracing or Perfetto) and the numbers (``profile.json``) go to
``--out``.

Example (paper config; ``--set train.checkpointing=none`` skips the policy probe):
    python benchmarks/train_profile.py --config configs/xview3_swin_t_xl.yaml --first 20 --count 5 \\
        --out /tmp/train_profile
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from benchmarks.train import prepare
from xtgeo.train.trainer import TrainProgress, run_training

console = Console()
GPU_WORK = {"kernel", "gpu_memcpy", "gpu_memset"}
LAUNCHES = {"cuda_runtime", "cuda_driver"}
STEP = "ProfilerStep#"


def _merged(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _busy(merged: list[tuple[float, float]], lo: float, hi: float) -> float:
    return sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in merged)


class _CallTree:
    """The nested spans (Python frames, operators) of one thread, to ask what ran at a time."""

    def __init__(self, spans: list[tuple[float, float, str]]) -> None:
        self.spans = sorted(spans, key=lambda f: (f[0], -f[1]))
        self.starts = [f[0] for f in self.spans]
        self.parent, stack = [], []
        for i, (lo, _, _) in enumerate(self.spans):
            while stack and self.spans[stack[-1]][1] < lo:
                stack.pop()
            self.parent.append(stack[-1] if stack else -1)
            stack.append(i)

    def around(self, at: float) -> list[str]:
        """Names of the spans running at ``at``, outermost first (spans nest: those around ``at``
        are the latest span started before it and its ancestors)."""
        i, names = bisect.bisect_right(self.starts, at) - 1, []
        while i >= 0:
            if self.spans[i][1] >= at:
                names.append(self.spans[i][2])
            i = self.parent[i]
        return names[::-1]


def _blame(trees: dict[Any, _CallTree], tid: Any, at: float, main_tid: Any) -> str:
    """What ran on ``tid`` at time ``at``: the innermost xtgeo Python frame, else the outermost and
    innermost operators (traces without Python stacks)."""
    around = trees[tid].around(at) if tid in trees else []
    ours = [name for name in around if "xtgeo/" in name]
    if ours:
        where = ours[-1]
    elif around:
        where = around[0] if len(around) == 1 else f"{around[0]} › {around[-1]}"
    else:
        where = "(nothing recorded)"
    return where if tid == main_tid else f"autograd thread: {where}"


def gpu_timeline(events: list[dict[str, Any]], min_gap_us: float = 10.0) -> dict[str, Any]:
    """From chrome-trace ``events``: each profiled step's wall and GPU-busy microseconds, and the
    GPU's idle gaps of at least ``min_gap_us`` inside the steps, summed by the frame blamed for each
    (:func:`_blame` of the launch of the GPU work that ends the gap)."""
    steps = sorted((e for e in events if e.get("name", "").startswith(STEP) and e.get("cat") == "user_annotation"),
                   key=lambda e: e["ts"])
    work = sorted((e for e in events if e.get("cat") in GPU_WORK), key=lambda e: e["ts"])
    if not steps or not work:
        return {"steps": [], "gaps": {}, "window_us": 0.0, "busy_us": 0.0}
    merged = _merged([(e["ts"], e["ts"] + e["dur"]) for e in work])
    launches = {e["args"]["correlation"]: e for e in events
                if e.get("cat") in LAUNCHES and "correlation" in e.get("args", {})}
    frames: dict[Any, list[tuple[float, float, str]]] = defaultdict(list)
    for e in events:
        if e.get("cat") in ("python_function", "cpu_op", "user_annotation") and not e["name"].startswith(STEP):
            frames[e["tid"]].append((e["ts"], e["ts"] + e["dur"], e["name"]))
    trees = {tid: _CallTree(spans) for tid, spans in frames.items()}
    main_tid = steps[0]["tid"]  # (the profiler numbers steps from 0, training from 1)
    rows = [{"step": int(s["name"][len(STEP):]) + 1, "wall_ms": s["dur"] / 1e3,
             "gpu_busy_ms": _busy(merged, s["ts"], s["ts"] + s["dur"]) / 1e3} for s in steps]
    lo, hi = steps[0]["ts"], steps[-1]["ts"] + steps[-1]["dur"]
    starts = [e["ts"] for e in work]
    gaps: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for (_, end), (begin, _) in zip(merged, merged[1:]):
        if begin - end < min_gap_us or end < lo or begin > hi:
            continue
        after = work[bisect.bisect_left(starts, begin)]
        launch = launches.get(after.get("args", {}).get("correlation"))
        who = _blame(trees, launch["tid"], launch["ts"], main_tid) if launch else f"(no launch) {after['name'][:60]}"
        gaps[who][0] += (begin - end) / 1e3
        gaps[who][1] += 1
    return {"steps": rows, "window_us": hi - lo, "busy_us": _busy(merged, lo, hi),
            "gaps": dict(sorted(((k, {"idle_ms": v[0], "gaps": v[1]}) for k, v in gaps.items()),
                                key=lambda kv: -kv[1]["idle_ms"]))}


class ProfiledSteps(TrainProgress):
    """Profiles training steps ``first`` … ``first + count - 1`` (each step's ``update`` advances it)."""

    def __init__(self, first: int, count: int, out: Path, stacks: bool = False) -> None:
        from torch.profiler import ProfilerActivity, profile, schedule

        self.out = out
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
        self.profiler = profile(activities=activities, with_stack=stacks, on_trace_ready=self._ready,
                                schedule=schedule(wait=max(first - 2, 0), warmup=1 if first > 1 else 0,
                                                  active=count, repeat=1))
        self.started = False

    def start(self, total: int, done: int) -> None:
        self.profiler.start()
        self.started = True

    def update(self, step: int, row: dict[str, Any] | None = None) -> None:
        self.profiler.step()

    def note(self, text: str) -> None:
        console.print(f"[dim]{text}")

    def close(self) -> None:
        if self.started:
            self.profiler.stop()
            self.started = False

    def _ready(self, prof: Any) -> None:
        trace = self.out / "trace.json.gz"
        prof.export_chrome_trace(str(trace))  # gzipped by torch, through a temporary file of its own
        with gzip.open(trace, "rt") as packed:
            events = json.load(packed)["traceEvents"]
        (self.out / "profile.json").write_text(json.dumps(gpu_timeline(events), indent=2))


def report(timeline: dict[str, Any]) -> None:
    """Print the steps' wall and GPU-busy times and the largest sources of GPU idle time."""
    steps = Table(title="profiled steps")
    for column in ("step", "wall ms", "GPU busy ms", "busy %"):
        steps.add_column(column)
    for row in timeline["steps"]:
        steps.add_row(str(row["step"]), f"{row['wall_ms']:.1f}", f"{row['gpu_busy_ms']:.1f}",
                      f"{100 * row['gpu_busy_ms'] / max(row['wall_ms'], 1e-9):.0f}")
    console.print(steps)
    window, busy = timeline["window_us"], timeline["busy_us"]
    console.print(f"GPU busy {busy / 1e3:.1f} of {window / 1e3:.1f} ms ({100 * busy / max(window, 1e-9):.1f} %) "
                  "over the profiled steps (profiler overhead included)")
    gaps = Table(title="GPU idle gaps, by the code launching the work that ended them")
    for column in ("idle ms", "gaps", "launched from"):
        gaps.add_column(column)
    for who, row in list(timeline["gaps"].items())[:20]:
        gaps.add_row(f"{row['idle_ms']:.2f}", str(row["gaps"]), who[:110])
    console.print(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=Path("configs/xview3_swin_t_xl.yaml"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/xtgeo_bench_train"))
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--side", type=int, default=4608, help="synthetic scene side in pixels")
    parser.add_argument("--first", type=int, default=20, help="first profiled step")
    parser.add_argument("--count", type=int, default=5, help="profiled steps")
    parser.add_argument("--set", action="append", default=[], help="config override key=value (repeatable)")
    parser.add_argument("--stacks", action="store_true",
                        help="record Python stacks (gaps blamed on xtgeo functions; a much larger, slower trace)")
    parser.add_argument("--out", type=Path, default=Path("train_profile"))
    args = parser.parse_args()
    if args.first < 1 or args.count < 1:
        parser.error("--first and --count must be positive")
    args.out.mkdir(parents=True, exist_ok=True)
    prep = prepare(args.work, args.scenes, args.side)
    n = 0
    while (args.work / f"profile{n}").exists():
        n += 1
    steps = args.first + args.count
    overrides = [f"train.steps={steps}", f"train.log_every={steps}", "train.validation=none",
                 f"train.checkpoint_every={steps}", "data.val_scenes_count=0", *args.set]
    progress = ProfiledSteps(args.first, args.count, args.out, args.stacks)
    run_training(args.config, prep, args.work / f"profile{n}", overrides, progress=lambda: progress)
    report(json.loads((args.out / "profile.json").read_text()))


if __name__ == "__main__":
    main()
