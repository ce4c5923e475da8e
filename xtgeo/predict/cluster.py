"""Scenes predicted on an existing Dask cluster (``xtgeo predict --scheduler ADDRESS``).

Each scene is one task (:func:`predict_on_worker`, the job of
:func:`xtgeo.predict.jobs.predict_scene_files`). A worker loads the models once: the models (one
checkpoint, or an ensemble), their config and a Predictor stay in the worker process, keyed by each
checkpoint's path, size and modification time and by the options (a changed checkpoint is loaded
again). When workers advertise GPUs (``dask worker ADDRESS --resources GPU=1 --nthreads 1``, one per
GPU, each with its own ``CUDA_VISIBLE_DEVICES``) every task claims ``GPU=1``, so a GPU takes one
scene at a time (``GPU=2 --nthreads 2``: two, as ``--scenes-per-device 2``); otherwise scenes run
on the CPU workers, one per worker thread. The scenes of a worker take its model in turn (one
scene's windows run while the others read theirs or make their detections). Workers open the
scenes and the checkpoints, and write heatmaps and quicklooks, at the paths this process gives them
(a shared file system); what comes back is a :class:`~xtgeo.predict.jobs.SceneResult` (the
detections table, never a map). A scene whose worker is lost is run again on another worker by the
scheduler (up to Dask's ``distributed.scheduler.allowed-failures`` times).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from xtgeo.config import Config
from xtgeo.errors import XtgeoError, error_text
from xtgeo.predict.inference import Predictor
from xtgeo.predict.jobs import PredictProgress, SceneResult, predict_scene_files
from xtgeo.predict.outputs import SceneFiles
from xtgeo.predict.scene import PredictOptions, load_models
from xtgeo.predict.sources import ScenePath

#: The worker resource a GPU worker advertises, and each scene claims one of.
GPU_RESOURCE = "GPU"

_loaded: dict[tuple, tuple[Predictor, Config]] = {}
_loading = threading.Lock()


def cluster_has_gpus(client: Any) -> bool:
    """Whether any worker of the client's cluster advertises the :data:`GPU_RESOURCE`."""
    workers = client.scheduler_info()["workers"].values()
    return any(worker.get("resources", {}).get(GPU_RESOURCE, 0) > 0 for worker in workers)


def worker_device(requested: str) -> torch.device:
    """The device a worker predicts on: its (first visible) GPU for ``auto`` when it has one, else
    the CPU; ``cuda`` is that GPU; ``cpu`` and ``cuda:N`` are taken as given."""
    if requested == "auto":
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device("cuda", 0) if requested == "cuda" else torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise XtgeoError(f"--device {requested}: this Dask worker has no CUDA GPU")
    return device


def worker_predictor(checkpoints: tuple[str, ...], options: PredictOptions) -> tuple[Predictor, Config]:
    """This worker process's predictor for ``checkpoints`` (loaded at first use, then reused)."""
    files = tuple((os.path.realpath(path), os.stat(path).st_size, os.stat(path).st_mtime_ns) for path in checkpoints)
    key = (files, options)
    with _loading:
        if key not in _loaded:
            _loaded.clear()  # one set of models per worker: new checkpoints replace the last
            models, config = load_models(checkpoints, options.overrides())
            device = worker_device(options.device)
            if device.type == "cpu":
                _share_cores()
            _loaded[key] = (options.predictor(models, device), config)
        return _loaded[key]


def _share_cores() -> None:
    """Give torch on a CPU worker the machine's cores: Dask starts workers with ``OMP_NUM_THREADS=1``,
    which would leave a CPU scene on one core (and its sums in another order than a local run's); the
    worker's scenes take its model in turn (:attr:`~xtgeo.predict.inference.Predictor.turn`)."""
    torch.set_num_threads(os.cpu_count() or 1)


def predict_on_worker(found: ScenePath, files: SceneFiles, checkpoints: tuple[str, ...],
                      options: PredictOptions) -> SceneResult:
    """One scene's task on a Dask worker: :func:`~xtgeo.predict.jobs.predict_scene_files` with the
    worker's cached predictor."""
    try:
        predictor, config = worker_predictor(checkpoints, options)
    except Exception as err:  # e.g. a checkpoint is not on this worker's file system
        message = error_text(err)
        return SceneResult(found.scene_id, "failed", message=f"{message} (on a Dask worker)")
    return predict_scene_files(found, files, predictor, config, options)


def predict_on_cluster(
    client: Any, todo: Sequence[tuple[ScenePath, SceneFiles]], checkpoints: Sequence[str | os.PathLike],
    options: PredictOptions, progress: PredictProgress | None = None,
) -> Iterator[SceneResult]:
    """Predict scenes on the client's Dask cluster, one task per scene; results come in the order
    scenes finish (see the module doc)."""
    from dask.distributed import as_completed

    progress = progress or PredictProgress()
    resources = {GPU_RESOURCE: 1} if cluster_has_gpus(client) else None
    paths = tuple(str(Path(path).resolve()) for path in checkpoints)
    run = uuid.uuid4().hex[:8]
    scene_of = {
        client.submit(predict_on_worker, found, files, paths, options, key=f"xtgeo-predict-{found.scene_id}-{run}",
                      resources=resources, pure=False): found
        for found, files in todo
    }
    try:
        for future in as_completed(list(scene_of)):
            found = scene_of.pop(future)
            try:
                result = future.result()
            except Exception as err:  # the task itself failed: e.g. its workers kept dying (KilledWorker)
                result = SceneResult(found.scene_id, "failed", message=f"{found.path}: {error_text(err)} (on the "
                                     "Dask cluster)")
            future.release()
            yield result
    finally:
        for future in scene_of:
            future.cancel()
