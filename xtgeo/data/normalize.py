"""Model input from SAR bands: clipped, standardised dB with nodata as 0, plus a validity channel.

Shared by ``train`` and ``predict`` (the contract): :func:`model_input` takes the bands of a
preprocessed scene (at least ``vv_db``, ``vh_db``, ``valid``) and the ``data`` section of the run
config, and returns the float32 (C, H, W) array the model sees
(:attr:`~xtgeo.config.DataConfig.input_channels` channels).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from xtgeo.config import POLARISATIONS, DataConfig

#: The ``data`` keys that decide the model input: models that agree on them take the same inputs.
INPUT_KEYS = ("db_min", "db_max", "vv_mean", "vv_std", "vh_mean", "vh_std", "validity_channel")


def model_input(bands: Mapping[str, np.ndarray], data: DataConfig) -> np.ndarray:
    """Normalised float32 (C, H, W) input from ``bands`` (``vv_db``, ``vh_db``, ``valid``: (H, W)).

    Each polarisation is clipped to [db_min, db_max] and standardised with its mean and std;
    pixels that are not valid (nodata, or non-finite dB) become 0. With ``validity_channel``
    the validity mask (1.0 / 0.0) is appended as the last channel.
    """
    valid = np.asarray(bands["valid"]) > 0
    out = np.empty((data.input_channels, *valid.shape), dtype=np.float32)
    for k, pol in enumerate(POLARISATIONS):  # in place: a 4096² tile is 64 MiB per channel
        db = np.asarray(bands[f"{pol}_db"], dtype=np.float32)
        valid &= np.isfinite(db)
        np.clip(db, data.db_min, data.db_max, out=out[k])
        np.subtract(out[k], np.float32(getattr(data, f"{pol}_mean")), out=out[k])
        np.divide(out[k], np.float32(getattr(data, f"{pol}_std")), out=out[k])
    np.copyto(out[: len(POLARISATIONS)], np.float32(0.0), where=~valid)
    if data.validity_channel:
        out[-1] = valid
    return out
