"""A checkpoint's model, and one scene's detections with it.

:func:`load_model` rebuilds the model of a training checkpoint with its config. :func:`predict_scene`
runs a :class:`~xtgeo.predict.inference.Predictor` over one :class:`~xtgeo.predict.sources.SceneSource`:
overlapping windows are read in row strips by background threads (:func:`window_reader`; :func:`default_readers` of
them) and batched to the device (:mod:`xtgeo.predict.inference`), blended into float16 full-scene
maps (:mod:`xtgeo.predict.windows`), turned into detections (:mod:`xtgeo.predict.postprocess`) and
georeferenced (:mod:`xtgeo.predict.detections`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import torch

from xtgeo.config import Config, PostprocessConfig, from_dict, load_config
from xtgeo.data.normalize import INPUT_KEYS, model_input
from xtgeo.errors import ConfigError, XtgeoError
from xtgeo.models import build_model
from xtgeo.predict.detections import ON_LAND, detections_frame
from xtgeo.predict.inference import TTA_VIEWS, Predictor, WindowReader, predict_maps
from xtgeo.predict.postprocess import detections_from_maps
from xtgeo.predict.sources import SceneSource
from xtgeo.predict.windows import GridWindow, SceneMaps, WindowGrid, valid_overlap
from xtgeo.train.checkpoint import WEIGHTS_FROM_CHECKPOINT, calibrated_thresholds, load_checkpoint, load_weights

DEFAULT_WINDOW_SIZE = 4096
DEFAULT_OVERLAP = 512


@dataclass(frozen=True)
class PredictOptions:
    """How ``xtgeo predict`` runs (its flags); thresholds left None keep the checkpoint's."""

    window_size: int = DEFAULT_WINDOW_SIZE  # side of the window the model sees whole, pixels
    overlap: int = DEFAULT_OVERLAP  # of neighbouring windows, pixels (at most half a window)
    batch: int = 1  # windows per forward pass (halved on GPU out-of-memory)
    device: str = "auto"  # auto, cpu, cuda (every GPU) or cuda:N
    readers: int | None = None  # window-reading threads per device; None: default_readers()
    scenes_per_device: int = 1  # scenes in flight on each device, taking its model in turn
    compile_model: bool = False  # torch.compile the per-pixel stages
    tta: str = "none"  # test-time augmentation: a name of xtgeo.predict.inference.TTA_VIEWS
    keep_land: bool = False  # keep detections on land, with an on_land column
    center_threshold: float | None = None
    nms_radius_px: int | None = None
    vessel_threshold: float | None = None
    fishing_threshold: float | None = None

    def check(self) -> None:
        """Raise :class:`XtgeoError` naming the flag of a value that cannot work."""
        if self.batch < 1:
            raise XtgeoError(f"--batch {self.batch}: must be at least 1")
        if not valid_overlap(self.window_size, self.overlap):
            raise XtgeoError(f"--overlap {self.overlap}: must be from 0 to at most half of --window-size "
                             f"{self.window_size}")
        if self.readers is not None and self.readers < 1:
            raise XtgeoError(f"--readers {self.readers}: must be at least 1")
        if self.scenes_per_device < 1:
            raise XtgeoError(f"--scenes-per-device {self.scenes_per_device}: must be at least 1")
        thresholds = {"--center-threshold": self.center_threshold, "--vessel-threshold": self.vessel_threshold,
                      "--fishing-threshold": self.fishing_threshold}
        for flag, value in thresholds.items():
            if value is not None and not 0.0 <= value <= 1.0:
                raise XtgeoError(f"{flag} {value}: a probability threshold must be from 0 to 1")
        if self.nms_radius_px is not None and self.nms_radius_px < 0:
            raise XtgeoError(f"--nms-radius {self.nms_radius_px}: the minimum peak separation must be 0 or "
                             f"more pixels")
        if self.tta not in TTA_VIEWS:
            raise XtgeoError(f"--tta-views {self.tta}: not one of {', '.join(TTA_VIEWS)}")

    def predictor(self, models: torch.nn.Module | Sequence[torch.nn.Module], device: torch.device) -> Predictor:
        """A :class:`~xtgeo.predict.inference.Predictor` of ``models`` on ``device`` with these options."""
        return Predictor(models, device, self.batch, self.compile_model, self.tta)

    def overrides(self) -> tuple[str, ...]:
        """``--set``-style overrides of the ``postprocess`` section for the thresholds that are given."""
        values = {"center_threshold": self.center_threshold, "nms_radius_px": self.nms_radius_px,
                  "vessel_threshold": self.vessel_threshold, "fishing_threshold": self.fishing_threshold}
        return tuple(f"postprocess.{key}={value}" for key, value in values.items() if value is not None)


@dataclass
class ScenePrediction:
    """One scene's detections, timing, and (when asked for) its full-scene maps."""

    source: SceneSource
    detections: gpd.GeoDataFrame
    seconds: float
    windows_with_data: int
    maps: SceneMaps | None = None


def load_model(checkpoint: str | os.PathLike, overrides: tuple[str, ...] = ()) -> tuple[torch.nn.Module, Config]:
    """The model of a checkpoint, with its weights, and its checked config.

    The config's ``postprocess`` thresholds are the checkpoint's calibrated ones where it has them
    (:mod:`xtgeo.train.calibrate`), then ``overrides`` (``--set``-style) apply over everything.
    """
    path = Path(checkpoint)
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt.get("config"), dict):
        raise XtgeoError(f"{path}: checkpoint has no config")
    _check_channels(path, ckpt["config"])
    calibrated = tuple(f"postprocess.{key}={value}" for key, value in calibrated_thresholds(ckpt).items())
    try:
        config = load_config(ckpt["config"], WEIGHTS_FROM_CHECKPOINT + calibrated + tuple(overrides))
        model = build_model(config.model)
    except ConfigError as err:
        raise XtgeoError(f"{path}: {err}") from None
    load_weights(model, ckpt["model"], path)
    return model.eval(), config


def load_models(
    checkpoints: Sequence[str | os.PathLike], overrides: tuple[str, ...] = ()
) -> tuple[list[torch.nn.Module], Config]:
    """The models of one or more checkpoints (an ensemble) and the first checkpoint's config.

    Thresholds are the first checkpoint's (calibrated, else its config's; ``overrides`` over them).
    Every checkpoint must take the same inputs as the first (the ``data`` keys of
    :data:`~xtgeo.data.normalize.INPUT_KEYS`: normalisation and validity channel); XtgeoError naming
    the one that does not.
    """
    if not checkpoints:
        raise XtgeoError("no checkpoint given")
    first, config = load_model(checkpoints[0], overrides)
    models = [first]
    for path in checkpoints[1:]:
        model, other = load_model(path)
        for key in INPUT_KEYS:
            given, wanted = getattr(other.data, key), getattr(config.data, key)
            if given != wanted:
                raise XtgeoError(f"{path}: takes other inputs than {checkpoints[0]} (data.{key}: {given!r}, not "
                                 f"{wanted!r}); an ensemble's checkpoints must share their input normalisation")
        models.append(model)
    return models, config


def _check_channels(path: Path, config: dict) -> None:
    """The model's input channels must be the ones predict makes from a scene (VV, VH, validity)."""
    model = config.get("model")
    given = model.get("in_chans") if isinstance(model, dict) else None
    try:
        made = from_dict({"data": config.get("data")}).data.input_channels
    except ConfigError:
        return  # a malformed data section: load_config names the key
    if given is not None and given != made:
        raise XtgeoError(
            f"{path}: the model takes {given} input channels, but scenes give {made} "
            f"(VV, VH{', validity' if made == 3 else ''} as its data config asks)"
        )


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


def default_readers(devices: list[torch.device]) -> int:
    """GridWindow-reading threads per device when none are asked for.

    On GPUs, the CPU cores shared out among them, 4 to 16: a compiled model takes a 4096² window
    in ~0.07 s, while one thread needs ~0.5 s to decode and normalise it. On the CPU, 2: the
    model needs the cores.
    """
    if devices[0].type != "cuda":
        return 2
    return max(4, min(16, (os.cpu_count() or 4) // len(devices)))


def window_reader(source: SceneSource, config: Config) -> WindowReader:
    """Reads one window of ``source`` as the model's input and its validity mask (thread-safe)."""

    def read_window(window: GridWindow) -> tuple[np.ndarray, np.ndarray]:
        bands = source.read_bands(window)
        return model_input(bands, config.data), bands["valid"]

    return read_window


def scene_windows(source: SceneSource, window_size: int = DEFAULT_WINDOW_SIZE,
                  overlap: int = DEFAULT_OVERLAP) -> WindowGrid:
    """The overlapping windows that cover ``source``."""
    return WindowGrid(source.scene.height, source.scene.width, window_size, overlap)


def scene_detections(
    source: SceneSource,
    maps: Mapping[str, torch.Tensor],
    postprocess: PostprocessConfig,
    keep_land: bool = False,
    max_detections: int | None = None,
) -> gpd.GeoDataFrame:
    """The georeferenced detections of one scene's blended maps, with ``postprocess``'s thresholds.

    Detections on land (:meth:`~xtgeo.predict.sources.SceneSource.land_at`) are dropped, or with
    ``keep_land`` kept and marked in an ``on_land`` column (False everywhere when the scene does not
    say where land is); their distance to shore is 0. ``max_detections`` keeps the strongest so many.
    """
    found = detections_from_maps(maps, postprocess)  # strongest first
    on_land = source.land_at(found["detect_scene_row"], found["detect_scene_column"])
    if on_land is not None and not keep_land:
        found = {key: values[~on_land] for key, values in found.items()}
        on_land = on_land[~on_land]
    if max_detections is not None:
        found = {key: values[:max_detections] for key, values in found.items()}
        on_land = None if on_land is None else on_land[:max_detections]
    rows, cols = found["detect_scene_row"], found["detect_scene_column"]
    distance = source.distance_to_shore_km(rows, cols)
    if on_land is not None:
        distance = np.where(on_land, 0.0, np.nan if distance is None else distance)
    if keep_land:
        found[ON_LAND] = np.zeros(len(rows), dtype=bool) if on_land is None else on_land
    scene = source.scene
    return detections_frame(found, scene.scene_id, scene.transform, scene.crs, distance)


def predict_scene(
    source: SceneSource,
    predictor: Predictor,
    config: Config,
    *,
    window_size: int = DEFAULT_WINDOW_SIZE,
    overlap: int = DEFAULT_OVERLAP,
    readers: int = 2,
    keep_maps: bool = False,
    keep_land: bool = False,
    max_detections: int | None = None,
    on_windows: Callable[[int], Any] | None = None,
) -> ScenePrediction:
    """Detect vessels in one scene with a ready :class:`~xtgeo.predict.inference.Predictor`.

    ``readers`` threads read windows ahead; ``on_windows(n)`` is called as windows are done (of the
    ``len(scene_windows(...))`` in all); ``keep_maps`` keeps the blended maps in the result, with the
    validity of every pixel (``maps.valid``); ``keep_land`` keeps the detections on land,
    ``max_detections`` only the strongest (:func:`scene_detections`).
    """
    start = time.perf_counter()
    maps = predict_maps(predictor, scene_windows(source, window_size, overlap), window_reader(source, config),
                        readers=readers, on_windows=on_windows, track_valid=keep_maps)
    frame = scene_detections(source, maps.maps, config.postprocess, keep_land, max_detections)
    return ScenePrediction(source, frame, time.perf_counter() - start, maps.windows_added, maps if keep_maps else None)
