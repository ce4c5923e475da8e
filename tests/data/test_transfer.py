"""Samples travel and stay in compact dtypes; the loss reads them as the float32 maps they were."""

from __future__ import annotations

import pytest
import torch

from xtgeo.config import DataConfig, LossConfig
from xtgeo.data.targets import IGNORE, crop_targets
from xtgeo.data.transfer import compact, device_batches, to_device
from xtgeo.tasks.xview3 import HEADS, PEAK_LOSS_MASK
from xtgeo.train.losses import xview3_loss


def _sample(seed: int) -> dict[str, torch.Tensor]:
    import pandas as pd

    gen = torch.Generator().manual_seed(seed)
    labels = pd.DataFrame({"detect_scene_row": [10.0, 40.0, 70.0], "detect_scene_column": [12.0, 50.0, 90.0],
                           "is_vessel": [True, None, False], "is_fishing": [False, None, True],
                           "vessel_length_m": [73.4, None, 211.9], "confidence": ["HIGH", "LOW", "MEDIUM"]})
    maps = crop_targets(labels, 0, 0, (96, 128), DataConfig())
    image = torch.randn(3, 96, 128, generator=gen) * 4
    return {"image": image, **{k: torch.from_numpy(v)[None] for k, v in maps.items()}}


def test_compact_samples_are_exact_where_it_matters_in_under_half_the_bytes():
    sample = _sample(0)
    small = compact(sample, torch.float16)
    assert small["vessel"].dtype == torch.int8 and small[PEAK_LOSS_MASK].dtype == torch.uint8
    assert small["center"].dtype == small["length"].dtype == small["image"].dtype == torch.float16
    back = {key: value.float() for key, value in to_device(small, torch.device("cpu")).items()}
    for key in ("vessel", "fishing", PEAK_LOSS_MASK):
        assert torch.equal(back[key], sample[key]), key
    assert (back["vessel"] == IGNORE).any() and (back[PEAK_LOSS_MASK] == 0).any()  # LOW object: masked
    assert torch.equal(back["center"] == 1.0, sample["center"] == 1.0)  # the peaks the focal loss finds
    torch.testing.assert_close(back["center"], sample["center"], rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(back["length"], sample["length"], rtol=5e-4, atol=0)
    torch.testing.assert_close(back["image"], sample["image"], rtol=1e-3, atol=1e-3)
    nbytes = sum(v.numel() * v.element_size() for v in small.values())
    assert nbytes * 2.4 <= sum(v.numel() * v.element_size() for v in sample.values())


def _devices():
    return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", _devices(), ids=str)
def test_device_batches_arrive_in_order_unchanged(device):
    batches = [compact(_sample(seed)) for seed in range(4)]
    moved = list(device_batches(iter(batches), device))
    assert len(moved) == 4
    for original, arrived in zip(batches, moved):
        for key, value in original.items():
            assert arrived[key].device.type == device.type and arrived[key].dtype == value.dtype
            assert torch.equal(arrived[key].cpu(), value), key


def test_the_loss_of_a_compact_batch_is_that_of_its_float32_maps():
    sample = {key: value[None] for key, value in _sample(1).items()}  # a batch of one
    small = compact(sample, torch.float16)
    gen = torch.Generator().manual_seed(2)
    outputs = {head.name: torch.randn(1, 1, 96, 128, generator=gen).to(torch.bfloat16) for head in HEADS}
    exact, exact_parts = xview3_loss(outputs, {k: v.float() for k, v in small.items()}, LossConfig())
    loss, parts = xview3_loss(outputs, small, LossConfig())
    assert torch.equal(loss, exact) and loss.dtype == torch.float32
    assert all(torch.equal(parts[name], exact_parts[name]) for name in exact_parts)
    original, _ = xview3_loss(outputs, sample, LossConfig())
    torch.testing.assert_close(loss, original, rtol=2e-3, atol=0)
