"""Shoreline files and distances to them.

Shoreline files follow the official xView3 format: ``<scene_id>_shoreline.npy`` holds a pickled
object array of contours, each an (N, 2) integer array of (row, col) scene pixels. The contours
that ``preprocess`` and ``synth`` write come from :func:`xtgeo.preprocess.contours.land_contours`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from xtgeo.atomic import atomic_path
from xtgeo.schema import PIXEL_SIZE_M


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
            np.save(f, array, allow_pickle=True)
    return path


def shoreline_file(folder: str | os.PathLike, scene_id: str) -> Path:
    """The official shoreline file of a scene in ``folder``: ``<scene_id>_shoreline.npy``."""
    return Path(folder) / f"{scene_id}_shoreline.npy"


def read_shoreline(path: str | os.PathLike) -> list[np.ndarray]:
    """Read an official-format shoreline file into a list of (N, 2) arrays."""
    array = np.load(path, allow_pickle=True)
    return [np.asarray(c).reshape(-1, 2) for c in array]


def distance_at_points_km(
    points_rc: np.ndarray, contours: list[np.ndarray], pixel_size_m: float = PIXEL_SIZE_M
) -> np.ndarray:
    """Distance (km) from each (row, col) point to the nearest contour point; +inf without any.

    For sea points and contours from :func:`land_contours` this equals the distance transform.
    """
    points_rc = np.asarray(points_rc, dtype=np.float64).reshape(-1, 2)
    shore = contour_points(contours)
    if len(shore) == 0:
        return np.full(len(points_rc), np.inf)
    distance_px, _ = cKDTree(shore).query(points_rc)
    return distance_px * (pixel_size_m / 1000.0)
