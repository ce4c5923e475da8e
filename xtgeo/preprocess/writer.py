"""Writing ``scene.tif`` and ``meta.json`` of a preprocessed scene (the format: :mod:`xtgeo.scene.prepared`).

Blocks are written either from arrays (:func:`open_writer`, :func:`write_block`: GDAL compresses in
the writing process) or, when blocks are aligned to :data:`~xtgeo.scene.prepared.TILE`, by the
workers themselves: each compresses its block's tiles (:func:`encode_tiles`, ZSTD at
:data:`TILE_ZSTD_LEVEL`) and appends them to the sparse ``scene.tif`` that a :class:`TileTable` made
(:func:`append_tiles`); the table then fills in the tile offsets. The same file, compressed once,
in parallel, with no block copied twice.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import tifffile
from rasterio.windows import Window

from xtgeo.atomic import atomic_path
from xtgeo.scene.prepared import BANDS, TILE

#: ZSTD level of tiles that workers compress (:func:`encode_tiles`). A fast (negative) level:
#: 0/1 masks and capped distances still shrink ~1000×, while speckled VV/VH and interpolated
#: bathymetry, which level 1 shrinks only to ~83% at 4-7× the CPU, are stored nearly raw.
TILE_ZSTD_LEVEL = -1
#: Buffers per ``pwritev`` call (below every system's IOV_MAX).
IOV_BATCH = 512


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


def _tile_codec():
    import pyarrow  # a project dependency (labels.parquet); its ZSTD codec writes standard frames

    return pyarrow.Codec("zstd", compression_level=TILE_ZSTD_LEVEL)


def encode_tiles(window: Window, bands: dict[str, np.ndarray]) -> list[bytes]:
    """ZSTD-compressed :data:`TILE`² float32 tiles of every band of one block, in TIFF order
    (band, tile row, tile column); tiles past the block's edge are padded with zeros."""
    height, width = int(window.height), int(window.width)
    down, across = -(-height // TILE), -(-width // TILE)
    codec, tile = _tile_codec(), np.empty((TILE, TILE), dtype="<f4")  # TIFFs GDAL writes here are little-endian
    out = []
    for name in BANDS:
        band = bands[name]
        for r in range(0, down * TILE, TILE):
            for c in range(0, across * TILE, TILE):
                part = band[r : r + TILE, c : c + TILE]
                if part.shape != tile.shape:
                    tile[...] = 0
                tile[: part.shape[0], : part.shape[1]] = part
                out.append(codec.compress(tile, asbytes=True))
    return out


def tile_indices(window: Window, height: int, width: int) -> np.ndarray:
    """Index in ``scene.tif``'s tile arrays of each tile of :func:`encode_tiles` for ``window``."""
    if window.row_off % TILE or window.col_off % TILE:
        raise ValueError(f"{window} does not start on a {TILE}-pixel tile corner")
    down, across = -(-int(window.height) // TILE), -(-int(window.width) // TILE)
    scene_down, scene_across = -(-height // TILE), -(-width // TILE)
    band, row, col = np.meshgrid(np.arange(len(BANDS)), np.arange(down), np.arange(across), indexing="ij")
    row, col = row + int(window.row_off) // TILE, col + int(window.col_off) // TILE
    return ((band * scene_down + row) * scene_across + col).ravel()


def append_tiles(path: str | os.PathLike, tiles: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Append ``tiles`` to the file at ``path`` (made by :class:`TileTable`); their offsets and sizes.

    Any number of processes may append at once: each reserves its span under an exclusive
    ``flock`` (extending the file), then writes it without the lock.
    """
    sizes = np.array([len(t) for t in tiles], dtype=np.uint64)
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            start = os.fstat(fd).st_size
            os.ftruncate(fd, start + int(sizes.sum()))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        _write_all(fd, tiles, start)
    finally:
        os.close(fd)
    offsets = np.zeros_like(sizes)
    np.cumsum(sizes[:-1], out=offsets[1:])
    return offsets + np.uint64(start), sizes


def _write_all(fd: int, buffers: list[bytes], offset: int) -> None:
    """Write ``buffers`` one after another at ``offset`` (``pwritev`` in batches, resuming short writes)."""
    pending = [memoryview(b) for b in buffers]
    while pending:
        written = os.pwritev(fd, pending[:IOV_BATCH], offset)
        offset += written
        while pending and written >= len(pending[0]):
            written -= len(pending.pop(0))
        if written:
            pending[0] = pending[0][written:]


class TileTable:
    """``scene.tif`` assembled from tiles that workers append (:func:`encode_tiles`, :func:`append_tiles`)
    for blocks whose windows start on tile corners.

    The file is first made empty (sparse) by GDAL with all its tags; :meth:`add` records where each
    block's tiles went, and :meth:`close` writes the tile offset and byte-count arrays.
    """

    def __init__(self, path: str | os.PathLike, height: int, width: int, crs: Any, transform: Any):
        self.path, self.height, self.width = Path(path), height, width
        tiles = -(-height // TILE) * -(-width // TILE) * len(BANDS)
        bound = tiles * (TILE * TILE * 4 * 1.01 + 1024)  # ZSTD's worst case: a little over raw
        big = "yes" if bound > 2**31 else "no"  # classic TIFF offsets are 32-bit: leave room for any tile
        open_writer(path, height, width, crs, transform, sparse_ok=True, bigtiff=big).close()
        with tifffile.TiffFile(path) as tif:
            if tif.byteorder != "<":
                raise ValueError(f"{path}: GDAL wrote a big-endian TIFF; tiles are encoded little-endian")
            page = tif.pages.first
            self._offsets_at = page.tags["TileOffsets"].valueoffset
            self._counts_at = page.tags["TileByteCounts"].valueoffset
            self._dtype = np.dtype(tif.byteorder + ("u8" if tif.is_bigtiff else "u4"))
            self.offsets = np.zeros(len(page.dataoffsets), dtype=np.uint64)
        self.counts = np.zeros_like(self.offsets)
        self._open = True

    def add(self, window: Window, offsets: np.ndarray, counts: np.ndarray) -> None:
        """Record the tiles of ``window`` appended at ``offsets`` with ``counts`` bytes each."""
        index = tile_indices(window, self.height, self.width)
        self.offsets[index], self.counts[index] = offsets, counts

    def close(self) -> None:
        """Write the tile offsets and byte counts."""
        if not self._open:
            return
        fd = os.open(self.path, os.O_RDWR)
        try:
            for at, values in ((self._offsets_at, self.offsets), (self._counts_at, self.counts)):
                os.pwrite(fd, values.astype(self._dtype).tobytes(), at)
        finally:
            os.close(fd)
        self._open = False


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
