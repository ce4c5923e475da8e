"""``xtgeo predict``: a checkpoint and scenes → georeferenced vessel detections (+ quicklooks).

For every scene (:mod:`xtgeo.predict.sources`): overlapping tiles are read in background threads and
batched to the device (:mod:`xtgeo.predict.inference`), blended into float16 full-scene maps
(:mod:`xtgeo.predict.tiling`), turned into detections (:mod:`xtgeo.predict.postprocess`) and georeferenced
(:mod:`xtgeo.predict.detections`). Several scenes are spread over the GPUs there are, one model copy each.
All detections go to one file, written atomically once every scene is done.
"""

from __future__ import annotations

import copy
import os
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from xtgeo.train.checkpoint import load_checkpoint
from xtgeo.config import Config, load_config
from xtgeo.data.normalize import input_channels, model_input
from xtgeo.errors import ConfigError, XtgeoError
from xtgeo.predict.inference import Predictor, TileReader, predict_maps
from xtgeo.predict.detections import check_output_path, check_writable, concat_frames, detections_frame, write_detections
from xtgeo.models import build_model
from xtgeo.predict.postprocess import detections_from_maps
from xtgeo.predict.sources import SceneSource, find_sources
from xtgeo.predict.tiling import SceneMaps, Tile, TileGrid, valid_tiling

DEFAULT_TILE_SIZE = 4096
DEFAULT_OVERLAP = 512
#: Checkpoint config overrides: pretrained backbone files are not needed (the weights are loaded).
LOAD_OVERRIDES = ("model.region_encoder.pretrained_file=null",)


@dataclass
class ScenePrediction:
    """One scene's detections, timing, and (when asked for) its full-scene maps."""

    source: SceneSource
    detections: gpd.GeoDataFrame
    seconds: float
    tiles_with_data: int
    maps: SceneMaps | None = None


def load_model(checkpoint: str | os.PathLike, overrides: tuple[str, ...] = ()) -> tuple[torch.nn.Module, Config]:
    """The model of a checkpoint, with its weights, and its checked config (``overrides`` applied)."""
    path = Path(checkpoint)
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt.get("config"), dict):
        raise XtgeoError(f"{path}: checkpoint has no config")
    _check_channels(path, ckpt["config"])
    try:
        config = load_config(ckpt["config"], LOAD_OVERRIDES + tuple(overrides))
        model = build_model(config.model)
    except ConfigError as err:
        raise XtgeoError(f"{path}: {err}") from None
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, TypeError) as err:
        first = str(err).strip().splitlines()[0]
        raise XtgeoError(f"{path}: weights do not fit the model its config describes ({first})") from None
    return model.eval(), config


def _check_channels(path: Path, config: dict) -> None:
    """The model's input channels must be the ones predict makes from a scene (VV, VH, validity)."""
    model = config.get("model")
    given = model.get("in_chans") if isinstance(model, dict) else None
    try:
        made = input_channels(config)
    except (AttributeError, TypeError):
        return  # a malformed data section: load_config names the key
    if given is not None and given != made:
        raise XtgeoError(
            f"{path}: the model takes {given} input channels, but scenes give {made} "
            f"(VV, VH{', validity' if made == 3 else ''} as its data config asks)"
        )


def threshold_overrides(**values: float | int | None) -> tuple[str, ...]:
    """``--set``-style overrides of the ``postprocess`` section for the values that are given."""
    return tuple(f"postprocess.{key}={value}" for key, value in values.items() if value is not None)


def resolve_devices(device: str) -> list[torch.device]:
    """``auto`` → every GPU, else the CPU; ``cuda`` → every GPU; ``cuda:N`` or ``cpu`` → that one."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise XtgeoError(f"--device {device}: not a device (use auto, cpu, cuda or cuda:N)") from None
    if chosen.type == "cuda":
        count = torch.cuda.device_count()
        if count == 0:
            raise XtgeoError(f"--device {device}: no CUDA GPU is available here (use --device cpu)")
        if chosen.index is None:
            return [torch.device("cuda", i) for i in range(count)]
        if chosen.index >= count:
            raise XtgeoError(f"--device {device}: only {count} GPU(s) here")
    elif chosen.type != "cpu":
        raise XtgeoError(f"--device {device}: unsupported device type (use auto, cpu, cuda or cuda:N)")
    return [chosen]


def tile_reader(source: SceneSource, config: Config) -> TileReader:
    """Reads one tile of ``source`` as the model's input and its validity mask (thread-safe)."""

    def read_tile(tile: Tile) -> tuple[np.ndarray, np.ndarray]:
        bands = source.read_bands(tile)
        return model_input(bands, config), bands["valid"]

    return read_tile


def predict_scene(
    source: SceneSource,
    predictor: Predictor,
    config: Config,
    *,
    tile_size: int = DEFAULT_TILE_SIZE,
    overlap: int = DEFAULT_OVERLAP,
    workers: int = 2,
    keep_maps: bool = False,
    progress: Progress | None = None,
) -> ScenePrediction:
    """Detect vessels in one scene with a ready :class:`~xtgeo.predict.inference.Predictor`."""
    start = time.perf_counter()
    scene = source.scene
    grid = TileGrid(scene.height, scene.width, tile_size, overlap)
    task = progress.add_task(scene.scene_id, total=len(grid)) if progress is not None else None
    on_tiles = (lambda n: progress.advance(task, n)) if progress is not None else None
    maps = predict_maps(predictor, grid, tile_reader(source, config), workers=workers, on_tiles=on_tiles)
    found = detections_from_maps(maps.maps, config.postprocess)
    frame = detections_frame(
        found, scene.scene_id, scene.transform, scene.crs,
        source.distance_to_shore_km(found["detect_scene_row"], found["detect_scene_column"]),
    )
    if task is not None:
        progress.remove_task(task)
    return ScenePrediction(source, frame, time.perf_counter() - start, maps.tiles_added, maps if keep_maps else None)


def quicklook_paths(quicklook: Path, sources: list[SceneSource]) -> dict[str, Path]:
    """One PNG per scene: ``quicklook`` itself for one scene, ``<stem>_<scene_id>.png`` for several."""
    if len(sources) == 1:
        return {sources[0].scene_id: quicklook}
    return {s.scene_id: quicklook.with_name(f"{quicklook.stem}_{s.scene_id}{quicklook.suffix}") for s in sources}


def _check_quicklook(path: Path) -> None:
    if path.suffix.lower() != ".png":
        raise XtgeoError(f"{path}: the quicklook must be a .png file")
    check_writable(path)


def default_readers(devices: list[torch.device]) -> int:
    """Tile-reading threads per device when ``--workers`` is not given.

    On GPUs, the CPU cores shared out among them, 4 to 16: a compiled model takes a 4096² tile
    in ~0.07 s, while one thread needs ~0.5 s to decode and normalise it. On the CPU, 2: the
    model needs the cores.
    """
    if devices[0].type != "cuda":
        return 2
    return max(4, min(16, (os.cpu_count() or 4) // len(devices)))


def run_prediction(
    scene_path: str | os.PathLike,
    checkpoint: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    tile_size: int = DEFAULT_TILE_SIZE,
    overlap: int = DEFAULT_OVERLAP,
    batch: int = 1,
    device: str = "auto",
    quicklook: str | os.PathLike | None = None,
    workers: int | None = None,
    compile_model: bool = False,
    center_threshold: float | None = None,
    nms_radius_px: int | None = None,
    vessel_threshold: float | None = None,
    fishing_threshold: float | None = None,
    console: Console | None = None,
) -> Path:
    """Predict every scene at ``scene_path`` and write all detections to ``out_path``; returns it.

    Everything is checked before any work: the output paths, the checkpoint, the scenes.
    """
    console = console or Console(stderr=True)
    out_path = check_output_path(out_path)
    quicklook = Path(quicklook) if quicklook is not None else None
    if quicklook is not None:
        _check_quicklook(quicklook)
    if batch < 1:
        raise XtgeoError(f"--batch {batch}: must be at least 1")
    if not valid_tiling(tile_size, overlap):
        raise XtgeoError(f"--overlap {overlap}: must be from 0 to at most half of --tile-size {tile_size}")
    overrides = threshold_overrides(center_threshold=center_threshold, nms_radius_px=nms_radius_px,
                                    vessel_threshold=vessel_threshold, fishing_threshold=fishing_threshold)
    model, config = load_model(checkpoint, overrides)
    sources = find_sources(scene_path)
    devices = resolve_devices(device)
    workers = workers or default_readers(devices)
    predictors: queue.Queue[Predictor] = queue.Queue()
    for dev in devices[: len(sources)]:
        predictors.put(Predictor(copy.deepcopy(model), dev, batch, compile_model))

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:

        def one(source: SceneSource) -> ScenePrediction:
            predictor = predictors.get()
            try:
                return predict_scene(source, predictor, config, tile_size=tile_size, overlap=overlap,
                                     workers=workers, progress=progress)
            finally:
                predictors.put(predictor)

        with ThreadPoolExecutor(predictors.qsize()) as pool:
            results = list(pool.map(one, sources))

    write_detections(concat_frames([r.detections for r in results]), out_path)
    if quicklook is not None:
        from xtgeo.plots import quicklook as draw_quicklook

        paths = quicklook_paths(quicklook, sources)
        for result in results:
            draw_quicklook(result.source.scene, result.detections, paths[result.source.scene_id],
                           title=f"{result.source.scene_id}: {len(result.detections)} detections")
    print_summary(results, out_path, console)
    return out_path


def print_summary(results: list[ScenePrediction], out_path: Path, console: Console) -> None:
    """A table of detections per scene; scenes that were all nodata are called out."""
    table = Table(title=f"detections → {out_path}")
    for name in ("scene", "detections", "vessels", "fishing", "seconds"):
        table.add_column(name, justify="left" if name == "scene" else "right")
    for r in results:
        d = r.detections
        table.add_row(r.source.scene_id, str(len(d)), str(int(d.is_vessel.sum())), str(int(d.is_fishing.sum())),
                      f"{r.seconds:.1f}")
    console.print(table)
    for r in results:
        if r.tiles_with_data == 0:
            console.print(f"warning: {r.source.scene_id}: every pixel is nodata, no detections")

