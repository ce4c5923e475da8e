"""Writing ``scene.tif`` and ``meta.json`` of a preprocessed scene (the format: :mod:`xtgeo.scene.prepared`).

Blocks are written either from arrays (:class:`BandWriter`: GDAL compresses in the writing process
and builds the overviews at the end) or, when blocks are aligned to
:data:`~xtgeo.scene.prepared.TILE`, by the workers themselves: each compresses its block's tiles and
those of its share of the overviews (:func:`encode_block`, ZSTD at :data:`TILE_ZSTD_LEVEL`) and
appends them to the sparse ``scene.tif`` that a :class:`TileTable` made (:func:`append_tiles`); the
table then fills in the tile offsets and makes the few small overview levels that no single block
covers. The same file, compressed once, in parallel, with no block copied twice. Its image
directories all come first (GDAL writes the main one, ``tifffile`` adds the empty overview ones),
as in a Cloud-Optimized GeoTIFF; unlike one, the tiles follow in the order the workers finish, not
level by level. Overviews are 2 × 2 means of the level above (:func:`halve`, NaN-aware) from
:data:`FIRST_OVERVIEW` down to :data:`OVERVIEW_MIN_SIDE`; :func:`write_statistics` stores the GDAL
band statistics of the finished file.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import tifffile
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.windows import Window

from xtgeo.atomic import atomic_path
from xtgeo.scene.prepared import BANDS, NODATA, TILE, UNITS, band_index

#: ZSTD level of tiles that workers compress (:func:`encode_tiles`). A fast (negative) level:
#: 0/1 masks and capped distances still shrink ~1000×, while speckled VV/VH and interpolated
#: bathymetry, which level 1 shrinks only to ~83% at 4-7× the CPU, are stored nearly raw.
TILE_ZSTD_LEVEL = -1
#: Buffers per ``pwritev`` call (below every system's IOV_MAX).
IOV_BATCH = 512
#: A :class:`TileTable` file that could grow past this many bytes is a BigTIFF (classic TIFF offsets are 32-bit).
CLASSIC_TIFF_LIMIT = 2**31
#: Tile side of the overviews (GDAL's default for overviews): a 2048-px block covers whole tiles of
#: every level down to 1/16, so workers make those levels from their own block.
OVERVIEW_TILE = 128
#: The first overview is 1/4: a 1/2 level would add a quarter of the file (VV/VH barely compress) and
#: ~30 CPU-ms per 2048² block, and GIS software draws 1:2 from the full resolution well enough.
FIRST_OVERVIEW = 4
#: Overviews go down to the first level whose longer side is at most this (gdaladdo's ``-minsize``).
OVERVIEW_MIN_SIDE = 256


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
        "nodata": NODATA,
    }


def overview_factors(height: int, width: int) -> tuple[int, ...]:
    """Reduction factors of the overviews: :data:`FIRST_OVERVIEW`, twice that, … down to the first
    level no longer than :data:`OVERVIEW_MIN_SIDE` (none when half the scene is no longer than that)."""
    factors, factor = [], FIRST_OVERVIEW
    while -(-max(height, width) // (factor // 2)) > OVERVIEW_MIN_SIDE:
        factors.append(factor)
        factor *= 2
    return tuple(factors)


def block_overview_factors(block_size: int, factors: tuple[int, ...]) -> tuple[int, ...]:
    """The overview ``factors`` that blocks of ``block_size`` pixels cover in whole :data:`OVERVIEW_TILE` tiles."""
    return tuple(f for f in factors if block_size % (f * OVERVIEW_TILE) == 0)


def halve(band: np.ndarray) -> np.ndarray:
    """The next overview level of a band: the mean of each 2 × 2 pixels (of the finite ones where
    some are NaN; NaN where all are); an odd last row or column is paired with itself."""
    a = np.asarray(band)
    if a.shape[0] % 2:
        a = np.concatenate([a, a[-1:]], axis=0)
    if a.shape[1] % 2:
        a = np.concatenate([a, a[:, -1:]], axis=1)
    if a.dtype == bool:  # a 0/1 mask (never NaN): summed as bytes, a quarter of the traffic of floats
        out = _sum_2x2(a.view(np.uint8)).astype(np.float32)
        out *= np.float32(0.25)
        return out
    a = a.astype(np.float32, copy=False)
    out = _sum_2x2(a)
    out *= np.float32(0.25)
    holes = np.isnan(out)  # only along nodata edges and where bathymetry is unknown
    if holes.any():  # there: the sum of the finite pixels over their count (0/0: NaN, as wanted)
        finite = ~np.isnan(a)
        sums, counts = _sum_2x2(np.where(finite, a, np.float32(0))), _sum_2x2(finite.view(np.uint8))
        with np.errstate(invalid="ignore"):
            out[holes] = sums[holes] / counts[holes]
    return out


def _sum_2x2(a: np.ndarray) -> np.ndarray:
    """The sum of each 2 × 2 pixels of an even-sized array (rows first: contiguous, half the traffic)."""
    rows = a[0::2] + a[1::2]
    return rows[:, 0::2] + rows[:, 1::2]


def _level_window(window: Window, factor: int) -> Window:
    """A block's window at an overview level (its start divisible by ``factor``)."""
    return Window(int(window.col_off) // factor, int(window.row_off) // factor,
                  -(-int(window.width) // factor), -(-int(window.height) // factor))


def open_writer(path: str | os.PathLike, height: int, width: int, crs: Any, transform: Any, **options: Any):
    """Open ``scene.tif`` for writing with band descriptions and units set, and room for the statistics
    (placeholders that :func:`write_statistics` replaces in place; no overviews)."""
    dst = rasterio.open(path, "w", **{**creation_profile(height, width, crs, transform), **options})
    for i, name in enumerate(BANDS, start=1):
        dst.set_band_description(i, name)
        dst.set_band_unit(i, UNITS[name])
        dst.update_tags(i, **{f"STATISTICS_{key}": "0" * STATISTIC_WIDTH for key in STATISTICS})
    return dst


class BandWriter:
    """``scene.tif`` written by GDAL from whole blocks of bands (:meth:`write`); :meth:`close` builds
    the overviews (GDAL's NaN-aware average)."""

    def __init__(self, path: str | os.PathLike, height: int, width: int, crs: Any, transform: Any):
        self.path, self.factors = Path(path), overview_factors(height, width)
        self._dst = open_writer(path, height, width, crs, transform)

    def write(self, window: Window, bands: Mapping[str, np.ndarray]) -> None:
        """Write one window of every band."""
        write_block(self._dst, window, bands)

    def close(self) -> None:
        """Build the overviews and close the file."""
        if self._dst.closed:
            return
        if self.factors:
            with rasterio.Env(GDAL_TIFF_OVR_BLOCKSIZE=OVERVIEW_TILE):
                self._dst.build_overviews(list(self.factors), Resampling.average)
        self._dst.close()


def _tile_codec():
    import pyarrow  # a project dependency (labels.parquet); its ZSTD codec writes standard frames

    return pyarrow.Codec("zstd", compression_level=TILE_ZSTD_LEVEL)


def encode_tiles(window: Window, bands: Mapping[str, np.ndarray], tile: int = TILE) -> list[bytes]:
    """ZSTD-compressed ``tile``² float32 tiles of every band of one block, in TIFF order
    (band, tile row, tile column); tiles past the block's edge are padded with zeros."""
    height, width = int(window.height), int(window.width)
    down, across = -(-height // tile), -(-width // tile)
    codec, buffer = _tile_codec(), np.empty((tile, tile), dtype="<f4")  # TIFFs GDAL writes here are little-endian
    out = []
    for name in BANDS:
        band = bands[name]
        for r in range(0, down * tile, tile):
            for c in range(0, across * tile, tile):
                part = band[r : r + tile, c : c + tile]
                if part.shape != buffer.shape:
                    buffer[...] = 0
                buffer[: part.shape[0], : part.shape[1]] = part
                out.append(codec.compress(buffer, asbytes=True))
    return out


def encode_block(window: Window, bands: Mapping[str, np.ndarray], factors: tuple[int, ...] = ()) -> list[bytes]:
    """The tiles of one block (:func:`encode_tiles`) followed by those of its overviews at each of
    ``factors`` (from :func:`block_overview_factors`; each level made by :func:`halve` of the one above)."""
    out = encode_tiles(window, bands)
    level, made = dict(bands), 1
    for factor in factors:
        while made < factor:
            level = {name: halve(band) for name, band in level.items()}
            made *= 2
        out += encode_tiles(_level_window(window, factor), level, OVERVIEW_TILE)
    return out


def tile_indices(window: Window, height: int, width: int, tile: int = TILE) -> np.ndarray:
    """Index in the tile arrays of a ``height`` × ``width`` image of ``tile``-pixel tiles of each
    tile of :func:`encode_tiles` for ``window``."""
    if window.row_off % tile or window.col_off % tile:
        raise ValueError(f"{window} does not start on a {tile}-pixel tile corner")
    down, across = -(-int(window.height) // tile), -(-int(window.width) // tile)
    scene_down, scene_across = -(-height // tile), -(-width // tile)
    band, row, col = np.meshgrid(np.arange(len(BANDS)), np.arange(down), np.arange(across), indexing="ij")
    row, col = row + int(window.row_off) // tile, col + int(window.col_off) // tile
    return ((band * scene_down + row) * scene_across + col).ravel()


def append_tiles(path: str | os.PathLike, tiles: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Append ``tiles`` to the file at ``path`` (made by :class:`TileTable`); their offsets and sizes.

    Any number of processes may append at once: each reserves its span under an exclusive
    ``flock`` (extending the file), then writes it without the lock. The file's pages are then
    handed back (:func:`_release_written`).
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
        _release_written(fd, start + int(sizes.sum()))
    finally:
        os.close(fd)
    offsets = np.zeros_like(sizes)
    np.cumsum(sizes[:-1], out=offsets[1:])
    return offsets + np.uint64(start), sizes


def _release_written(fd: int, end: int) -> None:
    """Start writing the first ``end`` bytes of the file to disk and drop those already written
    from the page cache (``POSIX_FADV_DONTNEED`` skips pages still dirty or in flight).

    A ``scene.tif`` is written once and not read back soon (9 GB for a full scene), so keeping it
    cached only evicts other files and makes every append take fresh pages; on this project's VM,
    memory the host has taken back costs ~2.5 CPU-ms per MB to touch again, ~10× a reused page.
    Dropping the pages that earlier appends wrote lets later appends reuse them. No-op where the
    system has no ``posix_fadvise`` (macOS).
    """
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, 0, end, os.POSIX_FADV_DONTNEED)


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


@dataclass(frozen=True)
class AppendTarget:
    """Where a worker appends a block's tiles: the ``scene.tif`` a :class:`TileTable` is making, and
    the overview factors whose tiles it makes from its own block (:func:`encode_block`)."""

    path: Path
    factors: tuple[int, ...]


@dataclass
class _Image:
    """One image of ``scene.tif`` (the scene's grid or an overview): its size, tiles, and where in the
    file their offset and byte-count arrays are, of which integer type (each as its writer chose)."""

    factor: int
    height: int
    width: int
    tile: int
    offsets_at: int
    counts_at: int
    offsets_type: np.dtype
    counts_type: np.dtype
    offsets: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, factor: int, page: Any, byteorder: str) -> _Image:
        """The image of a tifffile page (of a file whose tiles are all still to come)."""
        offsets, counts = page.tags["TileOffsets"], page.tags["TileByteCounts"]
        types = {3: "u2", 4: "u4", 16: "u8"}  # TIFF SHORT, LONG, LONG8
        n = len(page.dataoffsets)
        return cls(factor, page.imagelength, page.imagewidth, page.tilewidth, offsets.valueoffset,
                   counts.valueoffset, np.dtype(byteorder + types[offsets.dtype]),
                   np.dtype(byteorder + types[counts.dtype]), np.zeros(n, np.uint64), np.zeros(n, np.uint64))

    def packed(self) -> list[tuple[int, bytes]]:
        """(file position, bytes) of the offset and byte-count arrays as they are now."""
        out = []
        for at, values, dtype in ((self.offsets_at, self.offsets, self.offsets_type),
                                  (self.counts_at, self.counts, self.counts_type)):
            if values.size and values.max() > np.iinfo(dtype).max:
                raise ValueError(f"a tile offset or size of {int(values.max())} does not fit the TIFF's {dtype} array")
            out.append((at, values.astype(dtype).tobytes()))
        return out

    def tiles_of(self, window: Window) -> np.ndarray:
        """Indices of the tiles of a scene ``window`` at this image's resolution."""
        return tile_indices(_level_window(window, self.factor), self.height, self.width, self.tile)


def _add_overview_pages(path: Path, height: int, width: int, factors: tuple[int, ...]) -> None:
    """Append an empty (sparse) reduced-resolution image per overview factor, linked after the
    main one: the tile layout GDAL reads as internal overviews, with nothing in it yet."""
    with tifffile.TiffWriter(path, append=True) as tif:
        for factor in factors:
            h, w = -(-height // factor), -(-width // factor)
            tiles = len(BANDS) * -(-h // OVERVIEW_TILE) * -(-w // OVERVIEW_TILE)
            tif.write(iter([b""] * tiles), shape=(len(BANDS), h, w), dtype="float32", compression="zstd",
                      tile=(OVERVIEW_TILE, OVERVIEW_TILE), planarconfig="separate", photometric="minisblack",
                      subfiletype=1, metadata=None)


class TileTable:
    """``scene.tif`` assembled from tiles that workers append (:func:`encode_block`, :func:`append_tiles`)
    for blocks of ``block_size`` pixels (a multiple of :data:`TILE`) whose windows start on tile corners.

    The file is first made empty (sparse) by GDAL with all its tags, and ``tifffile`` adds the empty
    overview images; :meth:`add` records where each block's tiles went (its share of the overviews
    of :attr:`target` included), and :meth:`close` writes the tile offset and byte-count arrays,
    after making the overview levels too small for a block to cover whole tiles of.
    """

    def __init__(self, path: str | os.PathLike, height: int, width: int, crs: Any, transform: Any,
                 block_size: int = TILE):
        if block_size % TILE:
            raise ValueError(f"blocks of {block_size} pixels do not cover whole {TILE}-pixel tiles")
        self.path, self.height, self.width = Path(path), height, width
        factors = overview_factors(height, width)
        self.target = AppendTarget(self.path, block_overview_factors(block_size, factors))
        tiles = -(-height // TILE) * -(-width // TILE) * len(BANDS)
        bound = 4 / 3 * tiles * (TILE * TILE * 4 * 1.01 + 1024)  # ZSTD's worst case (a little over raw), overviews
        big = "yes" if bound > CLASSIC_TIFF_LIMIT else "no"
        open_writer(path, height, width, crs, transform, sparse_ok=True, bigtiff=big).close()
        _add_overview_pages(self.path, height, width, factors)
        with tifffile.TiffFile(path) as tif:
            if tif.byteorder != "<":
                raise ValueError(f"{path}: GDAL wrote a big-endian TIFF; tiles are encoded little-endian")
            self.images = [_Image.of(factor, page, tif.byteorder) for factor, page in zip((1, *factors), tif.pages)]
        self._open = True

    def add(self, window: Window, offsets: np.ndarray, counts: np.ndarray) -> None:
        """Record the tiles of ``window`` (as :func:`encode_block` made them for :attr:`target`)
        appended at ``offsets`` with ``counts`` bytes each."""
        start = 0
        for image in self.images[: 1 + len(self.target.factors)]:
            index = image.tiles_of(window)
            image.offsets[index] = offsets[start : start + index.size]
            image.counts[index] = counts[start : start + index.size]
            start += index.size
        if start != len(offsets):
            raise ValueError(f"{len(offsets)} tiles given for {window}, which has {start}")

    def close(self) -> None:
        """Make the overview levels that no block made, and write every tile offset and byte count."""
        if not self._open:
            return
        made = 1 + len(self.target.factors)
        self._write_offsets()
        if made < len(self.images):
            self._add_small_levels(self.images[made - 1], self.images[made:])
            self._write_offsets()
        self._open = False

    def _add_small_levels(self, source: _Image, images: list[_Image]) -> None:
        """Make ``images`` by halving ``source`` (read back from the file: a small overview)."""
        level = {} if source.factor == 1 else {"overview_level": self.images.index(source) - 1}
        with rasterio.open(self.path, **level) as src:
            bands, factor = dict(zip(BANDS, src.read())), source.factor
        for image in images:
            while factor < image.factor:
                bands = {name: halve(band) for name, band in bands.items()}
                factor *= 2
            tiles = encode_tiles(Window(0, 0, image.width, image.height), bands, image.tile)
            image.offsets[:], image.counts[:] = append_tiles(self.path, tiles)

    def _write_offsets(self) -> None:
        fd = os.open(self.path, os.O_RDWR)
        try:
            for image in self.images:
                for at, packed in image.packed():
                    os.pwrite(fd, packed, at)
        finally:
            os.close(fd)


def write_block(dst, window: Window, bands: dict[str, np.ndarray]) -> None:
    """Write one window of every band (arrays of any numeric/bool dtype, cast to float32)."""
    stack = np.empty((len(BANDS), int(window.height), int(window.width)), dtype=np.float32)
    for i, name in enumerate(BANDS):
        stack[i] = bands[name]
    dst.write(stack, window=window)  # one call, no further copies


#: TIFF tag where GDAL keeps dataset and band metadata (descriptions, units, statistics) as XML.
GDAL_METADATA_TAG = 42112
#: The GDAL statistics of each band (``STATISTICS_<key>``), and the characters kept for each value when
#: the file is made (the longest ``repr`` of a float64), so that the final ones fit in place.
STATISTICS = ("MINIMUM", "MAXIMUM", "MEAN", "STDDEV", "VALID_PERCENT", "APPROXIMATE")
STATISTIC_WIDTH = 24


def band_statistics(values: np.ndarray) -> dict[str, float]:
    """GDAL's statistics (minimum, maximum, mean, std dev, valid percent) of the finite values."""
    finite = values[np.isfinite(values)].astype(np.float64)
    if finite.size == 0:
        return {"VALID_PERCENT": 0.0}
    return {"MINIMUM": float(finite.min()), "MAXIMUM": float(finite.max()), "MEAN": float(finite.mean()),
            "STDDEV": float(finite.std()), "VALID_PERCENT": 100.0 * finite.size / max(values.size, 1)}


def write_statistics(path: str | os.PathLike, known: Mapping[str, Mapping[str, float]]) -> None:
    """Store GDAL band statistics (``STATISTICS_*``, as :func:`band_statistics` names them) in a finished
    ``scene.tif``: ``known`` ones as given, the other bands' from its smallest overview (marked
    approximate). Only the metadata tag is rewritten, in the room :func:`open_writer` kept for it, so
    the image directories and their metadata stay together at the start of the file."""
    with rasterio.open(path) as src:
        levels = len(src.overviews(1))
    missing = [name for name in BANDS if name not in known]
    stats = {name: dict(known[name]) for name in known}
    with rasterio.open(path, **({"overview_level": levels - 1} if levels else {})) as src:
        for name, values in zip(missing, src.read([band_index(n) for n in missing]) if missing else []):
            stats[name] = {**band_statistics(values), **({"APPROXIMATE": "YES"} if levels else {})}
    xml = _gdal_metadata(stats)
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages.first.tags[GDAL_METADATA_TAG].overwrite(xml)


def _gdal_metadata(stats: Mapping[str, Mapping[str, Any]]) -> str:
    """GDAL's metadata XML of ``scene.tif``'s bands (descriptions, units, statistics), as GDAL itself
    writes it for a one-pixel GeoTIFF with that metadata."""
    with warnings.catch_warnings(), MemoryFile() as memory:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the pixel is not placed anywhere
        with memory.open(driver="GTiff", width=1, height=1, count=len(BANDS), dtype="float32") as dst:
            for i, name in enumerate(BANDS, start=1):
                dst.set_band_description(i, name)
                dst.set_band_unit(i, UNITS[name])
                dst.update_tags(i, **{f"STATISTICS_{key}": value for key, value in stats.get(name, {}).items()})
        with tifffile.TiffFile(io.BytesIO(memory.read())) as tif:
            return tif.pages.first.tags[GDAL_METADATA_TAG].value


def write_meta(path: str | os.PathLike, meta: dict[str, Any]) -> None:
    """Write ``meta.json`` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(meta, indent=2, sort_keys=True))
