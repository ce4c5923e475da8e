"""The preprocessed-scene format: ``PREP_DIR/<scene_id>/scene.tif`` + ``meta.json`` + shoreline.

``scene.tif`` is one tiled, ZSTD-compressed float32 GeoTIFF on the scene's 10 m grid with the bands
of :data:`BANDS` (their names are the band descriptions, :data:`UNITS` their units) and NaN as its
nodata value (:data:`NODATA`): ``vv_db``/``vh_db`` are NaN where ``valid`` is 0 (nodata, NaN or inf
in the source), ``bathymetry_m`` where unknown; ``land`` and ``valid`` are 0/1 (``valid`` is the
truth about VV/VH; files of format 1 stored 0 dB there); ``shore_km`` is the distance to the nearest
land pixel (0 on land), capped at ``meta["shore_cap_km"]``. It has internal overviews and GDAL band
statistics (``STATISTICS_*``), so that GIS software draws a whole scene at once
(:mod:`xtgeo.preprocess.writer`). A scene is *complete* when its folder holds ``meta.json`` that matches the current
format and sources and records the sizes of ``scene.tif`` and of the shoreline file as they are:
the scene folder is renamed into place only after everything in it (and the shoreline) is written.

:func:`open_scene` is the one reader of a prepared scene (the torchgeo dataset, predict's scene
sources, quicklooks and the tests all open it through it) and :func:`read_bands` reads its bands;
:mod:`xtgeo.preprocess.writer` writes it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from xtgeo.errors import SceneError
from xtgeo.scene.raw import DEFAULT_NODATA, BandRef, Scene, open_geotiff
from xtgeo.scene.shoreline import shoreline_file

#: Band descriptions of ``scene.tif``, in band order.
BANDS: tuple[str, ...] = ("vv_db", "vh_db", "valid", "land", "shore_km", "bathymetry_m")
#: Unit of each band (GDAL's band unit type, shown by QGIS); the 0/1 masks have none.
UNITS: dict[str, str] = {"vv_db": "dB", "vh_db": "dB", "valid": "", "land": "", "shore_km": "km", "bathymetry_m": "m"}
#: The GeoTIFF's nodata value: VV/VH where ``valid`` is 0, bathymetry where unknown.
NODATA = float("nan")
SCENE_FILE = "scene.tif"
META_FILE = "meta.json"
SHORELINE_DIR = "shoreline"
LABELS_FILE = "labels.parquet"
#: Everything a scene folder holds (what a redo may replace).
SCENE_FILES = (SCENE_FILE, META_FILE)
#: Bumped whenever the layout or meaning of the files changes; older outputs are redone.
#: 2: NaN nodata in VV/VH (was 0 dB), overviews, band units and statistics.
FORMAT_VERSION = 2
#: GeoTIFF tile side, pixels.
TILE = 512


def scene_dir(prep_dir: str | os.PathLike, scene_id: str) -> Path:
    """Folder of one preprocessed scene."""
    return Path(prep_dir) / scene_id


def shoreline_path(prep_dir: str | os.PathLike, scene_id: str) -> Path:
    """Official-format shoreline file of a scene (usable by ``xtgeo score --shore-root``)."""
    return shoreline_file(Path(prep_dir) / SHORELINE_DIR, scene_id)


def band_index(name: str) -> int:
    """1-based rasterio band index of a band name of :data:`BANDS`."""
    return BANDS.index(name) + 1


def read_meta(prep_dir: str | os.PathLike, scene_id: str) -> dict[str, Any] | None:
    """The scene's ``meta.json`` as a dict, or None when missing or unreadable."""
    try:
        return json.loads((scene_dir(prep_dir, scene_id) / META_FILE).read_text())
    except (OSError, ValueError):
        return None


def source_fingerprint(paths: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Path, size and modification time of each source file (a changed source redoes the scene)."""
    out = {}
    for name, path in sorted(paths.items()):
        stat = Path(path).stat()
        out[name] = {"path": str(Path(path).resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return out


def is_complete(prep_dir: str | os.PathLike, scene_id: str, sources: dict[str, Any] | None = None) -> bool:
    """True when the scene's outputs are all there and finished (and made from ``sources`` if given)."""
    meta = read_meta(prep_dir, scene_id)
    if meta is None or meta.get("format_version") != FORMAT_VERSION:
        return False
    if sources is not None and meta.get("sources") != sources:
        return False
    tif = scene_dir(prep_dir, scene_id) / SCENE_FILE
    if not tif.is_file() or tif.stat().st_size != meta.get("scene_tif_bytes"):
        return False
    shoreline = shoreline_path(prep_dir, scene_id)
    return shoreline.is_file() and shoreline.stat().st_size == meta.get("shoreline_bytes")


def open_scene(folder: str | os.PathLike) -> Scene:
    """The one reader of a preprocessed scene: ``folder/scene.tif`` opened once and checked (a readable
    GeoTIFF with the bands of :data:`BANDS`), as a :class:`~xtgeo.scene.raw.Scene` whose VV, VH and
    validity bands point into it. Raises :class:`SceneError` naming the file."""
    folder = Path(folder)
    tif = folder / SCENE_FILE
    with open_geotiff(tif) as src:
        descriptions = tuple(src.descriptions)
        crs, transform, height, width = src.crs, src.transform, src.height, src.width
    if descriptions != BANDS:
        raise SceneError(f"{tif}: band descriptions {descriptions} are not {BANDS}")
    ref = {name: BandRef(tif, band_index(name)) for name in ("vv_db", "vh_db", "valid", "land")}
    return Scene(folder.name, folder, ref["vv_db"], ref["vh_db"], {}, height, width, crs, transform, DEFAULT_NODATA,
                 valid=ref["valid"], land=ref["land"])


def read_bands(
    scene: Scene | str | os.PathLike,
    names: tuple[str, ...] = BANDS,
    *,
    window: Window | None = None,
    out_shape: tuple[int, int] | None = None,
    resampling: Resampling = Resampling.nearest,
) -> dict[str, np.ndarray]:
    """Bands of a preprocessed scene (opened with :func:`open_scene`, or its folder) by name, as
    float32 arrays: whole, of one ``window``, or resampled to ``out_shape``."""
    if not isinstance(scene, Scene):
        scene = open_scene(scene)
    shape = None if out_shape is None else (len(names), *out_shape)
    with rasterio.open(scene.vv.path) as src:
        data = src.read([band_index(n) for n in names], window=window, out_shape=shape, resampling=resampling)
    return dict(zip(names, data))
