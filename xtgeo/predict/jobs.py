"""Many scenes: one scene's whole job (:func:`predict_scene_files`), and the scenes spread over this
machine's devices (:func:`predict_locally`; :mod:`xtgeo.predict.cluster` spreads them over a Dask cluster).

A job opens its scene, predicts it, writes its heatmap and quicklook when asked for, and returns
a small :class:`SceneResult` (the detections table, never the maps); a scene that fails becomes a
``failed`` result whose message names the scene's file and the problem, and the other scenes go on.
The caller writes each scene's detections file as its result comes, so nothing accumulates.
"""

from __future__ import annotations

import copy
import queue
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import geopandas as gpd
import torch

from xtgeo.config import Config
from xtgeo.errors import error_text
from xtgeo.predict.heatmap import write_heatmap
from xtgeo.predict.inference import Predictor
from xtgeo.predict.outputs import SceneFiles
from xtgeo.predict.scene import PredictOptions, default_readers, predict_scene, scene_windows
from xtgeo.predict.sources import ScenePath, open_source


@dataclass
class SceneResult:
    """What became of one scene: ``done`` (with its detections), ``skipped`` (its files were all
    there) or ``failed`` (with a one-line message naming the file and the problem)."""

    scene_id: str
    status: str
    detections: gpd.GeoDataFrame | None = None
    seconds: float = 0.0
    windows_with_data: int = 0
    has_land: bool = True  # the scene says where land is (detections on land could be dropped)
    message: str = ""


class PredictProgress:
    """What predicting many scenes reports as it goes; this base shows nothing (``xtgeo predict``
    shows bars or log lines). Its methods may be called from several threads at once."""

    def start(self, scenes: int) -> None:
        """``scenes`` scenes are to be predicted."""

    def scene_started(self, scene_id: str, windows: int) -> None:
        """A scene of ``windows`` inference windows is being predicted here (local runs only)."""

    def windows_done(self, scene_id: str, windows: int) -> None:
        """``windows`` more windows of a scene are done (local runs only)."""

    def scene_done(self, result: SceneResult) -> None:
        """A scene is finished or given up."""

    def close(self) -> None:
        """No more scenes will come."""


def predict_scene_files(
    found: ScenePath, files: SceneFiles, predictor: Predictor, config: Config, options: PredictOptions,
    progress: PredictProgress | None = None,
) -> SceneResult:
    """Predict one scene and write its heatmap and quicklook (atomically) when ``files`` asks for them.

    Never raises for a bad scene: its result is ``failed``, naming the scene's file and the problem.
    """
    progress = progress or PredictProgress()
    try:
        source = open_source(found.path)
        progress.scene_started(found.scene_id, len(scene_windows(source, options.window_size, options.overlap)))
        result = predict_scene(
            source, predictor, config, window_size=options.window_size, overlap=options.overlap,
            readers=options.readers or default_readers([predictor.device]), keep_maps=files.heatmap is not None,
            keep_land=options.keep_land, on_windows=lambda n: progress.windows_done(found.scene_id, n),
        )
        if result.maps is not None:
            write_heatmap(files.heatmap, result.maps["center"], result.maps.valid, source.scene.crs,
                          source.scene.transform)
            result.maps = None  # free the device memory before the next scene
        if files.quicklook is not None:
            from xtgeo.plots import quicklook

            quicklook(source.scene, result.detections, files.quicklook,
                      title=f"{found.scene_id}: {len(result.detections)} detections")
    except Exception as err:  # one bad scene must not stop the others; its message names the file
        message = error_text(err)
        if found.path.as_posix() not in message:
            message = f"{found.path}: {message}"
        return SceneResult(found.scene_id, "failed", message=message)
    return SceneResult(found.scene_id, "done", result.detections, result.seconds, result.windows_with_data,
                       source.has_land)


def predict_locally(
    todo: Sequence[tuple[ScenePath, SceneFiles]], models: Sequence[torch.nn.Module], config: Config,
    options: PredictOptions, devices: Sequence[torch.device], progress: PredictProgress | None = None,
) -> Iterator[SceneResult]:
    """Predict scenes on this machine's ``devices`` with ``models`` (one, or an ensemble), a copy of
    the models each (:func:`predict_with`); results come in the order scenes finish."""
    used = list(devices)[: max(len(todo), 1)]
    predictors = [options.predictor(copy.deepcopy(list(models)), device) for device in used]
    return predict_with(todo, predictors, config, options, progress)


def predict_with(
    todo: Sequence[tuple[ScenePath, SceneFiles]], predictors: Sequence[Predictor], config: Config,
    options: PredictOptions, progress: PredictProgress | None = None,
) -> Iterator[SceneResult]:
    """Predict scenes with ready ``predictors`` (one per device), ``options.scenes_per_device`` scenes
    at once on each (taking its models in turn: :func:`~xtgeo.predict.inference.predict_maps`);
    results come in the order scenes finish."""
    progress = progress or PredictProgress()
    free: queue.Queue[Predictor] = queue.Queue()
    for predictor in predictors:
        for _ in range(min(options.scenes_per_device, max(len(todo), 1))):
            free.put(predictor)

    def one(found: ScenePath, files: SceneFiles) -> SceneResult:
        predictor = free.get()
        try:
            return predict_scene_files(found, files, predictor, config, options, progress)
        finally:
            free.put(predictor)

    with ThreadPoolExecutor(free.qsize(), thread_name_prefix="xtgeo-scene") as pool:
        pending = {pool.submit(one, found, files) for found, files in todo}
        try:
            for future in as_completed(pending):
                pending.discard(future)  # nothing keeps a finished scene's result but the caller
                yield future.result()
        finally:
            for future in pending:
                future.cancel()
