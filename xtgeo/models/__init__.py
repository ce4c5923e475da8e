"""The xT model core: :func:`build_model` turns a :class:`~xtgeo.config.ModelConfig` into an
:class:`~xtgeo.models.xt.XT`.

Imports only torch, timm and xtgeo's light modules (config, errors), so it runs on a GPU machine
without the geospatial stack. The config's keys, defaults and checks are in :mod:`xtgeo.config`::

    in_chans: 2                 region_size: 256            region_batch: 64
    region_encoder: {name: swinv2_tiny_window8_256, pretrained_file: null,
                     grad_checkpointing: false, kwargs: {}}      # kwargs go to timm.create_model
    context: {kind: xl, depth: 2, dim: null (= deepest backbone channels), heads: 8, ...}
                                 # further context keys are the kind's options (e.g. xl: mem_len)
    decoder: {width: 256, min_width: 16, band_rows: 16, inference_band_rows: 64,
              grad_checkpointing: false, out_stride: 1, length_scale: 100.0}
"""

from __future__ import annotations

from typing import Any

from xtgeo.config import ModelConfig, model_config
from xtgeo.errors import ConfigError
from xtgeo.models.context import CONTEXT_KINDS
from xtgeo.models.region_encoder import RegionEncoder
from xtgeo.models.xt import XT

__all__ = ["CONTEXT_KINDS", "XT", "build_model"]


def build_model(cfg: ModelConfig | dict[str, Any] | None = None) -> XT:
    """Build the xT model from a model config (a :class:`ModelConfig` or its plain dict, checked
    here either way); bad keys or values raise :class:`ConfigError` naming the key."""
    c = model_config(cfg)
    enc = c.region_encoder
    encoder = RegionEncoder(
        enc.name, c.in_chans, c.region_size, c.region_batch,
        pretrained_file=enc.pretrained_file, grad_checkpointing=enc.grad_checkpointing, **enc.kwargs,
    )
    deepest = encoder.reductions[-1]
    if c.region_size % deepest:
        raise ConfigError(f"model.region_size: {c.region_size} is not a multiple of the backbone's stride {deepest}")
    try:
        return XT(encoder, c.context, c.decoder)
    except TypeError as err:
        raise ConfigError(f"model.context: {c.context.kind}: {err}") from None
    except ValueError as err:
        raise ConfigError(f"model.context/decoder: {err}") from None
