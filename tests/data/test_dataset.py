"""Training data: targets at the right pixels, consistent augmentation, torchgeo crops, disjoint shards."""

import numpy as np
import pandas as pd
import pytest
import rasterio
import torch
from rasterio.windows import Window

from xtgeo.config import load_config
from xtgeo.data.augment import SYMMETRIES, augment_sample, dihedral
from xtgeo.data.dataset import CropDataset, TrainSampler, open_prepared, validation_items
from xtgeo.data.normalize import input_channels, model_input
from xtgeo.data.targets import IGNORE, crop_targets
from xtgeo.errors import ConfigError, SceneError
from xtgeo.scene.prepared import BANDS

CROP = 128


def config(**data):
    overrides = [f"data.{k}={v}" for k, v in {"crop_size": CROP, "val_scenes_count": 1, **data}.items()]
    return load_config("configs/smoke.yaml", overrides)


def labels(*rows):
    cols = ["detect_scene_row", "detect_scene_column", "is_vessel", "is_fishing", "vessel_length_m", "confidence"]
    frame = pd.DataFrame(rows, columns=cols)
    frame["is_vessel"] = frame["is_vessel"].astype("boolean")
    frame["is_fishing"] = frame["is_fishing"].astype("boolean")
    return frame


def test_targets_are_drawn_at_the_object_pixels():
    cfg = config().data
    table = labels((110, 215, True, None, 80.0, "HIGH"), (140, 150, False, False, None, "MEDIUM"))
    maps = crop_targets(table, row0=100, col0=200, shape=(64, 64), data_cfg=cfg)
    center = maps["center"]
    assert center[40, 0] == 0.0  # the second object lies 50 px left of the crop: nothing drawn
    peaks = np.argwhere(center == 1.0)
    assert peaks.tolist() == [[10, 15]]
    r = cfg.disc_radius_px
    assert maps["vessel"][10, 15] == 1.0 and maps["vessel"][10 + r, 15] == 1.0 and maps["vessel"][10 + r + 1, 15] == IGNORE
    assert maps["fishing"][10, 15] == IGNORE  # unknown fishing is ignored, not negative
    assert maps["length"][10, 15] == pytest.approx(80.0) and maps["length"][0, 0] == 0.0
    assert center[10, 15 + 2] == pytest.approx(np.exp(-4 / (2 * cfg.center_sigma_px**2)), rel=1e-5)
    assert (maps["center_weight"] == 1.0).all()


def test_object_just_outside_the_crop_leaves_its_tail_and_disc():
    maps = crop_targets(labels((100, 198, False, False, None, "HIGH")), 100, 200, (32, 32), config().data)
    assert 0 < maps["center"][0, 0] < 1 and maps["vessel"][0, 0] == 0.0 and maps["vessel"][0, 5] == IGNORE


@pytest.mark.parametrize("rule", ["ignore", "positive", "drop"])
def test_low_confidence_rule(rule):
    cfg = config(low_confidence=rule).data
    maps = crop_targets(labels((20, 20, True, True, 50.0, "LOW")), 0, 0, (48, 48), cfg)
    if rule == "positive":
        assert maps["center"][20, 20] == 1.0 and maps["vessel"][20, 20] == 1.0
    else:
        assert maps["center"].max() == 0.0 and (maps["vessel"] == IGNORE).all()
    assert (maps["center_weight"][20, 20] == 0.0) == (rule == "ignore")
    assert maps["center_weight"][0, 0] == 1.0


def test_every_symmetry_moves_image_and_targets_alike():
    image = torch.zeros(3, 16, 16)
    image[:, 2, 5] = 1.0
    sample = {"image": image, "center": image[:1].clone(), "vessel": image[1:2].clone()}
    seen = set()
    for code in range(SYMMETRIES):
        out = augment_sample(sample, code)
        assert torch.equal(out["image"][:1], out["center"]) and torch.equal(out["image"][1:2], out["vessel"])
        seen.add(tuple(torch.nonzero(out["center"][0])[0].tolist()))
    assert len(seen) == SYMMETRIES  # eight distinct placements: all flips and rotations
    assert torch.nonzero(dihedral(image[0], 2)).tolist() == [[13, 10]]  # 180°: (r, c) → (H-1-r, W-1-c)


def test_model_input_standardises_db_and_zeroes_nodata():
    cfg = config()
    bands = {"vv_db": np.array([[-18.0, 100.0], [np.nan, -24.0]]), "vh_db": np.full((2, 2), -26.0),
             "valid": np.array([[1, 1], [1, 0]])}
    x = model_input(bands, cfg)
    assert x.shape == (input_channels(cfg), 2, 2) and x.dtype == np.float32
    assert x[0, 0, 0] == 0.0 and x[0, 0, 1] == pytest.approx((cfg.data.db_max + 18) / 6)
    assert (x[:, 1, :] == 0).all()  # NaN and nodata pixels are 0 in every channel, validity too
    assert x[2].tolist() == [[1, 1], [0, 0]]
    assert model_input(bands, load_config("configs/smoke.yaml", ["data.validity_channel=false"])).shape[0] == 2


def test_crops_read_through_torchgeo_match_the_scene_and_its_labels(prepared_dataset):
    cfg = config(object_fraction=1.0, augment="false")
    data = open_prepared(prepared_dataset, cfg.data)
    items = list(TrainSampler(data, cfg.data, num_samples=4, seed=3))
    dataset = CropDataset(data, cfg)
    for scene_index, query, code in items:
        scene = data.scenes[scene_index]
        row0, col0 = scene.pixel_origin(query)
        sample = dataset[(scene_index, query, code)]
        with rasterio.open(scene.path) as src:
            window = Window(col0, row0, CROP, CROP)
            raw = src.read([BANDS.index(b) + 1 for b in ("vv_db", "vh_db", "valid")], window=window, boundless=True)
        expected = model_input(dict(zip(("vv_db", "vh_db", "valid"), raw)), cfg)
        assert np.array_equal(sample["image"].numpy(), expected)
        table = data.labels[scene_index]
        inside = table[(table.detect_scene_row.between(row0, row0 + CROP - 1))
                       & (table.detect_scene_column.between(col0, col0 + CROP - 1)) & (table.confidence != "LOW")]
        assert len(inside) > 0  # object_fraction=1: every crop is centred near an object
        for r, c in zip(inside.detect_scene_row, inside.detect_scene_column):
            assert sample["center"][0, r - row0, c - col0] == 1.0


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
    halves = validation_items(data, cfg.data, rank=0, world_size=2) + validation_items(data, cfg.data, rank=1, world_size=2)
    assert sorted(map(repr, halves)) == sorted(map(repr, items))


def test_bad_data_folders_and_validation_scenes_are_named(prepared_dataset, tmp_path):
    cfg = config()
    with pytest.raises(SceneError, match="no such data directory"):
        open_prepared(tmp_path / "missing", cfg.data)
    with pytest.raises(SceneError, match="no preprocessed scenes"):
        open_prepared(tmp_path, cfg.data)
    with pytest.raises(ConfigError, match="data.val_scenes: scene 'nope'"):
        open_prepared(prepared_dataset, load_config("configs/smoke.yaml", ["data.val_scenes=[nope]"]).data)
