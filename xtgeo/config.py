"""Typed run configuration: dataclasses loaded from YAML, with ``--set key=value`` overrides.

A config has the top-level sections ``model`` (:class:`ModelConfig`, what
:func:`xtgeo.models.build_model` takes), ``data``, ``train``, ``loss``, ``postprocess`` and ``seed``;
the defaults are the dataclass fields below and nowhere else. A YAML file may start from another:
``base: other.yaml`` (relative to the file) is loaded first and the file's own keys replace its
keys, section by section (nanoGPT-style deltas; see ``configs/``); a section with another
``kind`` (``model.context``) replaces the base's whole.

One validator (:func:`from_dict`) checks every value before any work starts: its type, then its
value (finite numbers, ranges, choices, the context kind and backbone name the model code knows).
A problem raises :class:`~xtgeo.errors.ConfigError` naming the dotted key and the problem
(``train.lr: must be at most 1, got 1e+30``). Overrides are parsed as YAML scalars and coerced to
the declared type (``--set train.steps=200``).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xtgeo.atomic import atomic_path
from xtgeo.errors import ConfigError

#: The timm backbone of the paper's Swin-T setup.
DEFAULT_BACKBONE = "swinv2_tiny_window8_256"
#: Polarisations every scene gives (in model input order); the validity mask may follow.
POLARISATIONS = ("vv", "vh")


@dataclass
class RegionEncoderConfig:
    """The timm backbone that encodes each region into multi-scale feature maps."""

    name: str = DEFAULT_BACKBONE
    #: Local weights file (none are downloaded); null: random initialisation.
    pretrained_file: str | None = None
    #: Activation checkpointing per micro-batch of regions (memory for compute).
    grad_checkpointing: bool = False
    #: Further keyword arguments of ``timm.create_model``.
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class ContextConfig:
    """The long-context encoder across all regions (``xtgeo.models.context``).

    In YAML the kind-specific options sit beside the common keys (``{kind: xl, depth: 2, mem_len:
    4096}``); they are collected in :attr:`options` and checked against the encoder of ``kind``.
    """

    kind: str = "xl"
    depth: int = 2
    #: Token width; null: the deepest backbone channels.
    dim: int | None = None
    heads: int = 8
    options: dict[str, Any] = field(default_factory=dict, metadata={"extra_keys": True})


@dataclass
class DecoderConfig:
    """The UNet-style decoder and the heads' output scale."""

    width: int = 256
    min_width: int = 16
    #: Deepest-level rows decoded at once when training with decoder checkpointing (bounded memory) ...
    band_rows: int = 16
    #: ... and without gradients (wider bands recompute fewer halo rows).
    inference_band_rows: int = 64
    grad_checkpointing: bool = False
    #: Stride of the last decoder stage (1, 2, 4, …); the heads are upsampled bilinearly from it to
    #: full resolution. 2 drops the costliest full-resolution convolutions.
    out_stride: int = 1
    #: Length head: metres = length_scale · softplus(logit).
    length_scale: float = 100.0


@dataclass
class ModelConfig:
    """The xT model: regions of ``region_size`` px → region encoder → context → decoder → heads."""

    #: Input channels; null: what the data section makes (VV, VH and the validity mask if asked).
    in_chans: int | None = None
    region_size: int = 256
    #: Regions encoded per micro-batch (bounds the backbone's memory without gradients and under
    #: checkpointing; training without backbone checkpointing encodes all regions at once).
    region_batch: int = 64
    region_encoder: RegionEncoderConfig = field(default_factory=RegionEncoderConfig)
    context: ContextConfig = field(default_factory=ContextConfig)
    #: The head spec (``xtgeo.tasks``): only "xview3".
    task: str = "xview3"
    decoder: DecoderConfig = field(default_factory=DecoderConfig)


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
    #: Window size of the full-scene predict in validation (0: the crop size); overlap is a quarter.
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

    @property
    def input_channels(self) -> int:
        """Model input channels: VV, VH, and the validity mask when ``validity_channel``."""
        return len(POLARISATIONS) + int(self.validity_channel)


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
    #: (measured on the first batch of a CUDA run, xtgeo.train.memory: of the policies that fit, the
    #: one using least memory among those at most checkpointing_slowdown slower than the fastest).
    checkpointing: str = "config"
    #: Share of the GPU memory free at the start that "auto" checkpointing may plan to use.
    memory_fraction: float = 0.9
    #: Step time "auto" checkpointing may give up for less memory: 0.25 = up to 25 % slower than the
    #: fastest policy that fits; 0 = always the fastest.
    checkpointing_slowdown: float = 0.25
    #: With compile: share of the activations the compiled stages would keep for backward that they
    #: may keep (torch.compile's activation memory budget: below 1 they recompute the cheapest of the
    #: rest in backward, trading a little time for memory, e.g. 0.3); 1 keeps them all.
    activation_memory_budget: float = 1.0


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

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict/list/str/number form (YAML- and ``weights_only``-checkpoint-safe)."""
        return plain(self)


def plain(section: Any) -> dict[str, Any]:
    """A config section as the plain dict its YAML holds (kind-specific options beside the keys)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if f.metadata.get("extra_keys"):
            out.update(copy.deepcopy(value))
        elif dataclasses.is_dataclass(value):
            out[f.name] = plain(value)
        else:
            out[f.name] = copy.deepcopy(value)
    return out


_CHOICES = {
    "model.task": ("xview3",),
    "data.low_confidence": ("ignore", "positive", "drop"),
    "train.validation": ("score", "loss", "none"),
    "train.device": ("auto", "cpu", "cuda"),
    "train.checkpointing": ("config", "auto"),
    "loss.center": ("focal", "mse"),
}
_POSITIVE = {"data.crop_size", "train.steps", "train.epoch_steps", "train.batch_size", "train.log_every",
             "train.checkpoint_every", "data.disc_radius_px", "data.val_stride_fraction", "train.lr",
             "data.center_sigma_px", "data.vv_std", "data.vh_std", "train.memory_fraction",
             "train.activation_memory_budget",
             "model.in_chans", "model.region_size", "model.region_batch", "model.context.depth", "model.context.dim",
             "model.context.heads", "model.decoder.width", "model.decoder.min_width", "model.decoder.band_rows",
             "model.decoder.inference_band_rows", "model.decoder.out_stride", "model.decoder.length_scale"}
_NON_NEGATIVE = {"seed", "data.num_workers", "data.val_scenes_count", "data.val_window_size", "train.weight_decay",
                 "train.warmup_steps", "train.grad_clip", "train.checkpointing_slowdown", "loss.focal_alpha",
                 "loss.focal_beta", "loss.center_weight", "loss.vessel_weight", "loss.fishing_weight",
                 "loss.length_weight", "postprocess.nms_radius_px"}
_FRACTIONS = {"data.object_fraction", "data.min_valid_fraction", "train.min_lr_ratio", "loss.dice_weight",
              "postprocess.center_threshold", "postprocess.vessel_threshold", "postprocess.fishing_threshold",
              "train.memory_fraction", "train.activation_memory_budget"}
#: Upper bounds beyond which a value is surely a mistake.
_AT_MOST = {"train.lr": 1.0}


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
        _check_finite(value, key)
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if kind is int:  # YAML and --set give integers as int; a quoted number stays text
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if kind is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
        if number is None:
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(number):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return number
    if kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise TypeError(f"unsupported config type {kind!r} for {key}")


def _check_finite(values: Any, key: str) -> None:
    """No NaN or infinity anywhere in an open mapping (options passed on as they are)."""
    if isinstance(values, dict):
        for name, value in values.items():
            _check_finite(value, f"{key}.{name}")
    elif isinstance(values, (list, tuple)):
        for i, value in enumerate(values):
            _check_finite(value, f"{key}[{i}]")
    elif isinstance(values, float) and not math.isfinite(values):
        raise ConfigError(f"{key}: expected a finite number, got {values!r}")


def _build(cls: type, values: Any, prefix: str) -> Any:
    """An instance of dataclass ``cls`` from a mapping, checking every key and type.

    Keys that are no field go to the field marked ``extra_keys`` (a section's open options), or
    are an error.
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    extra = next((f.name for f in fields if f.metadata.get("extra_keys")), None)
    names = {f.name for f in fields} - {extra}
    unknown = {key: value for key, value in values.items() if key not in names}
    if unknown and extra is None:
        raise ConfigError(f"{prefix}{next(iter(unknown))}: unknown config key")
    kwargs: dict[str, Any] = {}
    if extra is not None:
        _check_finite(unknown, prefix.rstrip("."))
        kwargs[extra] = copy.deepcopy(unknown)
    for name in names & set(values):
        kind, key = hints[name], prefix + name
        if dataclasses.is_dataclass(kind):
            kwargs[name] = _build(kind, values[name], key + ".")
        else:
            kwargs[name] = _coerce(values[name], kind, key)
    return cls(**kwargs)


def _check_tables(cfg: Config, prefix: str = "") -> None:
    """The table-driven value checks (choices, signs, fractions, bounds) of the keys under ``prefix``."""
    for key, choices in _CHOICES.items():
        value = _get(cfg, key) if key.startswith(prefix) else choices[0]
        if value not in choices:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")
    for key in (k for k in _POSITIVE if k.startswith(prefix)):
        value = _get(cfg, key)
        if value is not None and value <= 0:
            raise ConfigError(f"{key}: must be positive, got {value}")
    for key in (k for k in _NON_NEGATIVE if k.startswith(prefix)):
        value = _get(cfg, key)
        if value is not None and value < 0:
            raise ConfigError(f"{key}: must be 0 or more, got {value}")
    for key in (k for k in _FRACTIONS if k.startswith(prefix)):
        if not 0 <= _get(cfg, key) <= 1:
            raise ConfigError(f"{key}: must be between 0 and 1, got {_get(cfg, key)}")
    for key, bound in _AT_MOST.items():
        if key.startswith(prefix) and _get(cfg, key) > bound:
            raise ConfigError(f"{key}: must be at most {bound:g}, got {_get(cfg, key):g}")


def _check_values(cfg: Config) -> None:
    """Value checks of every section (types were checked when the dataclasses were built)."""
    _check_tables(cfg)
    if cfg.data.db_min >= cfg.data.db_max:
        raise ConfigError(f"data.db_min: {cfg.data.db_min} must be below data.db_max {cfg.data.db_max}")
    if len(cfg.train.betas) != 2:
        raise ConfigError(f"train.betas: expected two numbers, got {cfg.train.betas}")
    for i, beta in enumerate(cfg.train.betas):
        if not 0 <= beta < 1:
            raise ConfigError(f"train.betas[{i}]: must be in [0, 1), got {beta}")
    channels = cfg.data.input_channels
    if cfg.model.in_chans is None:
        cfg.model.in_chans = channels
    elif cfg.model.in_chans != channels:
        raise ConfigError(f"model.in_chans: {cfg.model.in_chans} does not match the {channels} input channels "
                          f"of the data section")
    check_model(cfg.model)


def check_model(model: ModelConfig, prefix: str = "model.") -> None:
    """What only the model code knows: the context kind and its options, the backbone name. (The
    pretrained weights are found when the model is built: a resumed run or a checkpoint needs none.)"""
    from xtgeo.models.context import CONTEXT_KINDS, context_encoder_class  # torch: imported when checked

    kind = model.context.kind
    if kind not in CONTEXT_KINDS:
        raise ConfigError(f"{prefix}context.kind: {kind!r} is not one of {', '.join(CONTEXT_KINDS)}")
    accepted = inspect.signature(context_encoder_class(kind)).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        for name in model.context.options:
            if name not in accepted:
                known = ", ".join(sorted(set(accepted) - {"self", "dim", "depth", "heads"})) or "none"
                raise ConfigError(f"{prefix}context.{name}: not an option of context kind {kind} (options: {known})")
    import timm  # imported when checked

    encoder = model.region_encoder
    if not timm.is_model(encoder.name):
        raise ConfigError(f"{prefix}region_encoder.name: {encoder.name!r} is not a timm model")


def _get(cfg: Any, dotted: str) -> Any:
    obj: Any = cfg
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


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


#: Keys renamed since checkpoints were first written (old → new); old configs still load.
RENAMED_KEYS = {"data.val_tile_size": "data.val_window_size"}
#: Keys of removed features, accepted (and dropped) only with the value they always had.
REMOVED_KEYS = {"model.num_classes": None}


def _upgrade_old_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with the keys of older xtgeo versions renamed or dropped (see :data:`RENAMED_KEYS`)."""
    def section(dotted: str) -> tuple[dict | None, str]:
        *parents, name = dotted.split(".")
        node: Any = raw
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        return (node if isinstance(node, dict) else None), name

    for old, new in RENAMED_KEYS.items():
        node, name = section(old)
        if node is not None and name in node and new.rsplit(".", 1)[-1] not in node:
            node[new.rsplit(".", 1)[-1]] = node.pop(name)
    for old, value in REMOVED_KEYS.items():
        node, name = section(old)
        if node is not None and name in node and node[name] == value:
            del node[name]
    return raw


def from_dict(raw: dict[str, Any], overrides: typing.Iterable[str] = ()) -> Config:
    """A checked :class:`Config` from a plain dict plus ``--set`` overrides (the one validator)."""
    raw = apply_overrides(_upgrade_old_keys(copy.deepcopy(raw or {})), overrides)
    cfg = _build(Config, raw, "")
    _check_values(cfg)
    return cfg


def model_config(raw: ModelConfig | dict[str, Any] | None = None) -> ModelConfig:
    """A checked :class:`ModelConfig` on its own (without a data section, null ``in_chans`` is VV, VH)."""
    raw = plain(raw) if isinstance(raw, ModelConfig) else copy.deepcopy(raw or {})
    model = _build(ModelConfig, _upgrade_old_keys({"model": raw})["model"], "model.")
    if model.in_chans is None:
        model.in_chans = len(POLARISATIONS)
    _check_tables(Config(model=model), "model.")
    check_model(model)
    return model


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file as a dict, its ``base:`` chain resolved (each base relative to its file)."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    if path.resolve() in seen:
        chain = " -> ".join(str(p) for p in (*seen, path.resolve()))
        raise ConfigError(f"{path}: base configs form a cycle ({chain})")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if raw is None or raw == {}:
        raise ConfigError(f"{path}: empty config file (see configs/ for complete ones)")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: base: expected the path of another config file, got {base!r}")
    return _merged(_read_yaml(path.parent / base, (*seen, path.resolve())), raw)


def _merged(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``delta`` on top: mappings merge key by key, anything else is replaced; a
    mapping whose ``kind`` differs from the base's replaces it whole (its options are the kind's)."""
    out = dict(base)
    for key, value in delta.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and value.get("kind", old.get("kind")) == old.get("kind"):
            out[key] = _merged(old, value)
        else:
            out[key] = value
    return out


def load_config(source: str | Path | dict | Config, overrides: typing.Iterable[str] = ()) -> Config:
    """Load a config from a YAML path (its ``base:`` chain resolved), a dict or a :class:`Config`,
    then apply ``overrides``."""
    if isinstance(source, Config):
        return from_dict(source.to_dict(), overrides)
    if isinstance(source, dict):
        return from_dict(source, overrides)
    path = Path(source)
    raw = _read_yaml(path)
    try:
        return from_dict(raw, overrides)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def dump_config(cfg: Config, path: Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
