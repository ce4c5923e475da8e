"""Training targets: drawn at the object pixels, with the LOW-confidence rule."""

import numpy as np
import pandas as pd
import pytest

from tests.data.common import config
from xtgeo.data.targets import IGNORE, crop_targets


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
    vessel = maps["vessel"]
    assert vessel[10, 15] == 1.0 and vessel[10 + r, 15] == 1.0 and vessel[10 + r + 1, 15] == IGNORE
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
