"""Scenes to predict on: found under a path, read window by window as ``vv_db, vh_db, valid`` bands.

A path may be a raw scene (folder, ``VV_dB.tif`` or 2-band GeoTIFF, via :func:`xtgeo.scene.open_scene`),
a preprocessed scene (``PREP_DIR/<scene_id>/`` or its ``scene.tif``, :mod:`xtgeo.scene.prepared`), or a
folder of either. The shoreline file ``<parent>/shoreline/<scene_id>_shoreline.npy`` (written by
both ``synth`` and ``preprocess``) gives the distance to shore when it is present.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from xtgeo.atomic import is_temporary
from xtgeo.errors import SceneError, XtgeoError, file_errors
from xtgeo.predict.windows import GridWindow
from xtgeo.preprocess.ancillary import land_at_points, read_raster
from xtgeo.scene import prepared
from xtgeo.scene.raw import VV_FILE, BandRef, Scene, open_scene, valid_pixels
from xtgeo.scene.shoreline import distance_at_points_km, read_shoreline

#: The ancillary raster of a raw scene that marks land (value 1; 0 sea, 2 ice).
OWI_MASK = "owiMask"


@dataclass(frozen=True)
class SceneSource:
    """A scene to predict on (raw or prepared) and its shoreline file, when there is one."""

    scene: Scene
    shoreline: Path | None = None

    @property
    def has_land(self) -> bool:
        """Whether the scene says where land is: a prepared ``land`` band, or a raw scene's ``owiMask.tif``."""
        return self.scene.land is not None or OWI_MASK in self.scene.ancillary

    @property
    def scene_id(self) -> str:
        return self.scene.scene_id

    def read_bands(self, part: GridWindow) -> dict[str, np.ndarray]:
        """``vv_db``, ``vh_db`` (float32) and ``valid`` (bool) of one window (thread-safe: opens per call)."""
        window = Window(part.col, part.row, part.width, part.height)
        refs = {"vv_db": self.scene.vv, "vh_db": self.scene.vh}
        if self.scene.valid is not None:
            refs["valid"] = self.scene.valid
        bands = {}
        for path in {ref.path for ref in refs.values()}:
            names = [n for n, ref in refs.items() if ref.path == path]
            with file_errors(path, what=f"cannot read the window at row {part.row}, col {part.col}"), \
                    rasterio.open(path) as src:
                data = src.read([refs[n].index for n in names], window=window, out_dtype=np.float32)
            bands.update(zip(names, data))
        vv, vh = bands["vv_db"], bands["vh_db"]
        valid = valid_pixels(vv, vh, self.scene.nodata)
        if self.scene.valid is not None:  # a prepared scene: its valid band is the truth (format 1 stored 0 dB)
            valid &= bands["valid"] > 0
        return {"vv_db": vv, "vh_db": vh, "valid": valid}

    def land_at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
        """Whether each pixel (row, col) is land: the prepared ``land`` band, or a raw scene's
        ``owiMask.tif`` == 1 resampled to the scene grid (nearest neighbour, as preprocess does);
        None when the scene has neither."""
        if self.scene.land is not None:
            return band_at(self.scene.land, rows, cols) > 0
        if OWI_MASK not in self.scene.ancillary:
            return None
        path = self.scene.ancillary[OWI_MASK]
        with file_errors(path, "unreadable GeoTIFF"):
            owi_mask = read_raster(path)
        return land_at_points(owi_mask, self.scene.transform, self.scene.crs, rows, cols)

    def distance_to_shore_km(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
        """Distance (km) from each pixel to the shoreline; None without a shoreline file."""
        if self.shoreline is None:
            return None
        points = np.stack([rows, cols], axis=1)
        distance = distance_at_points_km(points, read_shoreline(self.shoreline), self.scene.pixel_size_m)
        return np.where(np.isfinite(distance), distance, np.nan)


def band_at(ref: BandRef, rows: np.ndarray, cols: np.ndarray, block: int = prepared.TILE) -> np.ndarray:
    """One band's values (float32) at pixels (row, col), reading each ``block``-px square once."""
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    values = np.zeros(len(rows), dtype=np.float32)
    with file_errors(ref.path, f"cannot read band {ref.index}"), rasterio.open(ref.path) as src:
        keys = (rows // block) * (src.width // block + 1) + cols // block
        for key in np.unique(keys):
            at = keys == key
            top, left = int(rows[at][0]) // block * block, int(cols[at][0]) // block * block
            window = Window(left, top, min(block, src.width - left), min(block, src.height - top))
            values[at] = src.read(ref.index, window=window)[rows[at] - top, cols[at] - left]
    return values


def _shoreline(parent: Path, scene_id: str) -> Path | None:
    path = prepared.shoreline_path(parent, scene_id)
    return path if path.is_file() else None


def open_prepared_scene(folder: Path) -> SceneSource:
    """A preprocessed scene folder (read by :func:`xtgeo.scene.prepared.open_scene`)."""
    return SceneSource(prepared.open_scene(folder), _shoreline(folder.parent, folder.name))


def open_raw(path: Path) -> SceneSource:
    """A raw scene: folder, ``VV_dB.tif`` (VH beside) or 2-band GeoTIFF; all-nodata is allowed."""
    scene = open_scene(path, allow_empty=True)
    return SceneSource(scene, _shoreline(scene.root.parent, scene.scene_id))


def _is_prepared(folder: Path) -> bool:
    return (folder / prepared.SCENE_FILE).is_file()


def _is_raw(folder: Path) -> bool:
    return (folder / VV_FILE).is_file()


def _is_prepared_file(path: Path) -> bool:
    return path.name == prepared.SCENE_FILE and (path.parent / prepared.META_FILE).is_file()


@dataclass(frozen=True)
class ScenePath:
    """A scene found under a path, not opened yet: its id and what :func:`open_source` opens."""

    scene_id: str
    path: Path


def _scene_path(path: Path) -> ScenePath:
    """The scene id of a scene folder or file, as opening it would name it."""
    if not path.is_file():
        return ScenePath(path.name, path)
    if path.name == VV_FILE or _is_prepared_file(path):
        return ScenePath(path.parent.name, path)
    return ScenePath(path.stem, path)


def find_scenes(path: str | os.PathLike) -> list[ScenePath]:
    """Every scene at ``path`` (see the module doc), sorted by scene id, without opening them; a
    SceneError if there is none. Opening one (:func:`open_source`) may still fail."""
    path = Path(path)
    if path.is_file() or (path.is_dir() and (_is_prepared(path) or _is_raw(path))):
        return [_scene_path(path)]
    if not path.is_dir():
        raise SceneError(f"{path}: no such scene, GeoTIFF or folder")
    found = [_scene_path(p) for p in sorted(path.iterdir())
             if p.is_dir() and not is_temporary(p) and (_is_prepared(p) or _is_raw(p))]
    if not found:
        raise SceneError(f"{path}: holds no scene (no {VV_FILE} or {prepared.SCENE_FILE} in it or its sub-folders)")
    return sorted(found, key=lambda s: s.scene_id)


def is_one_scene(path: str | os.PathLike, found: list[ScenePath]) -> bool:
    """Whether ``path`` is itself a scene (not a folder of scenes), given what :func:`find_scenes` found."""
    return len(found) == 1 and found[0].path == Path(path)


def open_source(path: str | os.PathLike) -> SceneSource:
    """Open one scene (a path of :func:`find_scenes`); SceneError naming the file if it is unusable."""
    path = Path(path)
    if path.is_file():
        return open_prepared_scene(path.parent) if _is_prepared_file(path) else open_raw(path)
    if _is_prepared(path):
        return open_prepared_scene(path)
    return open_raw(path)


@dataclass(frozen=True)
class SceneFailure:
    """A scene that could not be used: its name (folder or scene id) and the one-line problem."""

    name: str
    message: str


def open_sources(path: str | os.PathLike) -> tuple[list[SceneSource], list[SceneFailure]]:
    """Every scene at ``path`` (see the module doc), opened, sorted by scene id, and the scenes of a
    folder of scenes that could not be opened (each with its problem). A single scene that cannot be
    opened, or a folder without any scene, is a SceneError."""
    found = find_scenes(path)
    if is_one_scene(path, found):
        return [open_source(found[0].path)], []
    sources, failures = [], []
    for scene in found:
        try:
            sources.append(open_source(scene.path))
        except XtgeoError as err:
            failures.append(SceneFailure(scene.path.name, str(err)))
    return sorted(sources, key=lambda s: s.scene_id), failures


def find_sources(path: str | os.PathLike) -> list[SceneSource]:
    """Every scene at ``path``, sorted by scene id; SceneError if there is none or one is bad."""
    sources, failures = open_sources(path)
    if failures:
        raise SceneError(failures[0].message)
    return sources
