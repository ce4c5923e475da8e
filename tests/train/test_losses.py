"""The training losses: masked terms equal their definitions over the known pixels, stay attached
when nothing is known, and trace without a host sync."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from xtgeo.data.targets import IGNORE
from xtgeo.train.losses import bce_dice, center_focal, relative_l1


def _maps(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 1, 40, 30, generator=gen, requires_grad=True)
    target = (torch.rand(2, 1, 40, 30, generator=gen) > 0.7).float()
    target[:, :, :12] = IGNORE
    lengths = torch.rand(2, 1, 40, 30, generator=gen) * 200
    lengths[:, :, 20:] = 0
    return logits, target, lengths


def test_bce_dice_is_bce_and_dice_over_the_known_pixels():
    logits, target, _ = _maps()
    known = target != IGNORE
    x, t = logits[known], target[known]
    prob = torch.sigmoid(x)
    dice = (2 * (prob * t).sum() + 1) / (prob.sum() + t.sum() + 1)
    expected = 0.7 * F.binary_cross_entropy_with_logits(x, t) + 0.3 * (1 - dice)
    torch.testing.assert_close(bce_dice(logits, target, dice_weight=0.3), expected)


def test_relative_l1_is_the_mean_relative_error_over_known_lengths():
    pred, _, lengths = _maps()
    known = lengths > 0
    expected = ((pred[known] - lengths[known]).abs() / lengths[known]).mean()
    loss = relative_l1(pred, lengths)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert torch.isfinite(pred.grad).all() and (pred.grad[:, :, 20:] == 0).all()


def test_nothing_known_gives_zero_with_a_gradient_path():
    logits, target, lengths = _maps()
    for loss in (bce_dice(logits, torch.full_like(target, IGNORE)), relative_l1(logits, torch.zeros_like(lengths))):
        assert loss.item() == 0 and loss.requires_grad
        loss.backward()
        assert torch.isfinite(logits.grad).all()


def test_losses_trace_as_one_graph_without_host_syncs():
    """A data-dependent branch or boolean indexing would break the graph (and stall a GPU step)."""
    logits, target, lengths = _maps()
    heat, weight = target.clamp(min=0), (target != IGNORE).float()

    def total(a, b, c):
        return bce_dice(a, b) + relative_l1(a, c) + center_focal(a, heat, weight)

    traced = torch.compile(total, backend="eager", fullgraph=True)
    torch.testing.assert_close(traced(logits, target, lengths), total(logits, target, lengths))
