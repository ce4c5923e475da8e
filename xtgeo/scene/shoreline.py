"""Shoreline files and distances to them.

Shoreline files follow the official xView3 format: ``<scene_id>_shoreline.npy`` holds a pickled
object array of contours, each an (N, 2) integer array of (row, col) scene pixels. The contours
that ``preprocess`` and ``synth`` write come from :func:`xtgeo.preprocess.contours.land_contours`.

The files are pickles, so :func:`read_shoreline` never hands them to ``np.load(allow_pickle=True)``:
it reads the ``.npy`` header itself and unpickles the data with :class:`ArrayUnpickler`, which can
build numpy arrays and dtypes and nothing else (no other class or function can be named, so a
poisoned file cannot run code), then checks that the result is an object array of (N, 2) integer
arrays.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np

from xtgeo.atomic import atomic_path
from xtgeo.errors import SceneError


def contour_points(contours: list[np.ndarray]) -> np.ndarray:
    """All contour points stacked into one (N, 2) array (empty (0, 2) when there are none)."""
    if len(contours) == 0:
        return np.empty((0, 2), dtype=np.int32)
    return np.concatenate([np.asarray(c).reshape(-1, 2) for c in contours]).astype(np.int32)


def write_shoreline(path: str | os.PathLike, contours: list[np.ndarray]) -> Path:
    """Write contours in the official pickled object-array ``.npy`` format, atomically."""
    array = np.empty(len(contours), dtype=object)
    for i, contour in enumerate(contours):
        array[i] = np.asarray(contour, dtype=np.int32).reshape(-1, 2)
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=True)  # writing a pickle runs nothing; see read_shoreline
    return path


def shoreline_file(folder: str | os.PathLike, scene_id: str) -> Path:
    """The official shoreline file of a scene in ``folder``: ``<scene_id>_shoreline.npy``."""
    return Path(folder) / f"{scene_id}_shoreline.npy"


#: The function a pickled ndarray is rebuilt with (its module moved in numpy 2).
_RECONSTRUCT = np.empty(0).__reduce__()[0]


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can make numpy arrays and dtypes and nothing else.

    A pickled ndarray names only ``ndarray``, ``dtype`` and the ``_reconstruct`` function numpy
    rebuilds it with (``numpy.core`` before numpy 2, ``numpy._core`` since); any other name in the
    stream (``os.system``, ``builtins.eval``, ...) is refused before it is looked up.
    """

    ALLOWED = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    }

    def find_class(self, module: str, name: str):  # noqa: D102 - pickle's hook
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load {module}.{name} (only numpy arrays may be in it)") from None


def read_shoreline(path: str | os.PathLike) -> list[np.ndarray]:
    """Read an official-format shoreline file into a list of (N, 2) integer arrays, safely.

    Raises :class:`~xtgeo.errors.SceneError` naming the file when it is unreadable, truncated, not
    a ``.npy`` file, names anything but numpy arrays, or is not an object array of (N, 2) integer
    arrays.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _contours(_load_object_array(f))
    except SceneError as err:
        raise SceneError(f"{path}: not an official shoreline file ({err})") from None
    except OSError as err:
        raise SceneError(f"{path}: cannot read ({err.strerror or err})") from None
    except (pickle.UnpicklingError, ValueError, TypeError, EOFError, AttributeError, IndexError,
            KeyError, MemoryError, RecursionError, SyntaxError, UnicodeDecodeError) as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SceneError(f"{path}: not an official shoreline file ({detail})") from None


def _load_object_array(f: io.BufferedReader) -> np.ndarray:
    """The object array stored in an open ``.npy`` file, unpickled by :class:`ArrayUnpickler`."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise SceneError(f".npy format version {version} is not 1.0 or 2.0")
    if dtype != np.dtype(object):
        raise SceneError(f"holds a {dtype} array, not the object array of contours")
    array = ArrayUnpickler(f).load()
    if f.read(1):
        raise SceneError("has bytes after the array")
    if not isinstance(array, np.ndarray) or array.dtype != object or array.shape != tuple(shape):
        raise SceneError(f"holds {type(array).__name__}, not an object array of shape {tuple(shape)}")
    return array


def _contours(array: np.ndarray) -> list[np.ndarray]:
    """Check that every element is an (N, 2) integer array; return them."""
    contours = []
    for i, contour in enumerate(array.ravel()):
        if not (isinstance(contour, np.ndarray) and contour.ndim == 2 and contour.shape[1] == 2
                and np.issubdtype(contour.dtype, np.integer)):
            is_array = isinstance(contour, np.ndarray)
            what = f"{contour.dtype} array of shape {contour.shape}" if is_array else type(contour).__name__
            raise SceneError(f"contour {i} is a {what}, not an (N, 2) integer array of (row, col) pixels")
        contours.append(contour)
    return contours


def distance_at_points_km(
    points_rc: np.ndarray, contours: list[np.ndarray], pixel_size_m: float
) -> np.ndarray:
    """Distance (km) from each (row, col) point to the nearest contour point; +inf without any.

    For sea points and contours from :func:`xtgeo.preprocess.contours.land_contours` this equals the
    distance transform.
    """
    points_rc = np.asarray(points_rc, dtype=np.float64).reshape(-1, 2)
    shore = contour_points(contours)
    if len(shore) == 0:
        return np.full(len(points_rc), np.inf)
    from scipy.spatial import cKDTree  # not with this module: the scorer reads shorelines without it

    distance_px, _ = cKDTree(shore).query(points_rc)
    return distance_px * (pixel_size_m / 1000.0)
