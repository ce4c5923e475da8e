"""Typed run configuration: dataclasses loaded from YAML, with ``--set key=value`` overrides.

A config has the top-level sections ``model`` (the dict that :func:`xtgeo.models.build_model`
takes), ``data``, ``train``, ``loss``, ``postprocess`` and ``seed``. Every value is checked
against its declared type before any work starts; an unknown key or a wrong type raises
:class:`~xtgeo.errors.ConfigError` naming the dotted key (``train.lr``). Overrides are parsed as
YAML scalars and coerced to the declared type (``--set train.steps=200``).
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xtgeo.atomic import atomic_path
from xtgeo.errors import ConfigError


@dataclass
class DataConfig:
    """Crops, sampling, normalisation and targets."""

    crop_size: int = 512
    #: Fraction of training crops centred near a labelled object (the rest: anywhere valid).
    object_fraction: float = 0.5
    #: Crops with fewer valid (non-nodata) pixels than this fraction are drawn again.
    min_valid_fraction: float = 0.3
    #: Scene ids held out for validation; empty → the last ``val_scenes_count`` scene ids.
    val_scenes: list[str] = field(default_factory=list)
    val_scenes_count: int = 0
    #: Stride of the validation grid sampler as a fraction of the crop size.
    val_stride_fraction: float = 1.0
    #: GridWindow size of the full-scene predict in validation (0: the crop size); overlap is a quarter.
    val_window_size: int = 0
    #: Normalisation: dB clipped to [db_min, db_max], then (dB - mean) / std per polarisation.
    db_min: float = -50.0
    db_max: float = 20.0
    vv_mean: float = -18.0
    vv_std: float = 6.0
    vh_mean: float = -26.0
    vh_std: float = 6.0
    #: Add the validity mask (1 valid, 0 nodata) as an extra input channel.
    validity_channel: bool = True
    #: Targets: Gaussian sigma of the centre heatmap and radius of vessel/fishing/length discs.
    center_sigma_px: float = 2.0
    disc_radius_px: int = 4
    #: Rule for LOW-confidence labels: "ignore" (no loss near them) or "positive" or "drop".
    low_confidence: str = "ignore"
    augment: bool = True
    #: Crop-loading worker processes per rank; null (auto): none on CPU, on CUDA the CPU cores
    #: shared out per rank less one for the training loop, 2 to 8.
    num_workers: int | None = None


@dataclass
class TrainConfig:
    """Optimiser, schedule, logging and checkpoint cadence (counted in optimiser steps)."""

    #: Length of the schedule; ``--max-steps`` stops earlier without changing it.
    steps: int = 1000
    #: Steps per epoch (validation runs at the end of every epoch).
    epoch_steps: int = 100
    batch_size: int = 2
    lr: float = 2e-4
    weight_decay: float = 0.05
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    warmup_steps: int = 50
    #: Final learning rate of the cosine as a fraction of ``lr``.
    min_lr_ratio: float = 0.01
    grad_clip: float = 1.0
    #: bf16 autocast on CUDA (ignored on CPU).
    bf16: bool = True
    log_every: int = 10
    checkpoint_every: int = 500
    #: Validation: "loss" (grid-sampled loss), "score" (loss + full predict/score), "none".
    validation: str = "score"
    device: str = "auto"
    #: torch.compile the backbone and decoder (CUDA; falls back to eager, with a note, where it cannot).
    compile: bool = False
    #: Activation checkpointing: "config" (the model section's grad_checkpointing flags) or "auto"
    #: (measured on the first batch of a CUDA run: the fastest policy that fits, xtgeo.train.memory).
    checkpointing: str = "config"
    #: Share of the GPU memory free at the start that "auto" checkpointing may plan to use.
    memory_fraction: float = 0.9


@dataclass
class LossConfig:
    """Loss kinds and weights."""

    #: "focal" (penalty-reduced focal, CenterNet) or "mse" on the sigmoid heatmap.
    center: str = "focal"
    focal_alpha: float = 2.0
    focal_beta: float = 4.0
    center_weight: float = 1.0
    vessel_weight: float = 1.0
    fishing_weight: float = 1.0
    length_weight: float = 0.1
    #: Share of dice in the vessel/fishing loss (the rest BCE).
    dice_weight: float = 0.5


@dataclass
class PostprocessConfig:
    """Turning maps into detections (used by ``predict``)."""

    center_threshold: float = 0.3
    nms_radius_px: int = 4
    vessel_threshold: float = 0.5
    fishing_threshold: float = 0.5


@dataclass
class Config:
    """A whole run configuration."""

    model: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict/list/str/number form (YAML- and ``weights_only``-checkpoint-safe)."""
        return dataclasses.asdict(self)


_CHOICES = {
    "data.low_confidence": ("ignore", "positive", "drop"),
    "train.validation": ("score", "loss", "none"),
    "train.device": ("auto", "cpu", "cuda"),
    "train.checkpointing": ("config", "auto"),
    "loss.center": ("focal", "mse"),
}
_POSITIVE = {"data.crop_size", "train.steps", "train.epoch_steps", "train.batch_size", "train.log_every",
             "train.checkpoint_every", "data.disc_radius_px", "data.val_stride_fraction", "train.lr",
             "data.center_sigma_px", "data.vv_std", "data.vh_std", "train.memory_fraction"}
_FRACTIONS = {"data.object_fraction", "data.min_valid_fraction", "train.min_lr_ratio", "train.memory_fraction"}


def _coerce(value: Any, kind: Any, key: str) -> Any:
    """``value`` as type ``kind`` (int, float, bool, str, list[X], dict, X | None), or ConfigError."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        return _coerce(value, next(a for a in typing.get_args(kind) if a is not type(None)), key)
    if origin is list:
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.strip().startswith("[") else value.split(",")
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(kind)
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict or kind is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value)
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise TypeError(f"unsupported config type {kind!r} for {key}")


def _build(cls: type, values: Any, prefix: str) -> Any:
    """An instance of dataclass ``cls`` from a mapping, checking every key and type."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in names:
            raise ConfigError(f"{prefix}{key}: unknown config key")
    kwargs = {}
    for name in names & set(values):
        kind, key = hints[name], prefix + name
        if dataclasses.is_dataclass(kind):
            kwargs[name] = _build(kind, values[name], key + ".")
        else:
            kwargs[name] = _coerce(values[name], kind, key)
    return cls(**kwargs)


def _check_values(cfg: Config) -> None:
    for key, choices in _CHOICES.items():
        value = _get(cfg, key)
        if value not in choices:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")
    for key in _POSITIVE:
        if _get(cfg, key) <= 0:
            raise ConfigError(f"{key}: must be positive, got {_get(cfg, key)}")
    for key in _FRACTIONS:
        if not 0 <= _get(cfg, key) <= 1:
            raise ConfigError(f"{key}: must be between 0 and 1, got {_get(cfg, key)}")
    if cfg.data.db_min >= cfg.data.db_max:
        raise ConfigError(f"data.db_min: {cfg.data.db_min} must be below data.db_max {cfg.data.db_max}")
    if cfg.data.val_window_size < 0:
        raise ConfigError(
            f"data.val_window_size: must be 0 (the crop size) or positive, got {cfg.data.val_window_size}"
        )
    if cfg.data.num_workers is not None and cfg.data.num_workers < 0:
        raise ConfigError(f"data.num_workers: must be 0 or more (or null: auto), got {cfg.data.num_workers}")
    if len(cfg.train.betas) != 2:
        raise ConfigError(f"train.betas: expected two numbers, got {cfg.train.betas}")


def _get(cfg: Config, dotted: str) -> Any:
    obj: Any = cfg
    for part in dotted.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def _resolve_model(cfg: Config) -> None:
    """Fill ``model.in_chans`` from the data section and check the model dict (no model is built)."""
    from xtgeo.data.normalize import input_channels
    from xtgeo.models import resolve_config

    channels = input_channels(cfg)
    given = cfg.model.get("in_chans")
    if given is not None and given != channels:
        raise ConfigError(f"model.in_chans: {given} does not match the {channels} input channels of the data section")
    try:
        cfg.model = resolve_config({**cfg.model, "in_chans": channels})
    except ConfigError as err:
        raise ConfigError(f"model.{err}") from None


def apply_overrides(raw: dict[str, Any], overrides: typing.Iterable[str]) -> dict[str, Any]:
    """``raw`` with each ``key.path=value`` applied (value parsed as a YAML scalar)."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item}: expected key=value")
        dotted, text = item.split("=", 1)
        parts = dotted.strip().split(".")
        if not all(parts):
            raise ConfigError(f"--set {item}: bad key {dotted!r}")
        node = raw
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{'.'.join(parts[: i + 1])}: is not a section, cannot set {dotted}")
            node = child
        try:
            node[parts[-1]] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            node[parts[-1]] = text
    return raw


#: Keys renamed since checkpoints were first written (old name → new name); old configs still load.
RENAMED_KEYS = {("data", "val_tile_size"): "val_window_size"}


def _rename_old_keys(raw: dict[str, Any]) -> dict[str, Any]:
    for (section, old), new in RENAMED_KEYS.items():
        values = raw.get(section)
        if isinstance(values, dict) and old in values and new not in values:
            values[new] = values.pop(old)
    return raw


def from_dict(raw: dict[str, Any], overrides: typing.Iterable[str] = ()) -> Config:
    """A checked :class:`Config` from a plain dict plus ``--set`` overrides."""
    raw = apply_overrides(_rename_old_keys(copy.deepcopy(raw or {})), overrides)
    cfg = _build(Config, raw, "")
    _check_values(cfg)
    _resolve_model(cfg)
    return cfg


def load_config(source: str | Path | dict | Config, overrides: typing.Iterable[str] = ()) -> Config:
    """Load a config from a YAML path, a dict or a :class:`Config`, then apply ``overrides``."""
    if isinstance(source, Config):
        return from_dict(source.to_dict(), overrides)
    if isinstance(source, dict):
        return from_dict(source, overrides)
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    try:
        return from_dict(raw or {}, overrides)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def dump_config(cfg: Config, path: Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
