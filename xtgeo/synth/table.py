"""The xView3 label rows of a synthetic scene's objects."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from affine import Affine
from rasterio.crs import CRS

from xtgeo.predict.detections import pixel_lonlat
from xtgeo.schema import LABEL_COLUMNS, UNKNOWN_SHORE_DISTANCE_KM
from xtgeo.synth.footprint import Footprint
from xtgeo.synth.stats import KNOWN_DISTANCE_MAX_KM

_IS_VESSEL = {"fishing": True, "non_fishing": True, "vessel": True, "non_vessel": False, "unknown": None}
_IS_FISHING = {"fishing": True, "non_fishing": False}


def detect_id(scene_id: str, lat: float, lon: float) -> str:
    """The official ``<scene_id>_<lat>_<lon>`` id (zero-padded, 20 decimals)."""
    return f"{scene_id}_{lat:024.20f}_{lon:024.20f}"


def label_table(
    objects: pd.DataFrame, footprints: list[Footprint], shore_km: Callable[[np.ndarray, np.ndarray], np.ndarray],
    scene_id: str, crs: CRS, transform: Affine,
) -> pd.DataFrame:
    """The 16 xView3 columns for ``objects`` (from :func:`xtgeo.synth.objects.place_objects`);
    ``shore_km(rows, cols)`` gives the distance to the shoreline (:meth:`Context.shore_km`)."""
    rows = objects["row"].to_numpy(dtype=np.int64)
    cols = objects["col"].to_numpy(dtype=np.int64)
    lon, lat = pixel_lonlat(rows, cols, transform, crs) if len(rows) else (np.empty(0), np.empty(0))
    distance = shore_km(rows, cols)
    distance = np.where(np.isfinite(distance) & (distance <= KNOWN_DISTANCE_MAX_KM), distance,
                        UNKNOWN_SHORE_DISTANCE_KM)
    boxes = np.asarray([fp.box for fp in footprints], dtype=np.float64).reshape(-1, 4)
    table = pd.DataFrame({
        "detect_lat": lat,
        "detect_lon": lon,
        "vessel_length_m": objects["length_m"].where(objects["length_known"]),
        "source": objects["source"],
        "detect_scene_row": rows,
        "detect_scene_column": cols,
        "is_vessel": pd.array(objects["group"].map(_IS_VESSEL).tolist(), dtype="boolean"),
        "is_fishing": pd.array(objects["group"].map(_IS_FISHING).tolist(), dtype="boolean"),
        "distance_from_shore_km": distance,
        "scene_id": scene_id,
        "confidence": objects["confidence"],
        "top": rows + boxes[:, 0],
        "left": cols + boxes[:, 1],
        "bottom": rows + boxes[:, 2],
        "right": cols + boxes[:, 3],
        "detect_id": [detect_id(scene_id, a, b) for a, b in zip(lat, lon)],
    })
    return table[list(LABEL_COLUMNS)]
