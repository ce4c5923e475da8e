"""Samplers: disjoint, reproducible shards; crops with enough valid pixels; a validation grid."""

import numpy as np

from tests.data.common import CROP, config
from xtgeo.data.dataset import open_prepared
from xtgeo.data.samplers import TrainSampler, validation_items


def test_shards_are_disjoint_and_reproducible(prepared_dataset):
    cfg = config()
    data = open_prepared(prepared_dataset, cfg.data)
    shards = [list(TrainSampler(data, cfg.data, 6, seed=1, epoch=2, rank=r, world_size=3)) for r in range(3)]
    everything = TrainSampler(data, cfg.data, 6, seed=1, epoch=2, world_size=3).global_items()
    assert [everything[i] for i in range(0, 18, 3)] == shards[0]
    assert sorted(range(18)) == sorted(i for r in range(3) for i in range(r, 18, 3))  # each index dealt once
    for r in range(3):
        assert shards[r] == everything[r::3] and len(shards[r]) == 6
    assert shards[1] == list(TrainSampler(data, cfg.data, 6, seed=1, epoch=2, rank=1, world_size=3))
    assert shards[1] != list(TrainSampler(data, cfg.data, 6, seed=1, epoch=3, rank=1, world_size=3))
    assert shards[1][2:] == list(TrainSampler(data, cfg.data, 6, seed=1, epoch=2, rank=1, world_size=3, skip=2))
    assert all(data.scenes[s].scene_id not in cfg.data.val_scenes and s in data.train_ids for s, _, _ in everything)


def test_random_crops_keep_enough_valid_pixels(prepared_dataset):
    cfg = config(object_fraction=0.0, min_valid_fraction=0.9)
    data = open_prepared(prepared_dataset, cfg.data)
    for scene_index, query, _ in TrainSampler(data, cfg.data, 8, seed=0):
        scene = data.scenes[scene_index]
        assert scene.valid_fraction(*scene.pixel_origin(query), CROP) >= 0.9


def test_validation_grid_covers_the_validation_scenes_once(prepared_dataset):
    cfg = config()
    data = open_prepared(prepared_dataset, cfg.data)
    items = validation_items(data, cfg.data)
    (val,) = data.val_ids
    scene = data.scenes[val]
    covered = np.zeros((scene.height, scene.width), int)
    for index, query, _ in items:
        assert index == val
        r, c = scene.pixel_origin(query)
        covered[max(r, 0) : r + CROP, max(c, 0) : c + CROP] += 1
    assert (covered >= 1).all()
    halves = validation_items(data, cfg.data, rank=0, world_size=2) + validation_items(data, cfg.data, rank=1,
                                                                                       world_size=2)
    assert sorted(map(repr, halves)) == sorted(map(repr, items))
