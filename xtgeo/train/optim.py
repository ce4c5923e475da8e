"""Optimiser and learning-rate schedule: AdamW (no decay on norms and biases), warm-up + cosine."""

from __future__ import annotations

import math

import torch
from torch import nn

from xtgeo.config import TrainConfig


def warmup_cosine(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """LR multiplier at ``step``: linear warm-up to 1 over ``warmup`` steps, then cosine to ``min_ratio``
    at ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_optimizer(model: nn.Module,
                    train_cfg: TrainConfig) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over the trainable parameters (weight decay only on matrices/kernels) and its schedule.

    The schedule's length is ``train.steps`` from the config, whatever ``--max-steps`` says.
    On CUDA the update is fused into one kernel per parameter group (``fused=True``).
    """
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": train_cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=train_cfg.lr, betas=tuple(train_cfg.betas),
        fused=all(p.is_cuda for p in decay + no_decay) or None,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: warmup_cosine(step, train_cfg.steps, train_cfg.warmup_steps, train_cfg.min_lr_ratio),
    )
    return optimizer, schedule
