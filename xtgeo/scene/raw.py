"""Opening and validating scenes: an xView3 scene folder, a ``VV_dB.tif``, or one 2-band GeoTIFF.

Every problem is a :class:`~xtgeo.errors.SceneError` whose one-line message names the file and
the problem: a file that is not a GeoTIFF (a PNG renamed ``.tif`` is called a PNG), missing VV/VH
(or ancillary when required), VV/VH that are not one band of float dB, of different shape, CRS or
transform, pixels that are not square, unreadable or truncated files, a CRS that is not projected,
a VV of only nodata; with ancillary required, an ancillary raster that does not overlap the scene
and an owiMask with values outside {0 sea, 1 land, 2 ice} or none at all. Values that are
possible but suspicious (VV/VH that look like linear power, not dB; pixels far from 10 m) give an
:class:`~xtgeo.errors.XtgeoWarning`. Pixels equal to the xView3 nodata (−32768) never count as
data, whatever nodata a file declares. Checks read only headers, a few sampled blocks and the
small ancillary rasters, so they stay cheap for full-size scenes.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.coords import BoundingBox, disjoint_bounds
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.transform import array_bounds
from rasterio.windows import Window

from xtgeo.errors import SceneError, XtgeoWarning, reason

ANCILLARY_NAMES = ("bathymetry", "owiMask", "owiWindSpeed", "owiWindDirection", "owiWindQuality")
VV_FILE = "VV_dB.tif"
VH_FILE = "VH_dB.tif"
#: xView3 nodata, assumed when a file declares none.
DEFAULT_NODATA = -32768.0
#: Sampled blocks per side when looking for valid VV pixels.
SAMPLE_GRID = 5
#: Longest side of the decimated read used when no sampled block holds valid data.
DECIMATED_SIDE = 1024
#: xView3 VV/VH pixels are 10 m; pixels outside this range (metres) give a warning.
PIXEL_SIZE_RANGE_M = (9.0, 11.0)
#: owiMask classes: 0 sea, 1 land, 2 ice.
OWI_MASK_CLASSES = (0, 1, 2)
#: Median sampled VV above this (dB) looks like linear power or amplitude rather than dB.
MAX_MEDIAN_DB = 0.0


@dataclass(frozen=True)
class BandRef:
    """One band of a GeoTIFF: ``index`` is rasterio's 1-based band index."""

    path: Path
    index: int


@dataclass(frozen=True)
class Scene:
    """A validated scene: where VV, VH and ancillary rasters are, and the 10 m grid they share.

    ``valid`` and ``land`` are the validity and land bands of a preprocessed scene
    (:func:`xtgeo.scene.prepared.open_scene`); raw scenes have neither (validity is where VV and VH
    hold data, land is where ``owiMask.tif`` says 1).
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
    land: BandRef | None = None

    @property
    def pixel_size_m(self) -> float:
        """Side of a pixel in metres, from the transform (square pixels of a projected CRS)."""
        return pixel_size_m(self.transform)


def pixel_size_m(transform: Affine) -> float:
    """Side of a pixel of ``transform`` in metres: the length of one column step (the CRS is projected)."""
    return math.hypot(transform.a, transform.d)


def open_geotiff(path: str | os.PathLike) -> rasterio.DatasetReader:
    """Open a GeoTIFF with rasterio; SceneError naming the file if it is unreadable or another
    format (say which: a PNG renamed ``.tif`` is "a PNG file, not a GeoTIFF")."""
    try:
        with warnings.catch_warnings():  # georeferencing is checked by the caller, by name
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(path)
    except (RasterioError, OSError) as err:
        raise SceneError(f"{path}: not a readable GeoTIFF ({reason(err)})") from None
    if src.driver != "GTiff":
        kind = src.driver
        src.close()
        raise SceneError(f"{path}: is a {kind} file, not a GeoTIFF")
    return src


@dataclass(frozen=True)
class _Header:
    count: int
    height: int
    width: int
    crs: CRS | None
    transform: Affine
    nodata: float | None
    dtypes: tuple[str, ...]


def _header(path: Path) -> _Header:
    with open_geotiff(path) as src:
        return _Header(src.count, src.height, src.width, src.crs, src.transform, src.nodata, tuple(src.dtypes))


def _check_sar_band(band: BandRef, header: _Header, name: str, single: bool) -> None:
    """VV or VH must be float dB: a float band (and the only band of its own ``*_dB.tif``)."""
    if single and header.count != 1:
        raise SceneError(f"{band.path}: has {header.count} bands; {band.path.name} holds one band, {name} in dB")
    dtype = header.dtypes[band.index - 1]
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise SceneError(f"{band.path}: {name} band is {dtype}; Sentinel-1 {name} must be float dB (float32)")


def _check_pixel_size(path: Path, transform: Affine) -> None:
    """Pixels must be square; far from 10 m they give a warning (models are trained on 10 m pixels)."""
    across, down = math.hypot(transform.a, transform.d), math.hypot(transform.b, transform.e)
    if not math.isclose(across, down, rel_tol=0.01):
        raise SceneError(f"{path}: pixels are {across:g} x {down:g} m; they must be square (xView3: 10 x 10 m)")
    low, high = PIXEL_SIZE_RANGE_M
    if not low <= across <= high:
        warnings.warn(f"{path}: pixels are {across:g} m; xView3 scenes, and the models trained on them, are 10 m "
                      f"(resample to 10 m, or expect wrong detections and lengths)", XtgeoWarning, stacklevel=3)


def _probe(band: BandRef, grid: int) -> list[np.ndarray]:
    """Read the blocks of :func:`_block_windows` of a band, turning decode errors (a truncated file)
    into a SceneError."""
    try:
        with open_geotiff(band.path) as src:
            block = src.block_shapes[band.index - 1]
            return [src.read(band.index, window=w) for w in _block_windows(src.height, src.width, block, grid)]
    except RasterioError as err:
        raise SceneError(f"{band.path}: unreadable or truncated data ({reason(err)})") from None


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
    """Pixels of a band that hold data: finite, not ``nodata`` and not the xView3 nodata (−32768)."""
    return np.isfinite(values) & (values != nodata) & (values != DEFAULT_NODATA)


def valid_pixels(vv: np.ndarray, vh: np.ndarray, nodata: float) -> np.ndarray:
    """Pixels of a scene where both VV and VH hold data."""
    return has_data(vv, nodata) & has_data(vh, nodata)


def _check_data(vv: BandRef, height: int, width: int, nodata: float, allow_empty: bool) -> None:
    samples = [v[has_data(v, nodata)] for v in _probe(vv, SAMPLE_GRID)]
    if not any(s.size for s in samples):
        factor = max(1.0, max(height, width) / DECIMATED_SIDE)
        try:
            with open_geotiff(vv.path) as src:
                small = src.read(vv.index, out_shape=(max(1, round(height / factor)), max(1, round(width / factor))),
                                 resampling=Resampling.nearest)
        except RasterioError as err:
            raise SceneError(f"{vv.path}: unreadable or truncated data ({reason(err)})") from None
        samples = [small[has_data(small, nodata)]]
        if not samples[0].size and allow_empty:
            return
        if not samples[0].size:
            raise SceneError(f"{vv.path}: VV holds only nodata ({nodata:g}, {DEFAULT_NODATA:g}) or NaN")
    median = float(np.median(np.concatenate(samples)))
    if median > MAX_MEDIAN_DB:
        warnings.warn(f"{vv.path}: median VV is {median:.3g}, above {MAX_MEDIAN_DB:g} dB: is it linear "
                      f"power or amplitude rather than dB (10·log10)?", XtgeoWarning, stacklevel=2)


def _locate(path: Path) -> tuple[str, Path, BandRef, BandRef, dict[str, Path]]:
    """scene_id, root, VV, VH and ancillary of a folder, a VV_dB.tif or a 2-band GeoTIFF."""
    if path.is_dir():
        folder = path
    elif path.is_file() and path.name == VV_FILE:
        folder = path.parent
    elif path.is_file():
        count = _header(path).count
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


def _check_ancillary(root: Path, ancillary: dict[str, Path], crs: CRS, bounds: BoundingBox) -> None:
    """Every ancillary raster is there, in VV's CRS and overlaps the scene; owiMask holds classes."""
    for name in ANCILLARY_NAMES:
        if name not in ancillary:
            raise SceneError(f"{root}: missing ancillary {name}.tif")
        with open_geotiff(ancillary[name]) as src:
            if src.crs != crs:
                raise SceneError(f"{ancillary[name]}: CRS {src.crs} differs from VV's {crs}")
            if disjoint_bounds(src.bounds, bounds):
                raise SceneError(f"{ancillary[name]}: does not overlap the scene (bounds {_bounds(src.bounds)}, "
                                 f"VV's {_bounds(bounds)})")
    _check_owi_mask(ancillary["owiMask"])


def _bounds(b: BoundingBox) -> str:
    return f"{b.left:.0f}, {b.bottom:.0f}, {b.right:.0f}, {b.top:.0f}"


def _check_owi_mask(path: Path) -> None:
    """owiMask values are 0 (sea), 1 (land), 2 (ice) where it has data, and it has some."""
    try:
        with open_geotiff(path) as src:
            values, nodata = src.read(1), src.nodata
    except RasterioError as err:
        raise SceneError(f"{path}: unreadable or truncated data ({reason(err)})") from None
    known = np.isfinite(values) if nodata is None else np.isfinite(values) & (values != nodata)
    if not known.any():
        raise SceneError(f"{path}: owiMask holds only nodata or NaN (need 0 sea, 1 land, 2 ice)")
    bad = np.setdiff1d(np.unique(values[known]), OWI_MASK_CLASSES)
    if bad.size:
        shown = ", ".join(f"{v:g}" for v in bad[:5]) + (", ..." if bad.size > 5 else "")
        raise SceneError(f"{path}: owiMask holds {shown}; its classes are 0 sea, 1 land, 2 ice")


def open_scene(
    path: str | os.PathLike, *, require_ancillary: bool = False, check_data: bool = True, allow_empty: bool = False
) -> Scene:
    """Open and validate a scene (see the module docstring); raise :class:`SceneError` on any problem.

    ``check_data`` samples VV: a scene of only nodata is an error (unless ``allow_empty``) and
    values that do not look like dB give a warning.
    """
    scene_id, root, vv, vh, ancillary = _locate(Path(path))
    head, vh_head = _header(vv.path), _header(vh.path)
    single = vv.path != vh.path
    _check_sar_band(vv, head, "VV", single)
    _check_sar_band(vh, vh_head, "VH", single)
    height, width, crs, transform = head.height, head.width, head.crs, head.transform
    if crs is None:
        raise SceneError(f"{vv.path}: has no CRS (not georeferenced); xView3 scenes are in UTM")
    if not crs.is_projected:
        raise SceneError(f"{vv.path}: CRS {crs} is not projected (need a metric one such as UTM)")
    if (vh_head.height, vh_head.width) != (height, width):
        raise SceneError(f"{vh.path}: shape {vh_head.height} x {vh_head.width} differs from VV's {height} x {width}")
    if vh_head.crs != crs:
        raise SceneError(f"{vh.path}: CRS {vh_head.crs} differs from VV's {crs}")
    if not vh_head.transform.almost_equals(transform):
        raise SceneError(f"{vh.path}: transform differs from VV's (not the same grid)")
    _check_pixel_size(vv.path, transform)
    nodata = DEFAULT_NODATA if head.nodata is None else float(head.nodata)
    if require_ancillary:
        _check_ancillary(root, ancillary, crs, BoundingBox(*array_bounds(height, width, transform)))
    for band in (vv, vh):
        _probe(band, 0)  # the last block: a truncated file fails here
    if check_data:
        _check_data(vv, height, width, nodata, allow_empty)
    return Scene(scene_id, root, vv, vh, ancillary, height, width, crs, transform, nodata)
