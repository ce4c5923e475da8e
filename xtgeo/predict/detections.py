"""Georeferenced detections: a GeoDataFrame per scene, and atomic writers chosen by extension.

Columns: the xView3 submission columns (:data:`~xtgeo.schema.PREDICTION_COLUMNS`) first, then
``detect_lat, detect_lon`` (EPSG:4326, pixel centres), ``distance_from_shore_km`` (NaN where
unknown, 0 on land), the head probabilities at the peak (``score, vessel_score, fishing_score``:
:data:`xtgeo.tasks.xview3.SCORE_COLUMNS`), and ``on_land`` when land detections are kept
(``predict --keep-land``); the geometry is the point in EPSG:4326.
CSV (no geometry column), GeoPackage, GeoJSON (RFC 7946) and GeoParquet.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from pyproj import CRS, Transformer

from xtgeo.atomic import atomic_path, check_output, write_failure
from xtgeo.errors import OutputError, XtgeoError
from xtgeo.schema import PREDICTION_COLUMNS
from xtgeo.tasks.xview3 import SCORE_COLUMNS

WGS84 = "EPSG:4326"
EXTRA_COLUMNS = ("detect_lat", "detect_lon", "distance_from_shore_km", *SCORE_COLUMNS)
COLUMNS = PREDICTION_COLUMNS + EXTRA_COLUMNS
DTYPES = {
    "detect_scene_row": "int64", "detect_scene_column": "int64", "scene_id": "object",
    "is_vessel": "bool", "is_fishing": "bool", "vessel_length_m": "float64",
    "detect_lat": "float64", "detect_lon": "float64", "distance_from_shore_km": "float64",
    **dict.fromkeys(SCORE_COLUMNS, "float64"), "on_land": "bool",
}
#: The column that says which detections are on land, present when they are kept.
ON_LAND = "on_land"


def pixel_lonlat(rows: np.ndarray, cols: np.ndarray, transform: Affine,
                 crs: CRS | str) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (EPSG:4326) of the centres of scene pixels (row, col)."""
    x, y = transform @ (np.asarray(cols, dtype=np.float64) + 0.5, np.asarray(rows, dtype=np.float64) + 0.5)
    lon, lat = Transformer.from_crs(crs, WGS84, always_xy=True).transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def detections_frame(
    detections: Mapping[str, np.ndarray],
    scene_id: str,
    transform: Affine,
    crs: CRS | str,
    distance_km: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """One scene's detections (from :func:`xtgeo.predict.postprocess.detections_from_maps`) as a GeoDataFrame."""
    rows, cols = detections["detect_scene_row"], detections["detect_scene_column"]
    lon, lat = pixel_lonlat(rows, cols, transform, crs)
    data = {key: detections[key] for key in detections if key in DTYPES}
    data.update(scene_id=[scene_id] * len(rows), detect_lat=lat, detect_lon=lon)
    data["distance_from_shore_km"] = np.full(len(rows), np.nan) if distance_km is None else distance_km
    columns = list(COLUMNS) + ([ON_LAND] if ON_LAND in detections else [])
    frame = pd.DataFrame(data)[columns].astype({c: DTYPES[c] for c in columns})
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs=WGS84)


def concat_frames(frames: Sequence[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Several scenes' detections as one frame (an empty, typed frame when there are none)."""
    if not frames:
        empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in DTYPES.items()})[list(COLUMNS)]
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=WGS84)


def _write_csv(frame: gpd.GeoDataFrame, path: Path) -> None:
    pd.DataFrame(frame.drop(columns=frame.geometry.name)).to_csv(path, index=False)


def _write_gpkg(frame: gpd.GeoDataFrame, path: Path) -> None:
    frame.to_file(path, driver="GPKG", layer="detections")


def _write_geojson(frame: gpd.GeoDataFrame, path: Path) -> None:
    frame.to_file(path, driver="GeoJSON", layer="detections", RFC7946="YES", COORDINATE_PRECISION=7)


def _write_parquet(frame: gpd.GeoDataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


WRITERS = {".csv": _write_csv, ".gpkg": _write_gpkg, ".geojson": _write_geojson, ".parquet": _write_parquet}


def check_output_path(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Fail early if detections cannot be written to ``path`` (format by extension, writable place,
    not a folder nor one of ``inputs``)."""
    path = Path(path)
    if path.suffix.lower() not in WRITERS:
        raise OutputError(f"{path}: unsupported output format {path.suffix!r}; use one of {', '.join(WRITERS)}")
    return check_output(path, inputs, flag="--out")


def read_detections(path: str | os.PathLike) -> gpd.GeoDataFrame:
    """Detections as :func:`write_detections` wrote them (any of its formats), with their dtypes."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            table = pd.read_csv(path, dtype={"scene_id": str})
            frame = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.detect_lon, table.detect_lat), crs=WGS84)
        elif suffix == ".parquet":
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path)
    except (OSError, ValueError, AttributeError) as err:
        raise XtgeoError(f"{path}: cannot read detections ({str(err).strip().splitlines()[0]})") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise XtgeoError(f"{path}: not a detections file (no column {missing[0]})")
    return frame.astype({column: dtype for column, dtype in DTYPES.items() if column in frame.columns})


def write_detections(frame: gpd.GeoDataFrame, path: str | os.PathLike) -> Path:
    """Write detections atomically in the format named by the extension; returns the path."""
    path = check_output_path(path)
    with atomic_path(path) as tmp:
        try:
            WRITERS[path.suffix.lower()](frame, tmp)
        except RuntimeError as err:  # pyogrio's errors (GDAL's) hide the OS error
            raise write_failure(path, err) from None
    return path
