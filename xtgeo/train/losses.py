"""xView3 training losses: centre heatmap (focal or MSE), vessel/fishing (BCE + dice with
ignore), length (relative L1); weighted by the ``loss`` section of the config.

Every term is computed in float32 and always stays attached to the graph (an empty mask gives a
zero that still has a gradient path), so every head receives gradients on every step (DDP needs it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from xtgeo.config import LossConfig
from xtgeo.data.targets import IGNORE
from xtgeo.tasks.xview3 import HEADS, PEAK_LOSS_MASK


def center_focal(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, alpha: float = 2.0,
                 beta: float = 4.0) -> torch.Tensor:
    """Penalty-reduced focal loss (CenterNet) normalised by the number of object centres."""
    pos = target >= 1.0 - 1e-4
    prob = torch.sigmoid(logits)
    pos_term = (1 - prob) ** alpha * F.logsigmoid(logits)
    neg_term = (1 - target) ** beta * prob**alpha * F.logsigmoid(-logits)
    loss = -torch.where(pos, pos_term, neg_term) * weight
    return loss.sum() / (pos & (weight > 0)).sum().clamp(min=1)


def center_mse(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean squared error between the sigmoid heatmap and the Gaussian target."""
    return ((torch.sigmoid(logits) - target) ** 2 * weight).sum() / weight.sum().clamp(min=1)


def bce_dice(logits: torch.Tensor, target: torch.Tensor, dice_weight: float = 0.5) -> torch.Tensor:
    """``(1 - dice_weight)·BCE + dice_weight·(1 - dice)`` over the pixels whose target is not IGNORE
    (zero when there are none). Masked by multiplication, so the GPU never waits for the host."""
    mask = (target != IGNORE).to(logits.dtype)
    known = target * mask
    bce = (F.binary_cross_entropy_with_logits(logits, known, reduction="none") * mask).sum() / mask.sum().clamp(min=1)
    prob = torch.sigmoid(logits) * mask
    dice = (2 * (prob * known).sum() + 1.0) / (prob.sum() + known.sum() + 1.0)
    return (1 - dice_weight) * bce + dice_weight * (1 - dice)


def relative_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of |pred - target| / target over the pixels with a known length (target > 0); zero
    when there are none."""
    known = target > 0
    error = (pred - target).abs() / torch.where(known, target, 1.0)
    return torch.where(known, error, 0.0).sum() / known.sum().clamp(min=1)


def xview3_loss(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
                cfg: LossConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total weighted loss and its (detached) parts, one per head of :mod:`xtgeo.tasks.xview3`;
    ``batch``'s target maps may come in the compact dtypes of :mod:`xtgeo.data.transfer`."""
    out = {k: v.float() for k, v in outputs.items()}
    mask = batch[PEAK_LOSS_MASK].float()
    parts = {}
    for head in HEADS:
        logits, target = out[head.name], batch[head.name].float()
        if head.loss == "center" and cfg.center == "focal":
            parts[head.name] = center_focal(logits, target, mask, cfg.focal_alpha, cfg.focal_beta)
        elif head.loss == "center":
            parts[head.name] = center_mse(logits, target, mask)
        elif head.loss == "bce_dice":
            parts[head.name] = bce_dice(logits, target, cfg.dice_weight)
        else:
            parts[head.name] = relative_l1(logits, target)
    total = sum(getattr(cfg, head.weight_key) * parts[head.name] for head in HEADS)
    return total, {name: value.detach() for name, value in parts.items()}
