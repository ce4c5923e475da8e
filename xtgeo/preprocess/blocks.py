"""One window of a raw xView3 scene → the bands of a preprocessed scene (a Dask task's work).

:func:`prepare_block` reads VV/VH of the window, masks nodata, resamples owiMask (nearest) and
bathymetry (bilinear) from 500 m to the window's 10 m pixels, derives land, computes the capped
distance to shore from the land of a window around it that the scene's coarse land cells
(:func:`scene_coarse_land`, one small task per scene) show to be enough (:mod:`xtgeo.preprocess.distance`),
traces the window's shoreline contours and summarises VV/VH. Every block is independent, so
blocks of many scenes run in parallel and in any order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import rasterio
from rasterio.windows import Window

from xtgeo.errors import OutputError, file_errors, worker_task
from xtgeo.preprocess import writer
from xtgeo.preprocess.ancillary import bathymetry_window, coarse_land, land_window, read_raster
from xtgeo.preprocess.contours import land_contours
from xtgeo.preprocess.distance import (
    COARSE_FACTOR,
    CoarseLand,
    capped_distance_km,
    core_slices,
    distance_window,
    union_window,
)
from xtgeo.scene import prepared
from xtgeo.scene.raw import BandRef, Scene, valid_pixels

#: Histogram range and bin width (dB) behind the VV/VH percentiles in ``meta.json``.
HISTOGRAM_RANGE_DB = (-80.0, 40.0)
HISTOGRAM_BIN_DB = 0.1
PERCENTILES = (1, 50, 99)
#: Pixels per piece of :meth:`BandStats.of` (its float64 buffer: 64 KiB).
STATS_PIECE = 1 << 13


@dataclass
class BandStats:
    """Mergeable summary of a band over valid pixels: count, sums, extremes and a histogram."""

    count: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    minimum: float = np.inf
    maximum: float = -np.inf
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(_bins(), dtype=np.int64))

    @classmethod
    def of(cls, values: np.ndarray, mask: np.ndarray | None = None) -> BandStats:
        """Statistics of the (finite) values of an array, or of those where ``mask`` is True.

        Runs over pieces of :data:`STATS_PIECE` pixels in a float64 buffer that stays in the CPU cache:
        the same bins as one pass over the whole array (and the same sums up to rounding order), at
        a fraction of the memory traffic.
        """
        values = values.ravel()
        mask = None if mask is None else mask.ravel()
        bins = _bins()
        stats = cls()
        buffer = np.empty(min(STATS_PIECE, values.size), dtype=np.float64)
        for start in range(0, values.size, STATS_PIECE):
            piece = values[start : start + STATS_PIECE]
            if mask is not None:
                piece = piece[mask[start : start + STATS_PIECE]]
            if piece.size == 0:
                continue
            v = buffer[: piece.size]
            v[...] = piece
            stats.count += int(v.size)
            stats.total += float(v.sum())
            stats.total_sq += float(np.dot(v, v))
            stats.minimum = min(stats.minimum, float(v.min()))
            stats.maximum = max(stats.maximum, float(v.max()))
            v -= HISTOGRAM_RANGE_DB[0]  # in place from here on: v becomes the histogram bin
            v /= HISTOGRAM_BIN_DB
            np.clip(v, 0, bins - 1, out=v)  # then truncate: the bin of each value
            stats.histogram += np.bincount(v.astype(np.intp), minlength=bins)
        return stats

    def merge(self, other: BandStats) -> BandStats:
        """Statistics of the union of both pixel sets."""
        return BandStats(
            self.count + other.count,
            self.total + other.total,
            self.total_sq + other.total_sq,
            min(self.minimum, other.minimum),
            max(self.maximum, other.maximum),
            self.histogram + other.histogram,
        )

    def summary(self) -> dict[str, float | int | None]:
        """JSON-ready count, mean, std, min, max and percentiles (histogram resolution)."""
        if self.count == 0:
            return {"count": 0}
        mean = self.total / self.count
        out: dict[str, float | int | None] = {
            "count": self.count,
            "mean": mean,
            "std": float(np.sqrt(max(self.total_sq / self.count - mean * mean, 0.0))),
            "min": self.minimum,
            "max": self.maximum,
        }
        cdf = np.cumsum(self.histogram) / self.count
        for q in PERCENTILES:
            upper_edge = (int(np.searchsorted(cdf, q / 100.0)) + 1) * HISTOGRAM_BIN_DB + HISTOGRAM_RANGE_DB[0]
            out[f"p{q:02d}"] = round(float(np.clip(upper_edge, self.minimum, self.maximum)), 4)
        return out


def _bins() -> int:
    lo, hi = HISTOGRAM_RANGE_DB
    return int(round((hi - lo) / HISTOGRAM_BIN_DB))


@dataclass
class Block:
    """One prepared window: its bands (or where its tiles went in ``scene.tif``: offsets and byte
    counts), shoreline contours (scene pixels), VV/VH statistics and counts of valid and land pixels."""

    window: Window
    bands: dict[str, np.ndarray] | None
    contours: list[np.ndarray]
    stats: dict[str, BandStats]
    counts: dict[str, int]
    tiles: tuple[np.ndarray, np.ndarray] | None = None


def block_windows(height: int, width: int, block_size: int) -> list[Window]:
    """Windows of ``block_size`` × ``block_size`` pixels (smaller at the right and bottom) tiling the grid."""
    return [
        Window(c0, r0, min(block_size, width - c0), min(block_size, height - r0))
        for r0 in range(0, height, block_size)
        for c0 in range(0, width, block_size)
    ]


def _read(ref: BandRef, window: Window) -> np.ndarray:
    with file_errors(ref.path, f"cannot read the block at row {window.row_off}, col {window.col_off}"), \
            rasterio.open(ref.path) as src:
        return src.read(ref.index, window=window, out_dtype=np.float32)


@worker_task
def scene_coarse_land(scene: Scene, factor: int = COARSE_FACTOR) -> CoarseLand:
    """Which ``factor`` × ``factor`` cells of ``scene`` hold land: the distance bounds of its blocks."""
    owi_mask = read_raster(scene.ancillary["owiMask"])
    return coarse_land(owi_mask, scene.transform, scene.crs, scene.height, scene.width, factor)


@worker_task
def prepare_block(
    scene: Scene, window: Window, coarse: CoarseLand, cap_px: int, target: writer.AppendTarget | None = None
) -> Block:
    """Process one window of ``scene`` (needs owiMask and bathymetry; ``coarse`` from :func:`scene_coarse_land`).

    With ``target`` (a ``scene.tif`` being made by :class:`xtgeo.preprocess.writer.TileTable`) the tiles of
    the bands and of their overviews are compressed and appended to it instead of returned.
    """
    if cap_px < 1:
        raise ValueError(f"cap_px must be at least 1, got {cap_px}")
    vv, vh = _read(scene.vv, window), _read(scene.vh, window)
    valid = valid_pixels(vv, vh, scene.nodata)
    all_valid = bool(valid.all())
    if not all_valid:
        vv[~valid] = prepared.NODATA
        vh[~valid] = prepared.NODATA

    # The official contour tracing reads one extra row and column past each block (see xtgeo.scene.shoreline).
    plus_one = Window(
        window.col_off, window.row_off,
        min(window.width + 1, scene.width - window.col_off), min(window.height + 1, scene.height - window.row_off),
    )
    distance_from = distance_window(coarse, window, cap_px, scene.height, scene.width)
    extended = plus_one if distance_from is None else union_window(distance_from, plus_one)
    land_ext = land_window(read_raster(scene.ancillary["owiMask"]), scene.transform, scene.crs, extended)
    core = core_slices(window, extended)
    rows, cols = core
    land_plus_one = land_ext[rows.start : rows.stop + 1, cols.start : cols.stop + 1]
    offset = np.array([window.row_off, window.col_off], dtype=np.int32)
    contours = [c + offset for c in land_contours(land_plus_one, block=max(land_plus_one.shape))]

    km_per_px = abs(scene.transform.a) / 1000.0
    if distance_from is None:  # no land within the cap of any pixel
        shore_km = np.full((int(window.height), int(window.width)), cap_px * km_per_px, dtype=np.float32)
    else:
        shore_km = capped_distance_km(land_ext, core, cap_px, pixel_size_m=scene.pixel_size_m)
    bands = {
        "vv_db": vv,
        "vh_db": vh,
        "valid": valid,
        "land": land_ext[core],
        "shore_km": shore_km,
        "bathymetry_m": bathymetry_window(
            read_raster(scene.ancillary["bathymetry"]), scene.transform, scene.crs, window
        ),
    }
    stats = {name: BandStats.of(bands[name], None if all_valid else valid) for name in ("vv_db", "vh_db")}
    counts = {name: int(np.count_nonzero(bands[name])) for name in ("valid", "land")}
    if target is None:
        return Block(window, bands, contours, stats, counts)
    with file_errors(target.path, "cannot write", OutputError):
        tiles = writer.append_tiles(target.path, writer.encode_block(window, bands, target.factors))
    return Block(window, None, contours, stats, counts, tiles)
