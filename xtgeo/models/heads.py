"""Output heads: the xView3 dense maps (center, vessel, fishing, length)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

XVIEW3_MAPS: tuple[str, ...] = ("center", "vessel", "fishing", "length")


class XView3Heads(nn.Module):
    """A 1×1 convolution to the four xView3 maps, stacked as channels (B, 4, H, W).

    ``center``, ``vessel`` and ``fishing`` are logits; ``length`` is in metres and never negative
    (``length_scale · softplus``). The center logit starts at a low prior, as objects are rare.
    Outputs keep the dtype of the features (bf16 under autocast: a full scene's maps are large).
    """

    def __init__(self, in_channels: int, length_scale: float = 100.0, center_prior: float = 0.01) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, len(XVIEW3_MAPS), kernel_size=1)
        self.length_scale = length_scale
        with torch.no_grad():
            self.conv.bias.zero_()
            self.conv.bias[0] = math.log(center_prior / (1 - center_prior))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        raw = self.conv(features)
        length = (self.length_scale * F.softplus(raw[:, 3:].float())).to(raw.dtype)
        return torch.cat([raw[:, :3], length], dim=1)

    @staticmethod
    def as_maps(stacked: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split stacked (B, 4, H, W) outputs into ``{name: (B, 1, H, W)}``."""
        return {name: stacked[:, i : i + 1] for i, name in enumerate(XVIEW3_MAPS)}
