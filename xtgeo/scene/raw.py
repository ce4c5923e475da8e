"""Opening and validating scenes: an xView3 scene folder, a ``VV_dB.tif``, or one 2-band GeoTIFF.

Every problem is a :class:`~xtgeo.errors.SceneError` whose one-line message names the file and
the problem: missing VV/VH (or ancillary when required), VV/VH of different shape, CRS or
transform, unreadable or truncated files, a CRS that is not projected, a VV of only nodata.
Checks read only headers and a few sampled blocks, so they stay cheap for full-size scenes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.windows import Window

from xtgeo.errors import SceneError

ANCILLARY_NAMES = ("bathymetry", "owiMask", "owiWindSpeed", "owiWindDirection", "owiWindQuality")
VV_FILE = "VV_dB.tif"
VH_FILE = "VH_dB.tif"
#: xView3 nodata, assumed when a file declares none.
DEFAULT_NODATA = -32768.0
#: Sampled blocks per side when looking for valid VV pixels.
SAMPLE_GRID = 5
#: Longest side of the decimated read used when no sampled block holds valid data.
DECIMATED_SIDE = 1024


@dataclass(frozen=True)
class BandRef:
    """One band of a GeoTIFF: ``index`` is rasterio's 1-based band index."""

    path: Path
    index: int


@dataclass(frozen=True)
class Scene:
    """A validated scene: where VV, VH and ancillary rasters are, and the 10 m grid they share.

    ``valid`` is the validity band of a preprocessed scene (:func:`xtgeo.scene.prepared.open_scene`);
    raw scenes have none (validity is where VV and VH hold data).
    """

    scene_id: str
    root: Path
    vv: BandRef
    vh: BandRef
    ancillary: dict[str, Path] = field(hash=False)
    height: int
    width: int
    crs: CRS
    transform: Affine
    nodata: float
    valid: BandRef | None = None

    @property
    def pixel_size_m(self) -> float:
        """Side of a pixel in metres, from the transform (square pixels of a projected CRS)."""
        return pixel_size_m(self.transform)


def pixel_size_m(transform: Affine) -> float:
    """Side of a pixel of ``transform`` in metres: the length of one column step (the CRS is projected)."""
    return math.hypot(transform.a, transform.d)


def _short(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _open(path: Path) -> rasterio.DatasetReader:
    try:
        return rasterio.open(path)
    except (RasterioError, OSError) as err:
        raise SceneError(f"{path}: unreadable GeoTIFF ({_short(err)})") from None


def _grid(path: Path) -> tuple[int, int, int, CRS | None, Affine, float | None]:
    with _open(path) as src:
        return src.count, src.height, src.width, src.crs, src.transform, src.nodata


def _probe(band: BandRef, grid: int) -> list[np.ndarray]:
    """Read the blocks of :func:`_block_windows` of a band, turning decode errors (a truncated file)
    into a SceneError."""
    try:
        with _open(band.path) as src:
            block = src.block_shapes[band.index - 1]
            return [src.read(band.index, window=w) for w in _block_windows(src.height, src.width, block, grid)]
    except RasterioError as err:
        raise SceneError(f"{band.path}: unreadable or truncated data ({_short(err)})") from None


def _block_windows(height: int, width: int, block: tuple[int, int], grid: int) -> list[Window]:
    """The last block (end of file) plus up to ``grid`` × ``grid`` blocks spread over the image
    (only the last one for ``grid`` 0)."""
    bh, bw = min(block[0], height), min(block[1], width)
    last_r, last_c = (height - 1) // bh, (width - 1) // bw
    blocks = [(last_r, last_c)] + [
        (int(r), int(c))
        for r in np.unique(np.linspace(0, last_r, grid).astype(int))
        for c in np.unique(np.linspace(0, last_c, grid).astype(int))
    ]
    return [Window(c * bw, r * bh, min(bw, width - c * bw), min(bh, height - r * bh)) for r, c in blocks]


def has_data(values: np.ndarray, nodata: float) -> np.ndarray:
    """Pixels of a band that hold data: finite and not ``nodata``."""
    return np.isfinite(values) & (values != nodata)


def valid_pixels(vv: np.ndarray, vh: np.ndarray, nodata: float) -> np.ndarray:
    """Pixels of a scene where both VV and VH hold data."""
    return has_data(vv, nodata) & has_data(vh, nodata)


def _has_valid(values: np.ndarray, nodata: float) -> bool:
    return bool(has_data(values, nodata).any())


def _check_data(vv: BandRef, height: int, width: int, nodata: float) -> None:
    if any(_has_valid(v, nodata) for v in _probe(vv, SAMPLE_GRID)):
        return
    factor = max(1.0, max(height, width) / DECIMATED_SIDE)
    try:
        with _open(vv.path) as src:
            small = src.read(vv.index, out_shape=(max(1, round(height / factor)), max(1, round(width / factor))),
                             resampling=Resampling.nearest)
    except RasterioError as err:
        raise SceneError(f"{vv.path}: unreadable or truncated data ({_short(err)})") from None
    if not _has_valid(small, nodata):
        raise SceneError(f"{vv.path}: VV holds only nodata ({nodata:g}) or NaN")


def _locate(path: Path) -> tuple[str, Path, BandRef, BandRef, dict[str, Path]]:
    """scene_id, root, VV, VH and ancillary of a folder, a VV_dB.tif or a 2-band GeoTIFF."""
    if path.is_dir():
        folder = path
    elif path.is_file() and path.name == VV_FILE:
        folder = path.parent
    elif path.is_file():
        count = _grid(path)[0]
        if count < 2:
            raise SceneError(
                f"{path}: has {count} band; need bands 1, 2 = VV, VH (dB) or a {VV_FILE} beside a {VH_FILE}"
            )
        return path.stem, path.parent, BandRef(path, 1), BandRef(path, 2), {}
    else:
        raise SceneError(f"{path}: no such scene folder or GeoTIFF")
    for name in (VV_FILE, VH_FILE):
        if not (folder / name).is_file():
            raise SceneError(f"{folder}: missing {name}")
    ancillary = {n: folder / f"{n}.tif" for n in ANCILLARY_NAMES if (folder / f"{n}.tif").is_file()}
    return folder.name, folder, BandRef(folder / VV_FILE, 1), BandRef(folder / VH_FILE, 1), ancillary


def _check_ancillary(root: Path, ancillary: dict[str, Path], crs: CRS) -> None:
    for name in ANCILLARY_NAMES:
        if name not in ancillary:
            raise SceneError(f"{root}: missing ancillary {name}.tif")
        other = _grid(ancillary[name])[3]
        if other != crs:
            raise SceneError(f"{ancillary[name]}: CRS {other} differs from VV's {crs}")


def open_scene(path: str | os.PathLike, *, require_ancillary: bool = False, check_data: bool = True) -> Scene:
    """Open and validate a scene (see the module docstring); raise :class:`SceneError` on any problem."""
    scene_id, root, vv, vh, ancillary = _locate(Path(path))
    _, height, width, crs, transform, nodata = _grid(vv.path)
    _, vh_height, vh_width, vh_crs, vh_transform, _ = _grid(vh.path)
    if crs is None or not crs.is_projected:
        raise SceneError(f"{vv.path}: CRS {crs or 'missing'} is not projected (need a metric one such as UTM)")
    if (vh_height, vh_width) != (height, width):
        raise SceneError(f"{vh.path}: shape {vh_height} x {vh_width} differs from VV's {height} x {width}")
    if vh_crs != crs:
        raise SceneError(f"{vh.path}: CRS {vh_crs} differs from VV's {crs}")
    if not vh_transform.almost_equals(transform):
        raise SceneError(f"{vh.path}: transform differs from VV's (not the same grid)")
    nodata = DEFAULT_NODATA if nodata is None else float(nodata)
    if require_ancillary:
        _check_ancillary(root, ancillary, crs)
    for band in (vv, vh):
        _probe(band, 0)  # the last block: a truncated file fails here
    if check_data:
        _check_data(vv, height, width, nodata)
    return Scene(scene_id, root, vv, vh, ancillary, height, width, crs, transform, nodata)
