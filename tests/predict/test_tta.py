"""Test-time augmentation and ensembles: views map back pixel-exactly, outputs are averaged after
the activations, a real model's maps change and keep their shapes."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.paths import SMOKE_CONFIG
from xtgeo.config import load_config
from xtgeo.errors import XtgeoError
from xtgeo.models import build_model
from xtgeo.predict.inference import TTA_VIEWS, Predictor, WindowBatch, from_view, to_view
from xtgeo.predict.windows import GridWindow
from xtgeo.tasks.xview3 import HEAD_NAMES as HEADS


def test_every_view_is_undone_exactly_on_non_square_windows():
    image = torch.randn(2, 3, 5, 7)
    for view in TTA_VIEWS["d4"]:
        turned = to_view(image, view)
        assert turned.shape[-2:] == ((7, 5) if view[0] % 2 else (5, 7))
        assert torch.equal(from_view(turned, view), image)
    square = torch.randn(5, 5)
    views = [to_view(square, view) for view in TTA_VIEWS["d4"]]
    assert all(not torch.equal(a, b) for a, b in itertools.combinations(views, 2))  # 8 different views
    assert all(set(TTA_VIEWS[name]) <= set(TTA_VIEWS["d4"]) for name in TTA_VIEWS)


class Conv(nn.Module):
    """One linear convolution for every head: the length head is left linear by the activations."""

    def __init__(self, kernel: torch.Tensor):
        super().__init__()
        self.kernel = nn.Parameter(kernel, requires_grad=False)

    def forward(self, x):
        out = F.conv2d(x, self.kernel, padding=self.kernel.shape[-1] // 2)
        return {head: out[:, i:i + 1] for i, head in enumerate(HEADS)}


def _outputs(predictor: Predictor, x: torch.Tensor) -> dict[str, torch.Tensor]:
    windows = [GridWindow(0, 0, x.shape[-2], x.shape[-1], i, 0) for i in range(len(x))]
    out = dict(zip(windows, (o for _, o in predictor.forward(WindowBatch(windows, x, torch.ones(x.shape[0],
                                                                                             *x.shape[-2:]))))))
    return {h: torch.stack([out[w][h] for w in windows]) for h in HEADS}


@pytest.mark.parametrize("tta", ["rot180", "flips", "d4"])
def test_tta_of_a_convolution_is_the_convolution_with_the_symmetrised_kernel(tta):
    """Each view's output is put back on the right pixels: for a convolution (zero padding), the
    average over a group of views is the convolution with the kernel averaged over that group."""
    torch.manual_seed(0)
    kernel = torch.randn(len(HEADS), 2, 5, 5)
    x = torch.randn(2, 2, 12, 17)  # not square: the quarter turns see 17 x 12 windows
    averaged = _outputs(Predictor(Conv(kernel), "cpu", tta=tta), x)
    views = {"rot180": [(0, False), (2, False)], "flips": [(0, False), (0, True), (2, False), (2, True)],
             "d4": [(k, m) for k in range(4) for m in (False, True)]}[tta]
    symmetric = torch.stack([from_view(kernel, view) for view in views]).mean(0)  # view ∘ conv ∘ view⁻¹
    expected = F.conv2d(x, symmetric, padding=2)[:, 3]  # the length head: no activation
    torch.testing.assert_close(averaged["length"], expected, atol=1e-5, rtol=1e-5)
    single = _outputs(Predictor(Conv(kernel), "cpu"), x)
    assert not torch.allclose(single["length"], averaged["length"], atol=1e-3)


def test_ensemble_averages_probabilities_not_logits():
    torch.manual_seed(1)
    models = [Conv(torch.randn(len(HEADS), 2, 3, 3) * 3) for _ in range(2)]
    x = torch.randn(1, 2, 9, 11)
    both = _outputs(Predictor(models, "cpu"), x)
    each = [_outputs(Predictor(m, "cpu"), x) for m in models]
    for head in HEADS:
        torch.testing.assert_close(both[head], (each[0][head] + each[1][head]) / 2)
    assert not torch.allclose(both["center"], torch.sigmoid((torch.logit(each[0]["center"]) +
                                                             torch.logit(each[1]["center"])) / 2), atol=1e-3)


def test_tta_changes_a_real_models_maps_and_keeps_their_shapes():
    torch.manual_seed(0)
    model = build_model(load_config(SMOKE_CONFIG).model)
    x = torch.randn(1, 3, 96, 128)
    single, tta = _outputs(Predictor(model, "cpu"), x), _outputs(Predictor(model, "cpu", tta="d4"), x)
    for head in HEADS:
        assert tta[head].shape == single[head].shape == (1, 96, 128)
        assert torch.isfinite(tta[head]).all() and not torch.allclose(tta[head], single[head], atol=1e-4)
    assert ((tta["center"] >= 0) & (tta["center"] <= 1)).all()


def test_unknown_views_are_refused():
    with pytest.raises(XtgeoError, match="--tta-views spin: not one of none, rot180, flips, d4"):
        Predictor(Conv(torch.zeros(4, 2, 1, 1)), "cpu", tta="spin")
