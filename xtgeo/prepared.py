"""The preprocessed-scene format: ``PREP_DIR/<scene_id>/scene.tif`` + ``meta.json`` + shoreline.

``scene.tif`` is one tiled, ZSTD-compressed float32 GeoTIFF on the scene's 10 m grid with the bands
of :data:`BANDS` (their names are the band descriptions). ``vv_db``/``vh_db`` hold 0 where ``valid``
is 0 (nodata, NaN or inf in the source); ``land`` and ``valid`` are 0/1; ``shore_km`` is the distance
to the nearest land pixel (0 on land), capped at ``meta["shore_cap_km"]``; ``bathymetry_m`` is NaN
where unknown. A scene is *complete* when its folder holds ``meta.json`` that matches the current
format and sources and records the sizes of ``scene.tif`` and of the shoreline file as they are:
the scene folder is renamed into place only after everything in it (and the shoreline) is written.

Blocks are written either from arrays (:func:`open_writer`, :func:`write_block`: GDAL compresses in
the writing process) or, when blocks are aligned to :data:`TILE`, by :class:`TileCopier`: each worker
writes its block as a small GeoTIFF with the same creation options (:func:`write_block_file`, so
compression runs in parallel on the workers) and the writer appends those compressed tiles to a
sparse ``scene.tif`` and fills in its tile offsets: the same file, without compressing it twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import tifffile
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from xtgeo.atomic import atomic_path
from xtgeo.errors import SceneError
from xtgeo.shore import shoreline_file

#: Band descriptions of ``scene.tif``, in band order.
BANDS: tuple[str, ...] = ("vv_db", "vh_db", "valid", "land", "shore_km", "bathymetry_m")
SCENE_FILE = "scene.tif"
META_FILE = "meta.json"
SHORELINE_DIR = "shoreline"
LABELS_FILE = "labels.parquet"
#: Bumped whenever the layout or meaning of the files changes; older outputs are redone.
FORMAT_VERSION = 1
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


def creation_profile(height: int, width: int, crs: Any, transform: Any) -> dict[str, Any]:
    """rasterio profile of ``scene.tif``."""
    return {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": len(BANDS),
        "dtype": "float32",
        "crs": crs,
        "transform": transform,
        "tiled": True,
        "blockxsize": TILE,
        "blockysize": TILE,
        "compress": "zstd",
        "zstd_level": 1,
        "interleave": "band",
        "bigtiff": "if_safer",
    }


def open_writer(path: str | os.PathLike, height: int, width: int, crs: Any, transform: Any, **options: Any):
    """Open ``scene.tif`` for writing with band descriptions set; write blocks with :func:`write_block`."""
    dst = rasterio.open(path, "w", **{**creation_profile(height, width, crs, transform), **options})
    for i, name in enumerate(BANDS, start=1):
        dst.set_band_description(i, name)
    return dst


def write_block_file(
    path: str | os.PathLike, window: Window, bands: dict[str, np.ndarray], crs: Any, transform: Any
) -> None:
    """Write one block's bands as a GeoTIFF laid out like ``scene.tif`` (for :class:`TileCopier`)."""
    height, width = int(window.height), int(window.width)
    with open_writer(path, height, width, crs, window_transform(window, transform)) as dst:
        write_block(dst, Window(0, 0, width, height), bands)


class TileCopier:
    """Builds ``scene.tif`` from block files of :func:`write_block_file` whose windows start on tile corners.

    The file is first made empty (sparse) by GDAL with all its tags; each block's compressed tiles
    are appended to it and, on :meth:`close`, the tile offset and byte-count arrays are written.
    """

    def __init__(self, path: str | os.PathLike, height: int, width: int, crs: Any, transform: Any):
        self.tiles_down, self.tiles_across = -(-height // TILE), -(-width // TILE)
        padded = self.tiles_down * self.tiles_across * len(BANDS) * TILE * TILE * 4
        big = "yes" if padded > 2**31 else "no"  # classic TIFF offsets are 32-bit: leave room for any tile
        open_writer(path, height, width, crs, transform, sparse_ok=True, bigtiff=big).close()
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            self._offsets_at = page.tags["TileOffsets"].valueoffset
            self._counts_at = page.tags["TileByteCounts"].valueoffset
            self._dtype = np.dtype(tif.byteorder + ("u8" if tif.is_bigtiff else "u4"))
            self.offsets = np.zeros(len(page.dataoffsets), dtype=np.uint64)
        self.counts = np.zeros_like(self.offsets)
        self._fd = os.open(path, os.O_RDWR)
        self._end = os.fstat(self._fd).st_size

    def add(self, window: Window, block_path: str | os.PathLike) -> None:
        """Append the tiles of one block file (written for ``window``) to the scene."""
        if window.row_off % TILE or window.col_off % TILE:
            raise ValueError(f"{window} does not start on a {TILE}-pixel tile corner")
        with tifffile.TiffFile(block_path) as tif:
            page = tif.pages.first
            down, across = -(-page.imagelength // TILE), -(-page.imagewidth // TILE)
            tiles = list(zip(page.dataoffsets, page.databytecounts))
        source = os.open(block_path, os.O_RDONLY)
        try:
            for i, (offset, count) in enumerate(tiles):
                band, rest = divmod(i, down * across)
                row = int(window.row_off) // TILE + rest // across
                col = int(window.col_off) // TILE + rest % across
                index = (band * self.tiles_down + row) * self.tiles_across + col
                data = os.pread(source, count, offset)
                if len(data) != count:
                    raise SceneError(f"{block_path}: ends inside tile {i}")
                self.offsets[index], self.counts[index] = self._end, count
                self._end += os.pwrite(self._fd, data, self._end)
        finally:
            os.close(source)

    def close(self) -> None:
        """Write the tile offsets and byte counts and close the file."""
        if self._fd < 0:
            return
        for at, values in ((self._offsets_at, self.offsets), (self._counts_at, self.counts)):
            os.pwrite(self._fd, values.astype(self._dtype).tobytes(), at)
        os.close(self._fd)
        self._fd = -1


def write_block(dst, window: Window, bands: dict[str, np.ndarray]) -> None:
    """Write one window of every band (arrays of any numeric/bool dtype, cast to float32)."""
    stack = np.empty((len(BANDS), int(window.height), int(window.width)), dtype=np.float32)
    for i, name in enumerate(BANDS):
        stack[i] = bands[name]
    dst.write(stack, window=window)  # one call, no further copies


def write_meta(path: str | os.PathLike, meta: dict[str, Any]) -> None:
    """Write ``meta.json`` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(meta, indent=2, sort_keys=True))


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


def check_bands(src: rasterio.DatasetReader) -> None:
    """Raise :class:`SceneError` unless an open ``scene.tif`` has the bands of :data:`BANDS`."""
    descriptions = tuple(src.descriptions)
    if descriptions != BANDS:
        raise SceneError(f"{src.name}: band descriptions {descriptions} are not {BANDS}")


def read_bands(
    prep_dir: str | os.PathLike, scene_id: str, names: tuple[str, ...] = BANDS, window: Window | None = None
) -> dict[str, np.ndarray]:
    """Bands of a preprocessed scene (float32 arrays, optionally of one window) by name."""
    with rasterio.open(scene_dir(prep_dir, scene_id) / SCENE_FILE) as src:
        check_bands(src)
        data = src.read([band_index(n) for n in names], window=window)
    return dict(zip(names, data))
