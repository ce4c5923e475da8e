"""Raw xView3 scene folders → preprocessed scenes, in parallel on Dask: :func:`run_preprocess`.

Every scene is split into square blocks; each block is one Dask task (:func:`xtgeo.preprocess.blocks.prepare_block`)
that depends on one small task per scene (:func:`xtgeo.preprocess.blocks.scene_coarse_land`: the coarse land
cells that bound how much land around a block its distance transform needs), and blocks of all
scenes share the cluster, a bounded number in flight. With blocks aligned to the GeoTIFF tiles
(the default) workers compress each block's tiles and append them to the scene's GeoTIFF in its
temporary folder (so workers of a ``--scheduler`` cluster need the output folder on a shared file
system with working ``flock``), and this process records where they went
(:class:`xtgeo.preprocess.writer.TileTable`); otherwise workers return the bands and this process writes
them. Then come the shoreline and ``meta.json``, and the scene folder is renamed into place
(:mod:`xtgeo.atomic`). A scene that is already complete is skipped; a bad scene is reported in the
report while the others go on. Temporary files left by a killed run are removed at the start of
the next. ``--out`` may not be, lie inside or hold an input (checked before any work), and a scene
folder is replaced only while it holds nothing but ``scene.tif`` and ``meta.json``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import xtgeo
from xtgeo.atomic import atomic_path, check_output, make_folder, remove_stale_temporaries
from xtgeo.errors import SceneError, XtgeoError, error_text, reason
from xtgeo.preprocess import writer
from xtgeo.preprocess.blocks import BandStats, Block, block_windows, prepare_block, scene_coarse_land
from xtgeo.preprocess.distance import DEFAULT_SHORE_CAP_KM, cap_pixels
from xtgeo.scene import prepared
from xtgeo.scene.raw import Scene, open_scene
from xtgeo.scene.shoreline import write_shoreline
from xtgeo.schema import read_labels

#: Default block side, pixels (a multiple of the output tile).
DEFAULT_BLOCK_SIZE = 2048
#: Memory a worker needs for one default block (its halo, distance transform, bands), bytes.
WORKER_MEMORY = 1.5 * 2**30
#: Environment of LocalCluster workers: blocks are read whole, once, so GDAL's block cache (5% of
#: the memory by default, per process) only adds RSS.
WORKER_ENV = {"GDAL_CACHEMAX": "64"}
#: Dask settings of the LocalCluster. Workers keep freed memory for the next block's arrays (Dask's
#: default, trimming the heap at 64 KiB, makes every block fault in ~30,000 fresh pages: 0.53 instead
#: of 0.38 CPU-s per 2048² block); no profiler sampling every task's stack, no work stealing (the
#: client keeps few blocks in flight), slower housekeeping (idle, the processes then use ~1% of a
#: core instead of ~10%, which on 2 cores is time taken from the blocks).
CLUSTER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": str(4 * 2**30),
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.work-stealing": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.tick.limit": "60s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}
#: Ancillary rasters a prepared scene is made from (besides VV and VH).
NEEDED_ANCILLARY = ("owiMask", "bathymetry")


class PreprocessProgress:
    """What :func:`run_preprocess` reports as it runs; this base shows nothing (``xtgeo preprocess``
    shows bars)."""

    def start(self, scenes: int, blocks: int, dashboard: str | None = None) -> None:
        """``scenes`` scenes of ``blocks`` blocks in all are to be done; ``dashboard``: the address of
        the Dask dashboard, when the cluster has one."""

    def block_done(self) -> None:
        """One more block is written."""

    def scene_done(self, outcome: SceneOutcome) -> None:
        """A scene is finished (``done``) or given up (``failed``)."""

    def close(self) -> None:
        """No more blocks will come (finished or interrupted)."""


@dataclass
class SceneOutcome:
    """What happened to one scene: ``done``, ``skipped`` (already complete) or ``failed``."""

    scene_id: str
    status: str
    message: str = ""
    seconds: float = 0.0


@dataclass
class LabelsOutcome:
    """Labels joined to scenes: rows written, rows outside their scene, rows of unknown scenes."""

    path: Path
    written: int
    outside: pd.DataFrame
    unknown_scene_rows: int


@dataclass
class PreprocessReport:
    """Per-scene outcomes (in scene order) and the labels outcome when labels were given."""

    outcomes: list[SceneOutcome]
    labels: LabelsOutcome | None = None

    @property
    def failed(self) -> list[SceneOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def find_scene_folders(scenes_dir: Path) -> list[Path]:
    """Scene folders: ``scenes_dir`` itself if it holds GeoTIFFs, else its sub-folders that do."""
    if not scenes_dir.is_dir():
        raise SceneError(f"{scenes_dir}: no such folder")
    if any(scenes_dir.glob("*.tif")):
        return [scenes_dir]
    found = sorted(p for p in scenes_dir.iterdir() if p.is_dir() and any(p.glob("*.tif")))
    if not found:
        raise SceneError(f"{scenes_dir}: no scene folders (sub-folders with GeoTIFFs) found")
    return found


def default_workers() -> int:
    """Worker processes for a LocalCluster: one per core, fewer if memory is short."""
    import psutil

    by_memory = int(psutil.virtual_memory().available // WORKER_MEMORY)
    return max(1, min(os.cpu_count() or 1, by_memory))


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None, dashboard: bool = False) -> Iterator[Any]:
    """A Dask client: of the cluster at ``scheduler``, or of a new LocalCluster of ``workers`` processes
    (with Dask's dashboard on a free port when ``dashboard``; it needs the ``bokeh`` package)."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError, TypeError) as err:
            raise XtgeoError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({reason(err)}; "
                             f"expected an address such as tcp://host:8786)") from None
        with client:
            yield client
        return
    if dashboard and importlib.util.find_spec("bokeh") is None:
        raise XtgeoError("--dashboard: Dask's dashboard needs the bokeh package (pip install 'bokeh>=3.1')")
    n = workers or default_workers()
    with dask.config.set(CLUSTER_CONFIG), LocalCluster(
        # a task's error reaches the summary as one line naming the scene and file; the workers' own
        # logs of it ("Compute Failed" and a traceback) would only repeat it on the terminal. The
        # scheduler's small HTTP server (and the dashboard, when asked for) takes any free port.
        n_workers=n, threads_per_worker=1, dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0", "dashboard": dashboard},
        silence_logs=logging.CRITICAL, env=WORKER_ENV,
    ) as cluster, Client(cluster) as client:
        yield client


def dashboard_link(client: Any) -> str | None:
    """The address of the Dask dashboard of the client's cluster, None when it serves none (started
    without it, or without bokeh: its web server then serves only health and metrics)."""
    # A lambda travels by value: the scheduler need not import xtgeo.
    serves = client.run_on_scheduler(lambda: "distributed.dashboard.scheduler" in __import__("sys").modules)
    return client.dashboard_link if serves else None


class SceneJob:
    """A scene being written: its temporary folder, open GeoTIFF, contours and statistics so far."""

    def __init__(self, scene: Scene, out: Path, block_size: int, shore_cap_km: float, sources: dict[str, Any]):
        self.scene, self.out, self.sources = scene, out, sources
        self.cap_px = cap_pixels(shore_cap_km, scene.pixel_size_m)
        self.windows = block_windows(scene.height, scene.width, block_size)
        self.remaining = len(self.windows)
        self.coarse: Any = None  # the Dask future of the scene's coarse land cells
        self.contours: dict[tuple[int, int], list[np.ndarray]] = {}  # by block (row, col) offset
        self.stats = {"vv_db": BandStats(), "vh_db": BandStats()}
        self.counts = {"valid": 0, "land": 0}
        self.started = time.perf_counter()
        self._stack = contextlib.ExitStack()
        try:
            scene_folder = prepared.scene_dir(out, scene.scene_id)
            self.folder = self._stack.enter_context(atomic_path(scene_folder, own=prepared.SCENE_FILES))
            self.folder.mkdir()
            grid = (self.folder / prepared.SCENE_FILE, scene.height, scene.width, scene.crs, scene.transform)
            if block_size % prepared.TILE == 0:  # workers compress and append tiles; this process records them
                self.output: writer.TileTable | writer.BandWriter = writer.TileTable(*grid, block_size=block_size)
                self.append_to: writer.AppendTarget | None = self.output.target
            else:
                self.output, self.append_to = writer.BandWriter(*grid), None
            self._stack.callback(self.output.close)
        except BaseException:
            self.abort()
            raise

    def add(self, block: Block) -> None:
        """Write one finished block and fold in its contours and statistics."""
        if block.tiles is None:
            self.output.write(block.window, block.bands)
        else:
            self.output.add(block.window, *block.tiles)
        self.contours[(block.window.row_off, block.window.col_off)] = block.contours
        for name, stats in block.stats.items():
            self.stats[name] = self.stats[name].merge(stats)
        for name in self.counts:
            self.counts[name] += block.counts[name]
        self.remaining -= 1

    def finish(self) -> float:
        """Close the GeoTIFF, add its band statistics, write shoreline and ``meta.json``, rename the
        folder into place."""
        self.coarse = None
        self.output.close()
        if self.counts["valid"] == 0:
            raise SceneError(f"{self.scene.vv.path}: every pixel is nodata")
        writer.write_statistics(self.folder / prepared.SCENE_FILE, self._band_statistics())
        contours = [c for key in sorted(self.contours) for c in self.contours[key]]  # in block order
        shoreline = write_shoreline(prepared.shoreline_path(self.out, self.scene.scene_id), contours)
        writer.write_meta(self.folder / prepared.META_FILE, self._meta(shoreline, len(contours)))
        self._stack.close()
        return time.perf_counter() - self.started

    def abort(self) -> None:
        """Remove everything written for this scene."""
        self.coarse = None
        with contextlib.suppress(Exception):
            self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def _band_statistics(self) -> dict[str, dict[str, float]]:
        """Exact GDAL statistics of VV/VH (valid pixels) and of the 0/1 masks."""
        pixels = self.scene.height * self.scene.width
        out = {}
        for name, stats in self.stats.items():
            s = stats.summary()
            out[name] = {"MINIMUM": s["min"], "MAXIMUM": s["max"], "MEAN": s["mean"], "STDDEV": s["std"],
                         "VALID_PERCENT": 100.0 * s["count"] / pixels}
        for name, count in self.counts.items():
            share = count / pixels
            out[name] = {"MINIMUM": float(count == pixels), "MAXIMUM": float(count > 0), "MEAN": share,
                         "STDDEV": float(np.sqrt(share * (1.0 - share))), "VALID_PERCENT": 100.0}
        return out

    def _meta(self, shoreline: Path, contours: int) -> dict[str, Any]:
        scene, pixels = self.scene, self.scene.height * self.scene.width
        return {
            "format_version": prepared.FORMAT_VERSION,
            "software": {"xtgeo": xtgeo.__version__},
            "scene_id": scene.scene_id,
            "sources": self.sources,
            "height": scene.height,
            "width": scene.width,
            "crs": scene.crs.to_string(),
            "transform": list(scene.transform)[:6],
            "bands": list(prepared.BANDS),
            "nodata_in": scene.nodata,
            "land_from": "owiMask == 1, nearest-neighbour to 10 m",
            "shore_cap_km": self.cap_px * scene.pixel_size_m / 1000.0,
            "valid_fraction": self.counts["valid"] / pixels,
            "land_fraction": self.counts["land"] / pixels,
            "stats": {name: stats.summary() for name, stats in self.stats.items()},
            "shoreline_contours": contours,
            "shoreline_bytes": shoreline.stat().st_size,
            "scene_tif_bytes": (self.folder / prepared.SCENE_FILE).stat().st_size,
        }


def scene_sources(scene: Scene) -> dict[str, Any]:
    """Fingerprint of the files a scene is made from."""
    paths = {"vv": scene.vv.path, "vh": scene.vh.path}
    paths.update({name: scene.ancillary[name] for name in NEEDED_ANCILLARY})
    return prepared.source_fingerprint(paths)


def run_preprocess(
    scenes_dir: str | os.PathLike,
    out: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    dashboard: bool = False,
    client: Any = None,
    overwrite: bool = False,
    block_size: int = DEFAULT_BLOCK_SIZE,
    shore_cap_km: float = DEFAULT_SHORE_CAP_KM,
    progress: PreprocessProgress | None = None,
) -> PreprocessReport:
    """Preprocess every scene folder under ``scenes_dir`` into ``out`` (see the module docstring).

    ``client`` reuses an existing Dask client; otherwise one is made from ``scheduler`` or a new
    LocalCluster of ``workers`` processes (with a dashboard if ``dashboard``). Raises
    :class:`XtgeoError` for bad arguments or labels; bad scenes are reported in the returned
    :class:`PreprocessReport` instead. ``progress`` hears of every block and scene as it finishes.
    """
    scenes_dir, out = Path(scenes_dir), Path(out)
    if block_size < 16:
        raise XtgeoError(f"--block-size must be at least 16 pixels, got {block_size}")
    if not (math.isfinite(shore_cap_km) and shore_cap_km > 0):
        raise XtgeoError(f"--shore-cap-km {shore_cap_km}: must be a positive, finite distance in km (e.g. 20.48)")
    folders = find_scene_folders(scenes_dir)
    check_output(out, [scenes_dir, *folders, labels], folder=True, flag="--out")
    label_table = read_labels(labels) if labels is not None else None
    make_folder(out)
    for folder in (out, out / prepared.SHORELINE_DIR):
        remove_stale_temporaries(folder)

    outcomes: dict[str, SceneOutcome] = {}
    todo: list[tuple[Scene, dict[str, Any]]] = []
    for folder in folders:
        try:
            scene = open_scene(folder, require_ancillary=True, check_data=True)
            sources = scene_sources(scene)
        except XtgeoError as err:
            outcomes[folder.name] = SceneOutcome(folder.name, "failed", error_text(err))
            continue
        if not overwrite and prepared.is_complete(out, scene.scene_id, sources):
            outcomes[scene.scene_id] = SceneOutcome(scene.scene_id, "skipped", "already complete")
        else:
            todo.append((scene, sources))

    if todo:
        with contextlib.ExitStack() as stack:
            if client is None:
                client = stack.enter_context(dask_client(workers, scheduler, dashboard))
            for outcome in _run_scenes(client, todo, out, block_size, shore_cap_km, progress or PreprocessProgress()):
                outcomes[outcome.scene_id] = outcome

    report = PreprocessReport([outcomes[k] for k in sorted(outcomes)])
    if label_table is not None:
        report.labels = write_labels(label_table, report, out, Path(labels))
    return report


def _run_scenes(
    client: Any, todo: list[tuple[Scene, dict[str, Any]]], out: Path, block_size: int, shore_cap_km: float,
    progress: PreprocessProgress,
) -> Iterator[SceneOutcome]:
    """Run the blocks of all scenes on the cluster, at most two per worker thread in flight."""
    from dask.distributed import as_completed

    limit = 2 * max(sum(client.nthreads().values()), 1)
    queue: deque[tuple[Scene, dict[str, Any]]] = deque(todo)
    pending: deque[tuple[SceneJob, Any]] = deque()  # (job, window) not yet submitted
    in_flight: dict[Any, SceneJob] = {}
    failed: set[str] = set()
    running = as_completed()
    progress.start(len(todo), sum(len(block_windows(s.height, s.width, block_size)) for s, _ in todo),
                   dashboard_link(client))

    def fail(scene_id: str, message: str, job: SceneJob | None = None) -> SceneOutcome:
        failed.add(scene_id)
        if job is not None:
            job.abort()
        outcome = SceneOutcome(scene_id, "failed", message)
        progress.scene_done(outcome)
        return outcome

    def top_up() -> Iterator[SceneOutcome]:
        while len(in_flight) < limit and (pending or queue):
            if not pending:
                scene, sources = queue.popleft()
                try:
                    job = SceneJob(scene, out, block_size, shore_cap_km, sources)
                except Exception as err:  # e.g. the output folder is not writable
                    yield fail(scene.scene_id, error_text(err))
                    continue
                job.coarse = client.submit(scene_coarse_land, scene, pure=False)
                pending.extend((job, w) for w in job.windows)
            job, window = pending.popleft()
            if job.scene.scene_id in failed:
                continue
            future = client.submit(
                prepare_block, job.scene, window, job.coarse, job.cap_px, job.append_to, pure=False
            )
            in_flight[future] = job
            running.add(future)

    try:
        yield from top_up()
        for future in running:
            job = in_flight.pop(future)
            scene_id = job.scene.scene_id
            if scene_id not in failed:
                try:
                    job.add(future.result())
                    progress.block_done()
                    if job.remaining == 0:
                        seconds = job.finish()
                        blocks = len(job.windows)
                        outcome = SceneOutcome(scene_id, "done", f"{blocks} block{'s' if blocks != 1 else ''}", seconds)
                        progress.scene_done(outcome)
                        yield outcome
                except Exception as err:
                    yield fail(scene_id, error_text(err), job)
            future.release()
            yield from top_up()
    finally:  # interrupted: leave no temporary scene folder behind
        for job in {*in_flight.values(), *(job for job, _ in pending)}:
            job.abort()
        progress.close()


def write_labels(table: pd.DataFrame, report: PreprocessReport, out: Path, source: Path) -> LabelsOutcome:
    """Keep labels of preprocessed scenes that fall inside them; write ``labels.parquet`` atomically."""
    shapes = {}
    for outcome in report.outcomes:
        meta = prepared.read_meta(out, outcome.scene_id) if outcome.status != "failed" else None
        if meta is not None:
            shapes[outcome.scene_id] = (meta["height"], meta["width"])
    known = table["scene_id"].isin(shapes)
    joined = table[known].copy()
    height = joined["scene_id"].map(lambda s: shapes[s][0]).astype("int64")
    width = joined["scene_id"].map(lambda s: shapes[s][1]).astype("int64")
    rows, cols = joined["detect_scene_row"], joined["detect_scene_column"]
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    joined = joined[inside].astype({"detect_scene_row": "int64", "detect_scene_column": "int64"})
    path = out / prepared.LABELS_FILE
    with atomic_path(path) as tmp:
        joined.reset_index(drop=True).to_parquet(tmp, index=False)
    return LabelsOutcome(path, len(joined), table[known][~inside], int((~known).sum()))
