"""The GPU timeline analysis of benchmarks/train_profile.py on a hand-made chrome trace."""

from __future__ import annotations

import pytest

from benchmarks.train_profile import gpu_timeline


def _x(cat, name, ts, dur, tid=1, **args):
    return {"ph": "X", "cat": cat, "name": name, "ts": ts, "dur": dur, "tid": tid, "pid": 0, "args": args}


def test_busy_time_is_the_union_of_gpu_work_and_gaps_are_blamed_on_the_launching_frame():
    events = [
        _x("user_annotation", "ProfilerStep#4", 0, 1000),
        _x("python_function", "xtgeo/train/trainer.py(10): train_step", 0, 1000),
        _x("python_function", "xtgeo/train/losses.py(20): center_focal", 600, 100),
        _x("python_function", "torch/nn/functional.py(5): sigmoid", 610, 20),
        _x("cuda_runtime", "cudaLaunchKernel", 10, 5, correlation=1),
        _x("cuda_runtime", "cudaLaunchKernel", 20, 5, correlation=2),
        _x("cuda_runtime", "cudaLaunchKernel", 615, 5, correlation=3),
        _x("cuda_driver", "cuLaunchKernel", 900, 5, tid=2, correlation=4),
        _x("kernel", "a", 100, 300, tid=7, correlation=1),
        _x("kernel", "b", 200, 300, tid=8, correlation=2),  # overlaps a (another stream)
        _x("kernel", "c", 700, 100, tid=7, correlation=3),  # after a 200 µs gap
        _x("gpu_memcpy", "d", 950, 40, tid=7, correlation=4),  # after 150 µs, launched from the autograd thread
    ]
    timeline = gpu_timeline(events)
    assert timeline["steps"] == [{"step": 5, "wall_ms": 1.0, "gpu_busy_ms": pytest.approx(0.54)}]
    assert timeline["busy_us"] == pytest.approx(540) and timeline["window_us"] == 1000
    assert timeline["gaps"] == {
        "xtgeo/train/losses.py(20): center_focal": {"idle_ms": pytest.approx(0.2), "gaps": 1},
        "autograd thread: (nothing recorded)": {"idle_ms": pytest.approx(0.15), "gaps": 1},
    }


def test_no_gpu_work_gives_an_empty_timeline():
    events = [_x("user_annotation", "ProfilerStep#0", 0, 10), _x("cpu_op", "aten::add", 1, 2)]
    assert gpu_timeline(events) == {"steps": [], "gaps": {}, "window_us": 0.0, "busy_us": 0.0}
