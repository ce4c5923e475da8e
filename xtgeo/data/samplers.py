"""Which crops training and validation read: training draws per epoch, validation grid crops.

- :class:`ObjectCrops` draws random crops of one scene, a fraction of them centred near labelled
  objects, the rest anywhere with enough valid pixels;
- :class:`TrainSampler` mixes the scenes, draws everything for an epoch from ``(seed, epoch)``
  and deals the samples round-robin to the ranks, so shards are disjoint and reproducible;
- :func:`validation_items` tiles the validation scenes with torchgeo's ``GridGeoSampler``.

Each sample is an :data:`~xtgeo.data.dataset.Item` that :class:`~xtgeo.data.dataset.CropDataset` reads.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import torch
from torch.utils.data import Sampler
from torchgeo.samplers import GridGeoSampler

from xtgeo.config import DataConfig
from xtgeo.data.augment import SYMMETRIES
from xtgeo.data.dataset import Item, PreparedData, PreparedScene

MAX_TRIES = 20


class ObjectCrops:
    """Random square crops of one scene: a fraction centred near labelled objects, the rest
    anywhere with at least ``min_valid`` valid pixels. Draws come from the caller's generator."""

    def __init__(self, scene: PreparedScene, labels: pd.DataFrame, size: int, object_fraction: float,
                 min_valid: float) -> None:
        self.scene, self.size = scene, size
        self.object_fraction, self.min_valid = object_fraction, min_valid
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


class TrainSampler(Sampler[Item]):
    """Training samples of one rank for one epoch, reproducible from ``(seed, epoch)``.

    All ranks draw the same global sequence of ``num_samples * world_size`` crops (scene chosen
    in proportion to its valid area, crop by :class:`ObjectCrops`, a random symmetry when
    ``augment``) and rank ``r`` takes samples ``r, r + world_size, ...``: the shards are disjoint.
    ``skip`` leaves out the first samples of this rank (used when resuming mid-epoch).
    """

    def __init__(self, data: PreparedData, data_cfg: DataConfig, num_samples: int, seed: int, epoch: int = 0,
                 rank: int = 0, world_size: int = 1, skip: int = 0) -> None:
        self.data, self.num_samples, self.seed, self.epoch = data, num_samples, seed, epoch
        self.rank, self.world_size, self.skip, self.augment = rank, world_size, skip, data_cfg.augment
        self.samplers = {
            i: ObjectCrops(data.scenes[i], data.labels[i], data_cfg.crop_size, data_cfg.object_fraction,
                                 data_cfg.min_valid_fraction)
            for i in data.train_ids
        }
        scenes = [data.scenes[i] for i in data.train_ids]
        weights = [scene.coarse_valid.mean() * scene.height * scene.width for scene in scenes]
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


def validation_items(data: PreparedData, data_cfg: DataConfig, rank: int = 0, world_size: int = 1) -> list[Item]:
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
