"""The xT model core: :func:`build_model` turns a config into an :class:`~xtgeo.models.xt.XT`.

Imports only torch and timm, so it runs on a GPU machine without the geospatial stack.

Config keys (a dict, or an object with the same attributes; ``None`` means the default)::

    in_chans: 2                 region_size: 256            region_batch: 64
    region_encoder: {name: swinv2_tiny_window8_256, pretrained_file: null,
                     grad_checkpointing: false, kwargs: {}}      # kwargs go to timm.create_model
    context: {kind: xl, depth: 2, dim: null (= deepest backbone channels), heads: 8, ...}
                                 # further context keys go to the encoder (e.g. xl: mem_len)
    task: xview3 | classify      num_classes: (classify only)
    decoder: {width: 256, min_width: 16, band_rows: 16, inference_band_rows: 64,
              grad_checkpointing: false, length_scale: 100.0}
                                 # band_rows: deepest-level rows decoded at once when training;
                                 # inference_band_rows: the same without gradients
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from xtgeo.errors import ConfigError
from xtgeo.models.context import CONTEXT_KINDS
from xtgeo.models.region_encoder import DEFAULT_BACKBONE, RegionEncoder
from xtgeo.models.xt import XT

__all__ = ["CONTEXT_KINDS", "XT", "build_model", "resolve_config"]

DEFAULTS: dict[str, Any] = {
    "in_chans": 2,
    "region_size": 256,
    "region_batch": 64,
    "region_encoder": {"name": DEFAULT_BACKBONE, "pretrained_file": None, "grad_checkpointing": False, "kwargs": {}},
    "context": {"kind": "xl", "depth": 2, "dim": None, "heads": 8},
    "task": "xview3",
    "num_classes": None,
    "decoder": {"width": 256, "min_width": 16, "band_rows": 16, "inference_band_rows": 64, "grad_checkpointing": False,
                "length_scale": 100.0},
}
_OPEN_SECTIONS = {"context", "region_encoder.kwargs"}  # sections whose extra keys are passed on
_TYPES: dict[str, type | tuple[type, ...]] = {
    "in_chans": int, "region_size": int, "region_batch": int, "num_classes": int,
    "region_encoder.name": str, "region_encoder.pretrained_file": str,
    "region_encoder.grad_checkpointing": bool, "context.kind": str, "context.depth": int,
    "context.dim": int, "context.heads": int, "task": str, "decoder.width": int,
    "decoder.min_width": int, "decoder.band_rows": int, "decoder.inference_band_rows": int,
    "decoder.grad_checkpointing": bool,
    "decoder.length_scale": (int, float),
}


def _as_dict(obj: Any, key: str) -> dict[str, Any]:
    """A config section as a plain dict: mappings, dataclasses and plain objects are accepted."""
    if isinstance(obj, Mapping):
        return dict(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    if hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    raise ConfigError(f"{key or 'model config'}: expected a mapping, got {type(obj).__name__}")


def _merge(defaults: dict[str, Any], given: Any, prefix: str = "") -> dict[str, Any]:
    out = dict(defaults)
    for key, value in _as_dict(given, prefix.rstrip(".")).items():
        path = prefix + str(key)
        if value is None:
            continue
        if key not in defaults and prefix.rstrip(".") not in _OPEN_SECTIONS:
            raise ConfigError(f"{path}: unknown model config key")
        if isinstance(defaults.get(key), dict):
            value = _merge(defaults[key], value, path + ".")
        elif path in _TYPES:
            wanted = _TYPES[path]
            if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
                raise ConfigError(f"{path}: expected {getattr(wanted, '__name__', 'a number')}, got {value!r}")
        out[key] = value
    return out


def resolve_config(cfg: Any = None) -> dict[str, Any]:
    """The full model config: ``cfg`` over :data:`DEFAULTS`, checked. Raises :class:`ConfigError`."""
    resolved = _merge(DEFAULTS, cfg or {})
    for key in ("in_chans", "region_size", "region_batch"):
        if resolved[key] < 1:
            raise ConfigError(f"{key}: must be a positive integer, got {resolved[key]}")
    kind = resolved["context"]["kind"]
    if kind not in CONTEXT_KINDS:
        raise ConfigError(f"context.kind: {kind!r} is not one of {', '.join(CONTEXT_KINDS)}")
    if resolved["task"] not in ("xview3", "classify"):
        raise ConfigError(f"task: {resolved['task']!r} is not one of xview3, classify")
    if resolved["task"] == "classify" and (resolved["num_classes"] or 0) < 1:
        raise ConfigError("num_classes: task classify needs a positive num_classes")
    return resolved


def build_model(cfg: Any = None) -> XT:
    """Build the xT model from a config (see the module doc); bad keys or values → ConfigError."""
    c = resolve_config(cfg)
    enc = c["region_encoder"]
    encoder = RegionEncoder(
        enc["name"], c["in_chans"], c["region_size"], c["region_batch"],
        pretrained_file=enc["pretrained_file"], grad_checkpointing=enc["grad_checkpointing"], **enc["kwargs"],
    )
    deepest = encoder.reductions[-1]
    if c["region_size"] % deepest:
        raise ConfigError(f"region_size: {c['region_size']} is not a multiple of the backbone's stride {deepest}")
    try:
        return XT(encoder, c["context"], task=c["task"], num_classes=c["num_classes"], decoder=c["decoder"])
    except TypeError as err:
        raise ConfigError(f"context: {c['context']['kind']}: {err}") from None
    except ValueError as err:
        raise ConfigError(f"context/decoder: {err}") from None
