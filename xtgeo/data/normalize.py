"""Model input from SAR bands: clipped, standardised dB with nodata as 0, plus a validity channel.

Shared by ``train`` and ``predict`` (the contract): :func:`model_input` takes the bands of a
preprocessed scene (at least ``vv_db``, ``vh_db``, ``valid``) and the run config, and returns the
float32 (C, H, W) array the model sees; :func:`input_channels` says how many channels that is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from xtgeo.config import DataConfig

POLARISATIONS = ("vv", "vh")
#: The normalisation keys of the ``data`` section, with :class:`~xtgeo.config.DataConfig`'s defaults.
_DEFAULTS = {key: getattr(DataConfig, key) for key in
             ("db_min", "db_max", "vv_mean", "vv_std", "vh_mean", "vh_std", "validity_channel")}


def _data_section(cfg: Any) -> dict[str, Any]:
    """The normalisation keys of ``cfg``: a whole config (dict or Config) or its ``data`` section."""
    data = cfg.get("data", cfg) if isinstance(cfg, Mapping) else getattr(cfg, "data", cfg)
    get = data.get if isinstance(data, Mapping) else lambda k, d: getattr(data, k, d)
    return {key: get(key, default) for key, default in _DEFAULTS.items()}


def input_channels(cfg: Any) -> int:
    """Number of model input channels: VV, VH, and the validity mask when configured."""
    return len(POLARISATIONS) + int(bool(_data_section(cfg)["validity_channel"]))


def model_input(bands: Mapping[str, np.ndarray], cfg: Any) -> np.ndarray:
    """Normalised float32 (C, H, W) input from ``bands`` (``vv_db``, ``vh_db``, ``valid``: (H, W)).

    Each polarisation is clipped to [db_min, db_max] and standardised with its mean and std;
    pixels that are not valid (nodata, or non-finite dB) become 0. With ``validity_channel``
    the validity mask (1.0 / 0.0) is appended as the last channel.
    """
    opts = _data_section(cfg)
    valid = np.asarray(bands["valid"]) > 0
    out = np.empty((input_channels(opts), *valid.shape), dtype=np.float32)
    for k, pol in enumerate(POLARISATIONS):  # in place: a 4096² tile is 64 MiB per channel
        db = np.asarray(bands[f"{pol}_db"], dtype=np.float32)
        valid &= np.isfinite(db)
        np.clip(db, opts["db_min"], opts["db_max"], out=out[k])
        np.subtract(out[k], np.float32(opts[f"{pol}_mean"]), out=out[k])
        np.divide(out[k], np.float32(opts[f"{pol}_std"]), out=out[k])
    np.copyto(out[: len(POLARISATIONS)], np.float32(0.0), where=~valid)
    if opts["validity_channel"]:
        out[-1] = valid
    return out
