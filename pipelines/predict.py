"""``xtgeo predict``: checkpoints (one or an ensemble) and scenes → one detections file (+ quicklooks).

Every scene goes through :func:`xtgeo.predict.scene.predict_scene`; this module spreads the scenes
over the GPUs there are (one model copy each), shows progress, writes all detections to one file
(atomically, once every scene is done), draws quicklooks and prints a summary table.
"""

from __future__ import annotations

import copy
import os
import queue
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from xtgeo.atomic import check_distinct, check_output
from xtgeo.errors import SceneError, XtgeoError
from xtgeo.predict.detections import check_output_path, concat_frames, write_detections
from xtgeo.predict.inference import TTA_VIEWS, Predictor
from xtgeo.predict.scene import (
    PredictOptions,
    ScenePrediction,
    default_readers,
    load_models,
    predict_scene,
    resolve_devices,
    scene_windows,
)
from xtgeo.predict.sources import SceneFailure, SceneSource, open_sources


def quicklook_paths(quicklook: Path, sources: list[SceneSource]) -> dict[str, Path]:
    """One PNG per scene: ``quicklook`` itself for one scene, ``<stem>_<scene_id>.png`` for several."""
    if len(sources) == 1:
        return {sources[0].scene_id: quicklook}
    return {s.scene_id: quicklook.with_name(f"{quicklook.stem}_{s.scene_id}{quicklook.suffix}") for s in sources}


def _check_quicklook(path: Path, inputs: tuple) -> None:
    if path.suffix.lower() != ".png":
        raise XtgeoError(f"--quicklook {path}: must be a .png file")
    check_output(path, inputs, flag="--quicklook")


def run(
    scene_path: str | os.PathLike,
    checkpoints: str | os.PathLike | Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
    options: PredictOptions = PredictOptions(),
    *,
    quicklook: str | os.PathLike | None = None,
    console: Console | None = None,
) -> Path:
    """Predict every scene at ``scene_path`` and write all detections to ``out_path``; returns it.

    Several ``checkpoints`` are an ensemble (:func:`~xtgeo.predict.scene.load_models`). Everything
    is checked before any work: the output paths, the options, the checkpoints, the scenes.
    """
    checkpoints = [checkpoints] if isinstance(checkpoints, (str, os.PathLike)) else list(checkpoints)
    console = console or Console(stderr=True)
    inputs = (scene_path, *checkpoints)
    out_path = check_output_path(out_path, inputs)
    quicklook = Path(quicklook) if quicklook is not None else None
    if quicklook is not None:
        _check_quicklook(quicklook, inputs)
    check_distinct(out_path, quicklook)
    options.check()
    models, config = load_models(checkpoints, options.overrides())
    sources, failures = open_sources(scene_path)
    devices = resolve_devices(options.device)
    readers = options.readers or default_readers(devices)
    window_size, overlap = options.window_size, options.overlap
    predictors: queue.Queue[Predictor] = queue.Queue()
    for dev in devices[: len(sources)]:
        predictors.put(options.predictor(copy.deepcopy(models), dev))

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:

        def one(source: SceneSource) -> ScenePrediction | SceneFailure:
            predictor = predictors.get()
            task = progress.add_task(source.scene_id, total=len(scene_windows(source, window_size, overlap)))
            try:
                return predict_scene(source, predictor, config, window_size=window_size, overlap=overlap,
                                     readers=readers, keep_land=options.keep_land,
                                     on_windows=lambda n: progress.advance(task, n))
            except XtgeoError as err:  # a bad scene (unreadable window, bad shoreline): the others go on
                return SceneFailure(source.scene_id, str(err))
            finally:
                progress.remove_task(task)
                predictors.put(predictor)

        with ThreadPoolExecutor(max(predictors.qsize(), 1)) as pool:
            outcomes = list(pool.map(one, sources))

    results = [o for o in outcomes if isinstance(o, ScenePrediction)]
    failures += [o for o in outcomes if isinstance(o, SceneFailure)]
    if results:
        write_detections(concat_frames([r.detections for r in results]), out_path)
    if quicklook is not None:
        from xtgeo.plots import quicklook as draw_quicklook

        paths = quicklook_paths(quicklook, sources)
        for result in results:
            draw_quicklook(result.source.scene, result.detections, paths[result.source.scene_id],
                           title=f"{result.source.scene_id}: {len(result.detections)} detections")
    if not results and len(failures) == 1:  # the one scene asked for: its problem is the error
        raise SceneError(failures[0].message)
    print_summary(results, failures, out_path, console,
                  f"{len(models)} checkpoint(s) × {len(TTA_VIEWS[options.tta])} view(s)")
    if failures:
        written = f"the detections of the other {len(results)} are in {out_path}" if results else "nothing was written"
        raise SceneError(f"{len(failures)} of {len(failures) + len(results)} scene(s) failed (listed above); {written}")
    return out_path


def print_summary(results: list[ScenePrediction], failures: list[SceneFailure], out_path: Path,
                  console: Console, models: str = "") -> None:
    """A table of detections per scene (captioned with ``models``: what made the maps); then scenes
    that were all nodata or say nothing of land, and each failed scene with its problem, as whole
    lines (never cut to fit a table cell)."""
    if results:
        table = Table(title=f"detections → {out_path}", caption=models or None)
        for name in ("scene", "detections", "vessels", "fishing", "seconds"):
            table.add_column(name, justify="left" if name == "scene" else "right")
        for r in results:
            d = r.detections
            table.add_row(r.source.scene_id, str(len(d)), str(int(d.is_vessel.sum())), str(int(d.is_fishing.sum())),
                          f"{r.seconds:.1f}")
        console.print(table)
    for r in results:
        if r.windows_with_data == 0:
            console.print(f"warning: {r.source.scene_id}: every pixel is nodata, no detections", soft_wrap=True)
        elif not r.source.has_land:
            console.print(f"note: {r.source.scene_id}: no land band or owiMask.tif: no detection dropped as on land",
                          soft_wrap=True)
    for failure in failures:
        console.print(f"failed: {failure.name}: {failure.message}", soft_wrap=True, markup=False, highlight=False)
