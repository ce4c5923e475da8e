"""Making whole synthetic scenes and datasets on disk (atomically, deterministically)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xtgeo.atomic import atomic_path, check_output, make_folder
from xtgeo.errors import ConfigError, OutputError
from xtgeo.made import check_nothing_foreign, record_made, remove_made
from xtgeo.preprocess.contours import land_contours
from xtgeo.scene.prepared import shoreline_path
from xtgeo.scene.raw import ANCILLARY_NAMES, VH_FILE, VV_FILE
from xtgeo.scene.shoreline import write_shoreline
from xtgeo.schema import MAX_SCENE_SIDE_PX
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
#: Peak memory of making a scene, per pixel (measured: 1.43 GB for a 29,400 x 24,400 scene).
BYTES_PER_PIXEL = 2.5
LABELS_FILE = "labels.csv"
#: The files of a scene folder (what ``--overwrite`` may replace).
SCENE_FILES = (VV_FILE, VH_FILE, *(f"{name}.tif" for name in ANCILLARY_NAMES))
#: The name that :mod:`xtgeo.made` records synth's files under.
COMMAND = "synth"

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
    """Sides from :data:`MIN_SIDE` to :data:`~xtgeo.schema.MAX_SCENE_SIDE_PX`, and memory for the scene."""
    import psutil

    if height < MIN_SIDE or width < MIN_SIDE:
        raise ConfigError(f"scene size {height} x {width}: height and width must be at least {MIN_SIDE} pixels")
    if max(height, width) > MAX_SCENE_SIDE_PX:
        raise ConfigError(f"scene size {height} x {width}: no Sentinel-1 scene is larger than "
                          f"{MAX_SCENE_SIDE_PX:,} pixels a side (a full xView3 scene is ~29,400 x 24,400)")
    needed, available = height * width * BYTES_PER_PIXEL, psutil.virtual_memory().available
    if needed > available:
        raise ConfigError(f"scene size {height} x {width}: needs about {needed / 2**30:.1f} GiB of memory, "
                          f"{available / 2**30:.1f} GiB are available")


def _check_seed(seed: int) -> None:
    if not 0 <= seed < 2**63:
        raise ConfigError(f"seed {seed}: must be from 0 to 2**63 - 1")


def make_scene(
    out_dir: str | os.PathLike, *, height: int, width: int, seed: int,
    stats: LabelStats = XVIEW3_VALIDATION, on_rows: Progress | None = None,
) -> SyntheticScene:
    """Write ``out_dir/<scene_id>/`` (xView3 layout) and ``out_dir/shoreline/<scene_id>_shoreline.npy``.

    ``on_rows(n)`` is called as rows are done (twice ``height`` in all: land, then rasters).
    """
    _check_size(height, width)
    _check_seed(seed)
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
    with atomic_path(folder, own=SCENE_FILES) as tmp:
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


def dataset_files(out_dir: str | os.PathLike, scene_ids: list[str]) -> list[Path]:
    """Every path :func:`make_dataset` writes for these scenes (scene folders whole)."""
    out_dir = Path(out_dir)
    return [out_dir / LABELS_FILE, *(out_dir / i for i in scene_ids), *(shoreline_path(out_dir, i) for i in scene_ids)]


def prepare_output(out_dir: str | os.PathLike, planned: list[Path], overwrite: bool) -> None:
    """Make sure ``out_dir`` may take a dataset: empty or new; with ``overwrite``, what an earlier
    ``synth`` wrote there is removed, and no ``planned`` path may be a file it did not write."""
    out_dir = Path(out_dir)
    check_output(out_dir, folder=True)
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    if not overwrite:
        raise OutputError(f"{out_dir}: is not empty; choose an empty folder, or pass --overwrite to replace what "
                          f"`xtgeo synth` wrote there before (other files are kept)")
    check_nothing_foreign(out_dir, COMMAND, planned)
    remove_made(out_dir, COMMAND)


def make_dataset(
    out_dir: str | os.PathLike, *, scenes: int, height: int, width: int, seed: int,
    stats: LabelStats = XVIEW3_VALIDATION, on_rows: Progress | None = None, overwrite: bool = False,
) -> pd.DataFrame:
    """Write ``scenes`` scenes, their shorelines and ``out_dir/labels.csv``; return the labels.

    ``out_dir`` must be new or empty; with ``overwrite`` the files of an earlier ``synth`` there
    are replaced (see :mod:`xtgeo.made`) and any other file is kept, or is an error if it stands
    where a new file goes.
    """
    if scenes < 1:
        raise ConfigError(f"--scenes {scenes}: need at least one scene")
    _check_size(height, width)
    _check_seed(seed)
    seeds = scene_seeds(seed, scenes)
    out_dir = Path(out_dir)
    prepare_output(out_dir, dataset_files(out_dir, [scene_id_for(s) for s in seeds]), overwrite)
    make_folder(out_dir)
    tables = []
    for scene_seed in seeds:
        scene = make_scene(out_dir, height=height, width=width, seed=scene_seed, stats=stats, on_rows=on_rows)
        record_made(out_dir, COMMAND, [*(scene.folder / name for name in SCENE_FILES),
                                       shoreline_path(out_dir, scene.scene_id)])
        tables.append(scene.labels)
    labels = pd.concat(tables, ignore_index=True)
    write_labels(out_dir / LABELS_FILE, labels)
    record_made(out_dir, COMMAND, [out_dir / LABELS_FILE])
    return labels
