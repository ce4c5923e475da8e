"""Output heads: one dense map per head of the xView3 task (:mod:`xtgeo.tasks.xview3`)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from xtgeo.tasks.xview3 import HEAD_NAMES, HEADS, PEAK_HEAD


class XView3Heads(nn.Module):
    """A 1×1 convolution to the xView3 maps, stacked as channels (B, heads, H, W) in head order.

    ``logit`` heads stay logits; ``metres`` heads (the length) are ``length_scale · softplus`` of
    the convolution, never negative. The peak (centre) logit starts at a low prior, as objects are
    rare. Outputs keep the dtype of the features (bf16 under autocast: a full scene's maps are large).
    """

    def __init__(self, in_channels: int, length_scale: float, center_prior: float = 0.01) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, len(HEADS), kernel_size=1)
        self.length_scale = length_scale
        self.metres = tuple(i for i, head in enumerate(HEADS) if head.activation == "metres")
        with torch.no_grad():
            self.conv.bias.zero_()
            self.conv.bias[HEAD_NAMES.index(PEAK_HEAD.name)] = math.log(center_prior / (1 - center_prior))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # the 1×1 convolution as a matrix product over the channels of channels-last features: no
        # layout conversion, and its weight gradient keeps the weight's own strides (DDP expects them)
        pixels = F.linear(features.permute(0, 2, 3, 1), self.conv.weight.flatten(1), self.conv.bias)
        raw = pixels.permute(0, 3, 1, 2)
        channels = [raw[:, i : i + 1] for i in range(len(HEADS))]
        for i in self.metres:
            channels[i] = (self.length_scale * F.softplus(channels[i].float())).to(raw.dtype)
        return torch.cat(channels, dim=1)

    @staticmethod
    def as_maps(stacked: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split stacked (B, heads, H, W) outputs into ``{name: (B, 1, H, W)}``."""
        return {name: stacked[:, i : i + 1] for i, name in enumerate(HEAD_NAMES)}
