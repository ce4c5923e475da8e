"""Model input: standardised dB, nodata as 0, the validity channel."""

import numpy as np
import pytest

from tests.data.common import config
from xtgeo.config import load_config
from xtgeo.data.normalize import model_input


def test_model_input_standardises_db_and_zeroes_nodata():
    cfg = config()
    bands = {"vv_db": np.array([[-18.0, 100.0], [np.nan, -24.0]]), "vh_db": np.full((2, 2), -26.0),
             "valid": np.array([[1, 1], [1, 0]])}
    x = model_input(bands, cfg.data)
    assert x.shape == (cfg.data.input_channels, 2, 2) and x.dtype == np.float32
    assert x[0, 0, 0] == 0.0 and x[0, 0, 1] == pytest.approx((cfg.data.db_max + 18) / 6)
    assert (x[:, 1, :] == 0).all()  # NaN and nodata pixels are 0 in every channel, validity too
    assert x[2].tolist() == [[1, 1], [0, 0]]
    assert model_input(bands, load_config("configs/smoke.yaml", ["data.validity_channel=false"]).data).shape[0] == 2
