"""Checkpoints are read with ``torch.load(weights_only=True)``: a poisoned one cannot run code."""

from __future__ import annotations

import pytest
import torch

from tests.hostile import payloads
from xtgeo.errors import XtgeoError
from xtgeo.train.checkpoint import load_checkpoint


@pytest.mark.parametrize("how", ["os.system", "eval", "pathlib"])
def test_a_poisoned_checkpoint_cannot_run_code(tmp_path, how):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "config": payloads(marker)[how]}, path)
    with pytest.raises(XtgeoError, match=f"{path}: not a readable checkpoint") as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)
    assert not marker.exists()
