"""``xtgeo predict --scheduler``: scenes on a real Dask scheduler and workers (processes on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from dask.distributed import Client, get_task_stream

from pipelines import predict
from tests.paths import REPO
from xtgeo.predict.cluster import cluster_has_gpus
from xtgeo.predict.scene import PredictOptions
from xtgeo.synth.make import make_scene

OPTIONS = PredictOptions(window_size=128, overlap=16, device="auto", center_threshold=0.0)


def _start(args: list[str], log) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT, env=env)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A ``dask scheduler`` and two ``dask worker`` processes without nannies, each advertising one
    GPU (on this CPU machine they predict on the CPU: the resource only schedules)."""
    folder = tmp_path_factory.mktemp("dask")
    address_file = folder / "scheduler.json"
    log = (folder / "dask.log").open("w")
    processes = [_start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                         "--scheduler-file", str(address_file)], log)]
    try:
        deadline = time.monotonic() + 120
        while not address_file.is_file():
            assert time.monotonic() < deadline and processes[0].poll() is None, "the scheduler did not start"
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        workers = [_start(["distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                           "--host", "127.0.0.1", "--resources", "GPU=1"], log) for _ in range(2)]
        processes += workers
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=180)
            pids = client.run(os.getpid)
        yield address, {address_of: next(p for p in workers if p.pid == pid) for address_of, pid in pids.items()}
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory, smoke_checkpoint):
    root = tmp_path_factory.mktemp("scenes")
    for seed in (4, 5):
        make_scene(root / "scenes", height=256, width=320, seed=seed)
    return root / "scenes", smoke_checkpoint


def test_cluster_run_equals_the_local_run_even_when_a_worker_dies_mid_scene(cluster, world, tmp_path):
    address, workers = cluster
    scenes, ckpt = world
    predict.run(scenes, ckpt, None, OPTIONS, out_dir=tmp_path / "local", heatmap="heat.tif")
    assert len(list((tmp_path / "local").iterdir())) == 4  # detections and a heatmap per scene

    outcome: dict = {}
    run = threading.Thread(target=lambda: outcome.update(out=predict.run(
        scenes, ckpt, tmp_path / "all.csv", OPTIONS, out_dir=tmp_path / "remote", heatmap="heat.tif",
        scheduler=address)))
    with Client(address, timeout="60s") as watcher:
        assert cluster_has_gpus(watcher)
        run.start()
        deadline, victim = time.monotonic() + 180, None
        while victim is None:  # the first worker seen busy with a scene dies (SIGKILL: no goodbye)
            assert time.monotonic() < deadline and run.is_alive(), "no scene was seen running"
            busy = [w for w, keys in watcher.processing().items() if any("xtgeo-predict" in k for k in keys)]
            victim = workers[busy[0]] if busy else None
            time.sleep(0.02)
        os.kill(victim.pid, signal.SIGKILL)
        run.join(timeout=300)
    assert not run.is_alive()
    victim.wait(timeout=30)
    assert outcome["out"] == tmp_path / "all.csv"  # no scene failed (that would have raised)
    local = sorted((tmp_path / "local").iterdir())
    assert [p.name for p in local] == sorted(p.name for p in (tmp_path / "remote").iterdir())
    for path in local:  # detections and heatmaps: the same bytes
        assert (tmp_path / "remote" / path.name).read_bytes() == path.read_bytes(), path.name
    rows = sum(len(p.read_text().splitlines()) - 1 for p in local if p.suffix == ".csv")
    assert len((tmp_path / "all.csv").read_text().splitlines()) == 1 + rows > 1


def _mark_cached_predictors(token: str) -> int:
    """On a worker: tag every predictor it keeps with ``token``; how many it keeps."""
    from xtgeo.predict import cluster as worker_side

    for predictor, _ in worker_side._loaded.values():
        predictor.test_token = token
    return len(worker_side._loaded)


def _cached_tokens() -> list[str | None]:
    """On a worker: the token of each predictor it keeps (None: loaded since the tagging)."""
    from xtgeo.predict import cluster as worker_side

    return [getattr(predictor, "test_token", None) for predictor, _ in worker_side._loaded.values()]


def test_a_worker_loads_the_model_once_for_all_its_scenes(cluster, world, tmp_path):
    address, _ = cluster
    scenes, ckpt = world
    with Client(address, timeout="60s") as client:
        predict.run(scenes, ckpt, None, OPTIONS, out_dir=tmp_path / "first", scheduler=address)
        kept = client.run(_mark_cached_predictors, "first run")
        assert set(kept.values()) <= {0, 1} and sum(kept.values()) >= 1  # one model set per worker that ran a scene
        with get_task_stream(client) as stream:  # which worker ran which scene (the scheduler's record)
            predict.run(scenes, ckpt, None, OPTIONS, out_dir=tmp_path / "second", scheduler=address)
        tokens = client.run(_cached_tokens)
    assert len(list((tmp_path / "second").iterdir())) == 2  # both scenes were predicted again
    ran = {task["worker"] for task in stream.data if "xtgeo-predict" in task["key"]}
    assert ran and any(kept[worker] for worker in ran)
    for worker in ran:  # a worker that had the model used it again; one that had none loaded it then
        assert tokens[worker] == (["first run"] if kept[worker] else [None]), worker
