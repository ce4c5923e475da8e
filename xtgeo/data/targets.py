"""Training targets for one crop, drawn from xView3 labels in scene pixel coordinates.

Maps (each float32, the crop's (H, W)):

- ``center``: a Gaussian (sigma ``center_sigma_px``) around every object, exactly 1.0 at the
  object's pixel; overlapping objects take the maximum.
- ``center_weight``: 1.0 where the centre loss applies, 0.0 where it is ignored (see below).
- ``vessel`` / ``fishing``: 1.0 or 0.0 on a disc of radius ``disc_radius_px`` around each object
  whose ``is_vessel`` / ``is_fishing`` is known; :data:`IGNORE` (-1) elsewhere and where unknown.
  Background carries no vessel/fishing loss: those heads are read only at detected centres.
- ``length``: the vessel length in metres on the same discs where it is known (> 0), else 0.

LOW-confidence rule (``data.low_confidence``). The official xView3 scorer drops predictions that
match a LOW-confidence label: such an object is neither a hit nor a miss. The default ``ignore``
mirrors that: a LOW object is not drawn as a positive and the centre loss is switched off
(``center_weight`` 0) on its disc, so the model is neither rewarded nor punished there; its
vessel/fishing/length values are not used either. ``positive`` treats LOW objects like the others;
``drop`` removes them, so the place where they are counts as background.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from xtgeo.config import DataConfig
from xtgeo.tasks.xview3 import HEADS, PEAK_LOSS_MASK

#: Target value of pixels without a known class (no loss there).
IGNORE = -1.0


def _number(value: Any) -> float:
    """A label value as a float; NaN when unknown (None, NA, NaN, empty or unparsable text)."""
    if isinstance(value, str):
        value = {"true": 1.0, "false": 0.0}.get(value.strip().lower(), value.strip() or None)
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _known(values: pd.Series) -> np.ndarray:
    """float array with NaN for unknown entries."""
    return np.array([_number(v) for v in values.astype(object)], dtype=float)


def _window(r: int, c: int, radius: int, shape: tuple[int, int]) -> tuple[slice, slice, np.ndarray, np.ndarray]:
    """Crop-clipped slices around (r, c) and the row/col offsets of the window's pixels."""
    r0, r1 = max(r - radius, 0), min(r + radius + 1, shape[0])
    c0, c1 = max(c - radius, 0), min(c + radius + 1, shape[1])
    return slice(r0, r1), slice(c0, c1), np.arange(r0, r1)[:, None] - r, np.arange(c0, c1)[None, :] - c


def crop_targets(labels: pd.DataFrame, row0: int, col0: int, shape: tuple[int, int],
                 data_cfg: DataConfig) -> dict[str, np.ndarray]:
    """Target maps for the crop whose top-left scene pixel is (row0, col0) and size ``shape``.

    ``labels`` holds one scene's xView3 labels (``detect_scene_row``, ``detect_scene_column``,
    ``is_vessel``, ``is_fishing``, ``vessel_length_m``, ``confidence``); objects outside the crop
    contribute only the parts of their Gaussian/disc that fall inside it.
    """
    sigma, radius = float(data_cfg.center_sigma_px), int(data_cfg.disc_radius_px)
    reach = max(int(np.ceil(3 * sigma)), radius)
    h, w = shape
    empty = {"gaussian": 0.0, "disc_class": IGNORE, "disc_value": 0.0}
    maps = {head.name: np.full(shape, empty[head.target], np.float32) for head in HEADS}
    maps[PEAK_LOSS_MASK] = np.ones(shape, np.float32)
    if labels.empty:
        return maps
    rows = np.rint(labels["detect_scene_row"].to_numpy(float)).astype(int) - row0
    cols = np.rint(labels["detect_scene_column"].to_numpy(float)).astype(int) - col0
    near = (rows >= -reach) & (rows < h + reach) & (cols >= -reach) & (cols < w + reach)
    objects = labels[near]
    rows, cols = rows[near], cols[near]
    if "confidence" in objects:
        low = objects["confidence"].astype(str).str.upper().eq("LOW").to_numpy()
    else:
        low = np.zeros(len(objects), bool)
    if data_cfg.low_confidence == "drop":
        keep = ~low
        objects, rows, cols, low = objects[keep], rows[keep], cols[keep], low[keep]
    elif data_cfg.low_confidence == "positive":
        low = np.zeros_like(low)
    values = {head.name: _known(objects[head.label_column]) for head in HEADS if head.label_column}
    for i, (r, c) in enumerate(zip(rows, cols)):
        rs, cs, dr, dc = _window(r, c, reach, shape)
        dist2 = dr**2 + dc**2
        if low[i]:
            maps[PEAK_LOSS_MASK][rs, cs][dist2 <= radius**2] = 0.0
            continue
        disc = dist2 <= radius**2
        for head in HEADS:
            target = maps[head.name][rs, cs]
            if head.target == "gaussian":
                np.maximum(target, np.exp(-dist2 / (2 * sigma**2)), out=target)
                continue
            value = values[head.name][i]
            if head.target == "disc_class" and np.isfinite(value):
                target[disc] = float(value > 0.5)
            elif head.target == "disc_value" and np.isfinite(value) and value > 0:
                target[disc] = value
    return maps
