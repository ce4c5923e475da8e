"""``xtgeo predict``: checkpoints (one or an ensemble) and scenes → georeferenced detections (+ heatmaps,
quicklooks).

Scenes are spread over this machine's devices (:func:`xtgeo.predict.jobs.predict_locally`) or over an
existing Dask cluster (:func:`xtgeo.predict.cluster.predict_on_cluster`). With ``--out-dir`` each
scene's detections file is written (atomically) as soon as the scene is done, and a rerun skips the
scenes whose files are all there; ``--out`` writes every scene's detections in one file at the end.
A bad scene is reported by name as it fails while the others finish; the command then ends with
one error saying how many failed. This module shows progress, writes the detection files and
prints a summary.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import torch
from rich.console import Console
from rich.table import Table

from pipelines.progress import progress_for
from xtgeo.config import Config
from xtgeo.errors import SceneError, XtgeoError
from xtgeo.predict.detections import concat_frames, read_detections, write_detections
from xtgeo.predict.inference import TTA_VIEWS
from xtgeo.predict.jobs import PredictProgress, SceneResult, predict_locally
from xtgeo.predict.outputs import OutputPlan, SceneFiles
from xtgeo.predict.scene import PredictOptions, load_models, resolve_devices
from xtgeo.predict.sources import ScenePath, find_scenes, is_one_scene, open_source

#: Scenes listed one by one in the summary table; more are summed up in one line.
TABLE_ROWS = 40


@dataclass
class SceneRow:
    """One scene in the summary: status, counts, seconds, the problem of a failed scene, and a
    ``(kind, text)`` note to print about a done one."""

    scene_id: str
    status: str
    detections: int = 0
    vessels: int = 0
    fishing: int = 0
    seconds: float = 0.0
    message: str = ""
    note: tuple[str, str] | None = None


class PredictBars(PredictProgress):
    """A bar (or log lines) of scenes, one of windows per scene being predicted here, and a line
    for each scene that fails, when it fails."""

    def __init__(self, console: Console) -> None:
        self.console, self.bars = console, progress_for(console)
        self.tasks: dict[str, int] = {}

    def start(self, scenes: int) -> None:
        self.bars.start()
        self.scenes = self.bars.add_task("scenes", total=scenes)

    def scene_started(self, scene_id: str, windows: int) -> None:
        self.tasks[scene_id] = self.bars.add_task(f"{scene_id} windows", total=windows)

    def windows_done(self, scene_id: str, windows: int) -> None:
        self.bars.advance(self.tasks[scene_id], windows)

    def scene_done(self, result: SceneResult) -> None:
        if result.scene_id in self.tasks:
            self.bars.remove_task(self.tasks.pop(result.scene_id))
        self.bars.advance(self.scenes)
        if result.status == "failed":
            self.console.print(f"failed: {result.scene_id}: {result.message}", soft_wrap=True, markup=False,
                               highlight=False)

    def close(self) -> None:
        self.bars.stop()


def _path(value: str | os.PathLike | None) -> Path | None:
    return None if value is None else Path(value)


def run(
    scene_path: str | os.PathLike,
    checkpoints: str | os.PathLike | Sequence[str | os.PathLike],
    out_path: str | os.PathLike | None = None,
    options: PredictOptions = PredictOptions(),
    *,
    out_dir: str | os.PathLike | None = None,
    fmt: str | None = None,
    heatmap: str | os.PathLike | None = None,
    quicklook: str | os.PathLike | None = None,
    scheduler: str | None = None,
    console: Console | None = None,
) -> Path:
    """Predict every scene at ``scene_path``; write detections to ``out_path`` (one file) and/or one
    file per scene in ``out_dir`` (format ``fmt``), with per-scene heatmaps and quicklooks when asked
    for; ``scheduler``: run the scenes on that Dask cluster. Returns ``out_path``, else ``out_dir``.

    Several ``checkpoints`` are an ensemble (:func:`~xtgeo.predict.scene.load_models`). The outputs,
    the options, the checkpoints and the list of scenes are checked before any work. A single scene
    given that fails raises its own error and writes nothing; scenes of a folder that fail are
    reported while the others are written, and then a :class:`SceneError` says how many failed.
    """
    checkpoints = [checkpoints] if isinstance(checkpoints, (str, os.PathLike)) else list(checkpoints)
    console = console or Console(stderr=True)
    plan = OutputPlan(_path(out_path), _path(out_dir), fmt, _path(heatmap), _path(quicklook))
    plan.check((scene_path, *checkpoints))
    options.check()
    models, config = load_models(checkpoints, options.overrides())
    found = find_scenes(scene_path)
    one_scene = is_one_scene(scene_path, found)
    if one_scene:  # a bad one fails the command before any work, as one error
        open_source(found[0].path)
    files = {f.scene_id: plan.files(f.scene_id, len(found) > 1) for f in found}
    rows = {f.scene_id: SceneRow(f.scene_id, "skipped", message="done by an earlier run")
            for f in found if files[f.scene_id].done()}
    todo = [(f, files[f.scene_id]) for f in found if f.scene_id not in rows]
    if plan.out_dir is not None:
        console.print(f"{len(found)} scenes: {len(rows)} already done in {plan.out_dir}, {len(todo)} to predict")

    kept: list[gpd.GeoDataFrame] = []  # every scene's detections, for --out without --out-dir only
    progress = PredictBars(console)
    progress.start(len(todo))
    try:
        with _results(todo, checkpoints, models, config, options, scheduler, progress, console) as results:
            for result in results:
                row = _finish(result, files[result.scene_id])
                if row.status == "done" and plan.out_dir is None:
                    kept.append(result.detections)
                rows[row.scene_id] = row
                progress.scene_done(SceneResult(row.scene_id, row.status, message=row.message))
    finally:
        progress.close()

    ordered = [rows[f.scene_id] for f in found]
    failed = [r for r in ordered if r.status == "failed"]
    if one_scene and failed:  # the command was about this scene: its problem is the error
        raise SceneError(failed[0].message)
    finished = [r for r in ordered if r.status != "failed"]
    if plan.out is not None and finished:
        if plan.out_dir is not None:  # every finished scene's file, those of earlier runs too
            kept = [read_detections(files[r.scene_id].detections) for r in finished]
        write_detections(concat_frames(kept), plan.out)
    print_summary(ordered, plan, console, f"{len(models)} checkpoint(s) × {len(TTA_VIEWS[options.tta])} view(s)")
    where = plan.out or plan.out_dir
    if failed:
        written = f"the detections of the other {len(finished)} are in {where}" if finished else "nothing was written"
        raise SceneError(f"{len(failed)} of {len(ordered)} scene(s) failed (listed above); {written}")
    return where


@contextlib.contextmanager
def _results(todo: list[tuple[ScenePath, SceneFiles]], checkpoints: list[str | os.PathLike],
             models: list[torch.nn.Module], config: Config, options: PredictOptions, scheduler: str | None,
             progress: PredictProgress, console: Console) -> Iterator[Iterator[SceneResult]]:
    """The scenes' results as they finish: on the Dask cluster at ``scheduler``, else here."""
    if not todo:
        yield iter(())
        return
    if scheduler is None:
        yield predict_locally(todo, models, config, options, resolve_devices(options.device), progress)
        return
    from xtgeo.predict.cluster import predict_on_cluster
    from xtgeo.preprocess.run import dashboard_link, dask_client

    absolute = [(ScenePath(f.scene_id, f.path.absolute()), _absolute(files)) for f, files in todo]
    with dask_client(scheduler=scheduler) as client:
        link = dashboard_link(client)
        console.print(f"Dask cluster at {scheduler}: {len(client.scheduler_info()['workers'])} workers"
                      + (f", dashboard {link}" if link else ""))
        yield predict_on_cluster(client, absolute, checkpoints, options, progress)


def _absolute(files: SceneFiles) -> SceneFiles:
    """``files`` with absolute paths (a Dask worker may run in another folder)."""
    return SceneFiles(files.scene_id, *(None if p is None else p.absolute()
                                        for p in (files.detections, files.heatmap, files.quicklook)))


def _finish(result: SceneResult, files: SceneFiles) -> SceneRow:
    """Write a finished scene's detections file (with --out-dir) and sum it up."""
    if result.status != "done":
        return SceneRow(result.scene_id, result.status, message=result.message)
    frame = result.detections
    if files.detections is not None:
        try:
            write_detections(frame, files.detections)
        except XtgeoError as err:
            return SceneRow(result.scene_id, "failed", message=str(err))
    note = None
    if not result.windows_with_data:
        note = ("warning", "every pixel is nodata, no detections")
    elif not result.has_land:
        note = ("note", "no land band or owiMask.tif: no detection dropped as on land")
    return SceneRow(result.scene_id, "done", len(frame), int(frame.is_vessel.sum()), int(frame.is_fishing.sum()),
                    result.seconds, note=note)


def print_summary(rows: list[SceneRow], plan: OutputPlan, console: Console, models: str = "") -> None:
    """A table of the scenes done (at most :data:`TABLE_ROWS`, captioned with ``models``: what made the
    maps), a line for the rest, and each scene's note (all nodata, nothing known of land) as a line."""
    done = [r for r in rows if r.status == "done"]
    where = " and ".join(str(p) for p in (plan.out_dir, plan.out) if p is not None)
    if done:
        table = Table(title=f"detections → {where}", caption=models or None)
        for name in ("scene", "detections", "vessels", "fishing", "seconds"):
            table.add_column(name, justify="left" if name == "scene" else "right")
        for r in done[:TABLE_ROWS]:
            table.add_row(r.scene_id, str(r.detections), str(r.vessels), str(r.fishing), f"{r.seconds:.1f}")
        console.print(table)
    skipped, failed = (sum(r.status == status for r in rows) for status in ("skipped", "failed"))
    if len(done) > TABLE_ROWS or skipped:
        console.print(f"{len(done)} scenes predicted ({sum(r.detections for r in done)} detections), {skipped} "
                      f"done by an earlier run, {failed} failed" + (f"; {len(done) - TABLE_ROWS} not in the table"
                                                                    if len(done) > TABLE_ROWS else ""))
    for r in done:
        if r.note is not None:
            console.print(f"{r.note[0]}: {r.scene_id}: {r.note[1]}", soft_wrap=True, markup=False, highlight=False)
