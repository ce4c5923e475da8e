"""The torchgeo dataset: crops match the scene and its labels; bad folders are named."""

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from tests.data.common import CROP, config
from xtgeo.config import load_config
from xtgeo.data.dataset import CropDataset, open_prepared
from xtgeo.data.normalize import model_input
from xtgeo.data.samplers import TrainSampler
from xtgeo.errors import ConfigError, SceneError
from xtgeo.scene.prepared import BANDS


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
        expected = model_input(dict(zip(("vv_db", "vh_db", "valid"), raw)), cfg.data)
        assert np.array_equal(sample["image"].numpy(), expected)
        table = data.labels[scene_index]
        inside = table[(table.detect_scene_row.between(row0, row0 + CROP - 1))
                       & (table.detect_scene_column.between(col0, col0 + CROP - 1)) & (table.confidence != "LOW")]
        assert len(inside) > 0  # object_fraction=1: every crop is centred near an object
        for r, c in zip(inside.detect_scene_row, inside.detect_scene_column):
            assert sample["center"][0, r - row0, c - col0] == 1.0


def test_bad_data_folders_and_validation_scenes_are_named(prepared_dataset, tmp_path):
    cfg = config()
    with pytest.raises(SceneError, match="no such data directory"):
        open_prepared(tmp_path / "missing", cfg.data)
    with pytest.raises(SceneError, match="no preprocessed scenes"):
        open_prepared(tmp_path, cfg.data)
    with pytest.raises(ConfigError, match="data.val_scenes: scene 'nope'"):
        open_prepared(prepared_dataset, load_config("configs/smoke.yaml", ["data.val_scenes=[nope]"]).data)
