"""Training and validation crops of preprocessed scenes through torchgeo.

Each ``PREP_DIR/<scene_id>/scene.tif`` is one torchgeo :class:`~torchgeo.datasets.RasterDataset`
in the scene's own CRS (one dataset per scene: labels are per scene, and scenes that overlap must
not be merged). A sample is an :data:`Item`, ``(scene index, GeoSlice, symmetry code)``, drawn by
:mod:`xtgeo.data.samplers`; :class:`CropDataset` reads a crop, normalises it, draws its targets
and applies the symmetry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rasterio.enums import Resampling
from torch.utils.data import Dataset
from torchgeo.datasets import RasterDataset

from xtgeo.atomic import is_temporary
from xtgeo.config import Config, DataConfig
from xtgeo.data.augment import augment_sample
from xtgeo.data.normalize import model_input
from xtgeo.data.targets import crop_targets
from xtgeo.data.transfer import compact
from xtgeo.errors import ConfigError, SceneError, file_errors
from xtgeo.scene import prepared
from xtgeo.scene.prepared import BANDS, LABELS_FILE, SCENE_FILE
from xtgeo.schema import read_labels_parquet

#: The bands a crop reads (what :func:`~xtgeo.data.normalize.model_input` needs).
INPUT_BANDS = ("vv_db", "vh_db", "valid")
#: Longest side of the coarse validity mask used to judge crops without reading them.
COARSE_SIDE = 1024

#: A sample: (scene index, torchgeo GeoSlice, symmetry code of :func:`~xtgeo.data.augment.dihedral`).
Item = tuple[int, tuple[slice, slice, slice], int]


class PreparedScene(RasterDataset):
    """One preprocessed ``scene.tif`` (bands :data:`BANDS`) as a torchgeo raster dataset."""

    filename_glob = SCENE_FILE
    all_bands = BANDS
    separate_files = False

    def __init__(self, path: Path) -> None:
        scene = prepared.open_scene(Path(path).parent)
        if scene.transform.b or scene.transform.d:
            raise SceneError(f"{path}: rotated grids are not supported")
        self.transform, self.height, self.width = scene.transform, scene.height, scene.width
        step = max(1, math.ceil(max(scene.height, scene.width) / COARSE_SIDE))
        shape = (math.ceil(scene.height / step), math.ceil(scene.width / step))
        with file_errors(path, what="unreadable or truncated scene"):
            coarse = prepared.read_bands(scene, ("valid",), out_shape=shape, resampling=Resampling.average)["valid"]
        super().__init__(paths=[str(path)], crs=scene.crs, res=(abs(scene.transform.a), abs(scene.transform.e)),
                         bands=INPUT_BANDS)
        self.path, self.scene_id = Path(path), Path(path).parent.name
        self.coarse_valid, self.coarse_step = (coarse > 0.5).astype(np.float32), step

    def geoslice(self, row0: int, col0: int, size: int) -> tuple[slice, slice, slice]:
        """The torchgeo query for the ``size``-pixel square whose top-left scene pixel is (row0, col0)."""
        t = self.transform
        xmin, ymax = t @ (col0, row0)
        xmax, ymin = t @ (col0 + size, row0 + size)
        times = self.bounds[2]
        return slice(xmin, xmax, abs(t.a)), slice(ymin, ymax, abs(t.e)), slice(times.start, times.stop)

    def pixel_origin(self, query: tuple[slice, slice, slice]) -> tuple[int, int]:
        """Scene (row, col) of a query's top-left pixel."""
        col, row = ~self.transform @ (query[0].start, query[1].stop)
        return int(round(row)), int(round(col))

    def valid_fraction(self, row0: int, col0: int, size: int) -> float:
        """Approximate share of valid pixels in a crop, from the coarse validity mask."""
        s = self.coarse_step
        r0, c0 = max(row0 // s, 0), max(col0 // s, 0)
        block = self.coarse_valid[r0 : max((row0 + size) // s, r0 + 1), c0 : max((col0 + size) // s, c0 + 1)]
        return float(block.sum()) / max(math.ceil(size / s) ** 2, 1)


@dataclass
class PreparedData:
    """The scenes and labels of a ``PREP_DIR``, split into training and validation scenes."""

    scenes: list[PreparedScene]
    labels: list[pd.DataFrame]
    train_ids: list[int]
    val_ids: list[int]


def open_prepared(prep_dir: str | Path, data_cfg: DataConfig) -> PreparedData:
    """Open every scene of ``prep_dir`` with its labels; split off the validation scenes."""
    prep_dir = Path(prep_dir)
    if not prep_dir.is_dir():
        raise SceneError(f"{prep_dir}: no such data directory (run `xtgeo preprocess` first)")
    paths = [p for p in sorted(prep_dir.glob(f"*/{SCENE_FILE}")) if not is_temporary(p.parent)]
    if not paths:
        raise SceneError(f"{prep_dir}: no preprocessed scenes (expected {prep_dir}/<scene_id>/scene.tif)")
    labels_path = prep_dir / LABELS_FILE
    if not labels_path.is_file():
        raise SceneError(f"{labels_path}: missing; training needs labels (preprocess with --labels)")
    all_labels = read_labels_parquet(labels_path)
    scenes = [PreparedScene(p) for p in paths]
    by_scene = dict(tuple(all_labels.groupby(all_labels["scene_id"].astype(str))))
    labels = [by_scene.get(s.scene_id, all_labels.iloc[:0]).reset_index(drop=True) for s in scenes]
    ids = [s.scene_id for s in scenes]
    wanted = list(data_cfg.val_scenes) or (ids[-data_cfg.val_scenes_count :] if data_cfg.val_scenes_count else [])
    for scene_id in wanted:
        if scene_id not in ids:
            raise ConfigError(f"data.val_scenes: scene {scene_id!r} is not in {prep_dir}")
    val = [i for i, s in enumerate(ids) if s in wanted]
    train = [i for i in range(len(ids)) if i not in val]
    if not train:
        raise ConfigError(f"data.val_scenes: leaves no training scene in {prep_dir}")
    return PreparedData(scenes, labels, train, val)


class CropDataset(Dataset):
    """Reads a crop ``(scene, GeoSlice, symmetry)`` into ``image`` (C, H, W) and target maps (1, H, W),
    in the compact dtypes of :func:`xtgeo.data.transfer.compact` (the image in ``image_dtype``)."""

    def __init__(self, data: PreparedData, cfg: Config, image_dtype: torch.dtype = torch.float32) -> None:
        self.data, self.cfg, self.image_dtype = data, cfg, image_dtype

    def __getitem__(self, item: Item) -> dict[str, torch.Tensor]:
        scene_index, query, code = item
        scene = self.data.scenes[scene_index]
        row0, col0 = scene.pixel_origin(query)
        with file_errors(scene.path, what=f"cannot read the crop at row {row0}, col {col0}"):
            raw = scene[query]["image"].numpy()
        bands = dict(zip(scene.bands, raw))
        targets = crop_targets(self.data.labels[scene_index], row0, col0, raw.shape[1:], self.cfg.data)
        sample = {"image": torch.from_numpy(model_input(bands, self.cfg.data))}
        sample.update({k: torch.from_numpy(v)[None] for k, v in targets.items()})
        return compact(augment_sample(sample, code), self.image_dtype)


def crop_regions(shape: Sequence[int], region_size: int) -> int:
    """Number of regions the model nests a (…, H, W) crop into."""
    return math.ceil(shape[-2] / region_size) * math.ceil(shape[-1] / region_size)
