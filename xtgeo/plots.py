"""Quicklook PNGs: a scene's VV backscatter, downsampled, with objects drawn by class.

Objects come as a DataFrame with ``detect_scene_row``, ``detect_scene_column`` and the xView3
class columns ``is_vessel`` / ``is_fishing`` (labels or detections alike).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from matplotlib import colormaps
from matplotlib.figure import Figure
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from rasterio.enums import Resampling

from xtgeo.atomic import atomic_path
from xtgeo.scene.raw import Scene, open_scene

#: Class name -> (marker, colour) as drawn.
CLASS_STYLES: dict[str, tuple[str, str]] = {
    "vessel": ("o", "#1f9bff"),
    "fishing vessel": ("D", "#ffb000"),
    "non-vessel": ("s", "#ff3b3b"),
    "unknown": ("x", "#c0c0c0"),
}
VV_RANGE_DB = (-30.0, 5.0)


def object_classes(objects: pd.DataFrame) -> pd.Series:
    """The drawn class of each row: vessel, fishing vessel, non-vessel or unknown."""
    vessel = objects.get("is_vessel", pd.Series(pd.NA, index=objects.index)).astype("boolean")
    fishing = objects.get("is_fishing", pd.Series(pd.NA, index=objects.index)).astype("boolean")
    classes = pd.Series("unknown", index=objects.index)
    classes[vessel.fillna(False).to_numpy(dtype=bool)] = "vessel"
    classes[(vessel.fillna(False) & fishing.fillna(False)).to_numpy(dtype=bool)] = "fishing vessel"
    classes[(~vessel.fillna(True)).to_numpy(dtype=bool)] = "non-vessel"
    return classes


def _nice_length_km(width_km: float) -> float:
    target = width_km / 5.0
    magnitude = 10 ** np.floor(np.log10(target))
    return float(max(m for m in (1, 2, 5) if m * magnitude <= target) * magnitude)


def quicklook(
    scene: Scene | str | os.PathLike, objects: pd.DataFrame | None, out_path: str | os.PathLike,
    *, max_side: int = 1200, title: str | None = None,
) -> Path:
    """Draw the scene's VV (dB, grey) with ``objects`` by class, a legend and a scale bar; write a PNG."""
    if not isinstance(scene, Scene):
        scene = open_scene(scene, check_data=False)
    factor = max(1.0, max(scene.height, scene.width) / max_side)
    shape = (max(1, round(scene.height / factor)), max(1, round(scene.width / factor)))
    with rasterio.open(scene.vv.path) as src:
        vv = src.read(scene.vv.index, out_shape=shape, resampling=Resampling.nearest, masked=True)
        if scene.valid is not None:  # a preprocessed scene: its valid band is the truth (format 1 stored 0 dB)
            valid = src.read(scene.valid.index, out_shape=shape, resampling=Resampling.nearest)
            vv = np.ma.masked_where(valid == 0, vv)
    fig = Figure(figsize=(8, 8 * shape[0] / shape[1] + 0.6), dpi=120)
    ax = fig.add_subplot()
    grey = colormaps["gray"].with_extremes(bad="black")
    ax.imshow(vv.filled(np.nan), cmap=grey, vmin=VV_RANGE_DB[0], vmax=VV_RANGE_DB[1], interpolation="nearest")
    if objects is not None and len(objects):
        classes = object_classes(objects)
        for name, (marker, colour) in CLASS_STYLES.items():
            rows = objects.loc[classes == name]
            if len(rows):
                # Open markers are drawn by their edge; "x" has no face, so it takes the colour.
                colours = {"c": colour} if marker == "x" else {"facecolors": "none", "edgecolors": colour}
                ax.scatter(rows["detect_scene_column"] / factor, rows["detect_scene_row"] / factor, s=40,
                           marker=marker, linewidths=1.2, label=f"{name} ({len(rows)})", **colours)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.7)
    pixel_km = abs(scene.transform.a) * factor / 1000.0
    bar_km = _nice_length_km(shape[1] * pixel_km)
    label = f"{bar_km:g} km"
    ax.add_artist(AnchoredSizeBar(ax.transData, bar_km / pixel_km, label, "lower left", color="white",
                                  frameon=False, size_vertical=max(shape[0] / 200, 1)))
    ax.set_xlim(-0.5, shape[1] - 0.5)
    ax.set_ylim(shape[0] - 0.5, -0.5)
    ax.set_axis_off()
    ax.set_title(title or scene.scene_id, fontsize=10)
    fig.tight_layout()
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    return out_path
