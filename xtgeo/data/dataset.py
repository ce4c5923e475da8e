"""Training and validation crops of preprocessed scenes through torchgeo.

Each ``PREP_DIR/<scene_id>/scene.tif`` is one torchgeo :class:`~torchgeo.datasets.RasterDataset`
in the scene's own CRS (one dataset per scene: labels are per scene, and scenes that overlap must
not be merged). A sample is named by ``(scene index, GeoSlice, symmetry code)``:

- :class:`ObjectCropSampler` (a torchgeo ``GeoSampler``) draws random crops of one scene, a
  fraction of them centred near labelled objects, the rest anywhere with enough valid pixels;
- :class:`TrainSampler` mixes the scenes, draws everything for an epoch from ``(seed, epoch)``
  and deals the samples round-robin to the ranks, so shards are disjoint and reproducible;
- :func:`validation_items` tiles the validation scenes with torchgeo's ``GridGeoSampler``;
- :class:`CropDataset` reads a crop, normalises it, draws its targets and applies the symmetry.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import torch
from rasterio.enums import Resampling
from torch.utils.data import Dataset, Sampler
from torchgeo.datasets import RasterDataset
from torchgeo.samplers import GeoSampler, GridGeoSampler

from xtgeo.atomic import is_temporary
from xtgeo.data.augment import SYMMETRIES, augment_sample
from xtgeo.data.normalize import model_input
from xtgeo.data.targets import crop_targets
from xtgeo.errors import ConfigError, SceneError
from xtgeo.scene.prepared import BANDS, LABELS_FILE, SCENE_FILE, band_index

#: The bands a crop reads (what :func:`~xtgeo.data.normalize.model_input` needs).
INPUT_BANDS = ("vv_db", "vh_db", "valid")
#: Longest side of the coarse validity mask used to judge crops without reading them.
COARSE_SIDE = 1024
MAX_TRIES = 20

Item = tuple[int, tuple[slice, slice, slice], int]


class PreparedScene(RasterDataset):
    """One preprocessed ``scene.tif`` (bands :data:`BANDS`) as a torchgeo raster dataset."""

    filename_glob = SCENE_FILE
    all_bands = BANDS
    separate_files = False

    def __init__(self, path: Path) -> None:
        with rasterio.open(path) as src:
            if tuple(src.descriptions) != BANDS:
                raise SceneError(f"{path}: bands {src.descriptions} are not the preprocessed bands {BANDS}")
            if src.transform.b or src.transform.d:
                raise SceneError(f"{path}: rotated grids are not supported")
            self.transform, self.height, self.width = src.transform, src.height, src.width
            step = max(1, math.ceil(max(src.height, src.width) / COARSE_SIDE))
            shape = (math.ceil(src.height / step), math.ceil(src.width / step))
            coarse = src.read(band_index("valid"), out_shape=shape, resampling=Resampling.average)
        super().__init__(paths=[str(path)], crs=src.crs, res=(abs(src.transform.a), abs(src.transform.e)),
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


def open_prepared(prep_dir: str | Path, data_cfg: Any) -> PreparedData:
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
    all_labels = pd.read_parquet(labels_path)
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


class ObjectCropSampler(GeoSampler):
    """Random square crops of one scene: a fraction centred near labelled objects, the rest
    anywhere with at least ``min_valid`` valid pixels. Draws come from the given generator."""

    def __init__(self, scene: PreparedScene, labels: pd.DataFrame, size: int, object_fraction: float,
                 min_valid: float, length: int = 1, generator: torch.Generator | None = None) -> None:
        super().__init__(scene)
        self.scene, self.size, self.length = scene, size, length
        self.object_fraction, self.min_valid, self.generator = object_fraction, min_valid, generator
        self.objects = labels[["detect_scene_row", "detect_scene_column"]].to_numpy(float)

    def _uniform(self, gen: torch.Generator, low: int, high: int) -> int:
        return low + int(torch.randint(0, high - low + 1, (1,), generator=gen))

    def _origin_range(self, extent: int) -> tuple[int, int]:
        """Allowed top-left offsets along an axis (negative when the scene is smaller than a crop)."""
        lo, hi = sorted((0, extent - self.size))
        return lo, hi

    def draw(self, gen: torch.Generator) -> tuple[int, int]:
        """Top-left (row, col) of one crop."""
        (rlo, rhi), (clo, chi) = self._origin_range(self.scene.height), self._origin_range(self.scene.width)
        if len(self.objects) and float(torch.rand(1, generator=gen)) < self.object_fraction:
            r, c = self.objects[int(torch.randint(0, len(self.objects), (1,), generator=gen))]
            jitter = self.size // 4
            row = int(r) - self.size // 2 + self._uniform(gen, -jitter, jitter)
            col = int(c) - self.size // 2 + self._uniform(gen, -jitter, jitter)
            return min(max(row, rlo), rhi), min(max(col, clo), chi)
        best, best_valid = (rlo, clo), -1.0
        for _ in range(MAX_TRIES):
            origin = (self._uniform(gen, rlo, rhi), self._uniform(gen, clo, chi))
            valid = self.scene.valid_fraction(*origin, self.size)
            if valid >= self.min_valid:
                return origin
            if valid > best_valid:
                best, best_valid = origin, valid
        return best

    def __iter__(self) -> Iterator[tuple[slice, slice, slice]]:
        gen = self.generator or torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
        for _ in range(self.length):
            yield self.scene.geoslice(*self.draw(gen), self.size)

    def __len__(self) -> int:
        return self.length


class TrainSampler(Sampler[Item]):
    """Training samples of one rank for one epoch, reproducible from ``(seed, epoch)``.

    All ranks draw the same global sequence of ``num_samples * world_size`` crops (scene chosen
    in proportion to its valid area, crop by :class:`ObjectCropSampler`, a random symmetry when
    ``augment``) and rank ``r`` takes samples ``r, r + world_size, ...``: the shards are disjoint.
    ``skip`` leaves out the first samples of this rank (used when resuming mid-epoch).
    """

    def __init__(self, data: PreparedData, data_cfg: Any, num_samples: int, seed: int, epoch: int = 0,
                 rank: int = 0, world_size: int = 1, skip: int = 0) -> None:
        self.data, self.num_samples, self.seed, self.epoch = data, num_samples, seed, epoch
        self.rank, self.world_size, self.skip, self.augment = rank, world_size, skip, data_cfg.augment
        self.samplers = {
            i: ObjectCropSampler(data.scenes[i], data.labels[i], data_cfg.crop_size, data_cfg.object_fraction,
                                 data_cfg.min_valid_fraction)
            for i in data.train_ids
        }
        weights = [data.scenes[i].coarse_valid.mean() * data.scenes[i].height * data.scenes[i].width for i in data.train_ids]
        self.weights = torch.tensor(weights, dtype=torch.float64) + 1e-9

    def global_items(self) -> list[Item]:
        """The whole epoch's sequence, identical on every rank."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        items = []
        for _ in range(self.num_samples * self.world_size):
            scene = self.data.train_ids[int(torch.multinomial(self.weights, 1, generator=gen))]
            origin = self.samplers[scene].draw(gen)
            code = int(torch.randint(0, SYMMETRIES, (1,), generator=gen)) if self.augment else 0
            items.append((scene, self.data.scenes[scene].geoslice(*origin, self.samplers[scene].size), code))
        return items

    def __iter__(self) -> Iterator[Item]:
        return iter(self.global_items()[self.rank :: self.world_size][self.skip :])

    def __len__(self) -> int:
        return max(self.num_samples - self.skip, 0)


def validation_items(data: PreparedData, data_cfg: Any, rank: int = 0, world_size: int = 1) -> list[Item]:
    """Grid crops (torchgeo ``GridGeoSampler``) over the validation scenes, dealt to ``rank``."""
    stride = max(1, int(data_cfg.crop_size * data_cfg.val_stride_fraction))
    items: list[Item] = []
    for i in data.val_ids:
        scene = data.scenes[i]
        size = min(data_cfg.crop_size, scene.height, scene.width)
        for query in GridGeoSampler(scene, size=size, stride=min(stride, size)):
            row, col = scene.pixel_origin(query)
            items.append((i, scene.geoslice(row, col, size), 0))
    return items[rank::world_size]


class CropDataset(Dataset):
    """Reads a crop ``(scene, GeoSlice, symmetry)`` into ``image`` (C, H, W) and target maps (1, H, W)."""

    def __init__(self, data: PreparedData, cfg: Any) -> None:
        self.data, self.cfg = data, cfg

    def __getitem__(self, item: Item) -> dict[str, torch.Tensor]:
        scene_index, query, code = item
        scene = self.data.scenes[scene_index]
        raw = scene[query]["image"].numpy()
        bands = dict(zip(scene.bands, raw))
        row0, col0 = scene.pixel_origin(query)
        targets = crop_targets(self.data.labels[scene_index], row0, col0, raw.shape[1:], self.cfg.data)
        sample = {"image": torch.from_numpy(model_input(bands, self.cfg))}
        sample.update({k: torch.from_numpy(v)[None] for k, v in targets.items()})
        return augment_sample(sample, code)


def crop_regions(shape: Sequence[int], region_size: int) -> int:
    """Number of regions the model nests a (…, H, W) crop into."""
    return math.ceil(shape[-2] / region_size) * math.ceil(shape[-1] / region_size)
