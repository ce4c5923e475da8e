"""Making whole synthetic scenes and datasets on disk (atomically, deterministically)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xtgeo.atomic import atomic_path
from xtgeo.errors import ConfigError
from xtgeo.preprocess.contours import land_contours
from xtgeo.scene.prepared import shoreline_path
from xtgeo.scene.shoreline import write_shoreline
from xtgeo.synth.ancillary import make_ancillary
from xtgeo.synth.footprint import footprint
from xtgeo.synth.geo import scene_grid
from xtgeo.synth.objects import Context, make_context, place_objects
from xtgeo.synth.rasters import write_ancillary, write_sar
from xtgeo.synth.stats import XVIEW3_VALIDATION, LabelStats
from xtgeo.synth.table import label_table
from xtgeo.synth.terrain import make_terrain

#: Smallest scene side: a few object-free margins and one lane must fit.
MIN_SIDE = 256
LABELS_FILE = "labels.csv"

Progress = Callable[[int], None]


@dataclass(frozen=True)
class SyntheticScene:
    """A scene written by :func:`make_scene`: its id, folder, labels and hidden context.

    ``objects`` is everything drawn in the image (:func:`xtgeo.synth.objects.place_objects`): the
    labelled objects, row for row with ``labels`` once the unlabelled clutter is left out."""

    scene_id: str
    folder: Path
    labels: pd.DataFrame
    objects: pd.DataFrame
    context: Context

    @property
    def clutter(self) -> pd.DataFrame:
        """The unlabelled coastal clutter of rule 3: drawn like vessels, in no label."""
        return self.objects[~self.objects["labelled"]]


def scene_id_for(seed: int) -> str:
    """A scene id like the real ones (16 lowercase hex characters and a letter) from a seed."""
    return hashlib.sha256(f"xtgeo-synth:{seed}".encode()).hexdigest()[:16] + "v"


def scene_seeds(seed: int, scenes: int) -> list[int]:
    """The per-scene seeds of a dataset made with ``seed``."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(scenes, dtype=np.uint64) >> np.uint64(1)]


def _check_size(height: int, width: int) -> None:
    if height < MIN_SIDE or width < MIN_SIDE:
        raise ConfigError(f"scene size {height} x {width}: height and width must be at least {MIN_SIDE} pixels")


def make_scene(
    out_dir: str | os.PathLike, *, height: int, width: int, seed: int,
    stats: LabelStats = XVIEW3_VALIDATION, on_rows: Progress | None = None,
) -> SyntheticScene:
    """Write ``out_dir/<scene_id>/`` (xView3 layout) and ``out_dir/shoreline/<scene_id>_shoreline.npy``.

    ``on_rows(n)`` is called as rows are done (twice ``height`` in all: land, then rasters).
    """
    _check_size(height, width)
    out_dir = Path(out_dir)
    scene_id = scene_id_for(seed)
    rng = np.random.default_rng(seed)
    crs, transform = scene_grid(rng, height, width)
    terrain = make_terrain(rng, height, width)
    land = terrain.land_mask(on_rows)
    contours = land_contours(land)
    ancillary = make_ancillary(rng, terrain, land)
    context = make_context(terrain, land, ancillary, contours, rng)
    objects = place_objects(rng, context, stats)
    footprints = [
        footprint(o.length_m, o.aspect, o.heading_deg, o.peak_db, o.vh_drop_db, int(o.seed))
        for o in objects.itertuples()
    ]
    labelled = objects["labelled"].to_numpy()
    labelled_footprints = [fp for fp, keep in zip(footprints, labelled) if keep]
    labels = label_table(objects[labelled].reset_index(drop=True), labelled_footprints, context.shore_km, scene_id, crs,
                         transform)
    placed = [(int(o.row), int(o.col), fp) for o, fp in zip(objects.itertuples(), footprints)]
    folder = out_dir / scene_id
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        write_sar(tmp, terrain, land, ancillary, placed, crs, transform, seed, on_rows)
        write_ancillary(tmp, ancillary, crs, transform, height, width)
    write_shoreline(shoreline_path(out_dir, scene_id), contours)
    return SyntheticScene(scene_id, folder, labels, objects, context)


def write_labels(path: str | os.PathLike, labels: pd.DataFrame) -> Path:
    """Write an xView3 label table as CSV, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        labels.to_csv(tmp, index=False)
    return path


def make_dataset(
    out_dir: str | os.PathLike, *, scenes: int, height: int, width: int, seed: int,
    stats: LabelStats = XVIEW3_VALIDATION, on_rows: Progress | None = None,
) -> pd.DataFrame:
    """Write ``scenes`` scenes, their shorelines and ``out_dir/labels.csv``; return the labels."""
    if scenes < 1:
        raise ConfigError(f"--scenes {scenes}: need at least one scene")
    _check_size(height, width)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = [
        make_scene(out_dir, height=height, width=width, seed=s, stats=stats, on_rows=on_rows).labels
        for s in scene_seeds(seed, scenes)
    ]
    labels = pd.concat(tables, ignore_index=True)
    write_labels(out_dir / LABELS_FILE, labels)
    return labels
