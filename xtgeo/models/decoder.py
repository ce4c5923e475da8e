"""UNet-style decoder from stitched multi-scale maps up to full resolution, run in row bands.

The decoder starts at the deepest (context-enhanced) level, and at each shallower level upsamples
2×, concatenates the skip maps and applies two 3×3 convolutions; below the shallowest level it
keeps upsampling to stride 1, where it also sees the input image. Only per-pixel normalisation
(LayerNorm over channels) is used, so the result at a pixel depends on its neighbourhood alone.

That locality lets :meth:`UNetDecoder.forward_bands` decode a whole scene in horizontal bands,
each with a halo wider than the receptive field: the output equals the whole-image result, and
with checkpointing only one band's activations exist at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint


class ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channels of each pixel of an NCHW map, computed in the map's own dtype.

    Under bf16 autocast, ``F.layer_norm`` would run in float32 and return float32 maps; at full
    resolution that doubles the memory traffic of the decoder's busiest stages. The kernel still
    accumulates its statistics in float32. The result is made NCHW-contiguous again: otherwise
    the convolutions after it inherit a channels-last layout, and the 1×1 head's weight gradient
    gets strides that DDP's gradient buckets do not expect.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            weight, bias = self.weight.to(x.dtype), self.bias.to(x.dtype)
            y = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, weight, bias, self.eps)
        return y.permute(0, 3, 1, 2).contiguous()


class ConvBlock(nn.Sequential):
    """conv3×3 → ChannelNorm → GELU → conv3×3 → GELU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            ChannelNorm(out_channels),
            nn.GELU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.GELU(),
        )


def upsample2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class UNetDecoder(nn.Module):
    """Decoder over levels with ``channels`` and ``reductions`` (shallow → deep, each 2× apart).

    Stage widths start at ``width`` for the deepest level and halve per stage, never below
    ``min_width``; ``out_channels`` is the width at full resolution.
    """

    def __init__(
        self,
        channels: list[int],
        reductions: list[int],
        in_chans: int,
        width: int = 256,
        min_width: int = 16,
    ) -> None:
        super().__init__()
        for fine, coarse in zip(reductions, reductions[1:]):
            if coarse != 2 * fine:
                raise ValueError(f"decoder needs feature levels 2× apart, got reductions {reductions}")
        if reductions[0] & (reductions[0] - 1):
            raise ValueError(f"decoder needs a power-of-two finest reduction, got {reductions[0]}")
        self.reductions = list(reductions)
        extra = reductions[0].bit_length() - 1  # stages from the finest level down to stride 1
        widths = [max(width >> k, min_width) for k in range(len(channels) + extra)]
        skips = list(reversed(channels))[1:] + [0] * (extra - 1) + ([in_chans] if extra else [])
        stages = [ConvBlock(channels[-1], widths[0])]
        for k, skip in enumerate(skips, start=1):
            stages.append(ConvBlock(widths[k - 1] + skip, widths[k]))
        self.stages = nn.ModuleList(stages)
        self.strides = [reductions[-1] >> k for k in range(len(stages))]
        self.levels = len(channels)
        self.out_channels = widths[len(stages) - 1]

    @property
    def halo(self) -> int:
        """Receptive-field radius in pixels: two 3×3 convs per stage plus one coarse pixel per upsample."""
        return sum(2 * s for s in self.strides) + sum(self.strides[:-1])

    def forward(self, feats: list[torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        """Decode stitched maps (shallow → deep) and the image to (B, out_channels, H, W)."""
        skips = list(reversed(feats))[1:] + [None] * (len(self.stages) - self.levels)
        if len(self.stages) > self.levels:
            skips[-1] = image
        x = self.stages[0](feats[-1])
        for stage, skip in zip(self.stages[1:], skips):
            x = upsample2(x)
            if skip is not None:
                x = torch.cat([x, skip.to(x.dtype)], dim=1)
            x = stage(x)
        return x

    def forward_bands(
        self,
        feats: list[torch.Tensor],
        image: torch.Tensor,
        head: Callable[[torch.Tensor], torch.Tensor],
        band_rows: int,
        grad_checkpointing: bool = False,
    ) -> torch.Tensor:
        """``head(forward(feats, image))`` computed in bands of ``band_rows`` deepest-level rows.

        Each band is decoded with a halo of whole deepest rows covering :attr:`halo`, taken from
        its neighbouring bands, then cropped; with ``grad_checkpointing`` only the cropped head
        outputs are kept for backward. Inputs are split into bands up front, so each band's
        backward makes gradients of band size rather than of the whole image.
        """
        deepest = self.reductions[-1]
        halo = -(-self.halo // deepest)
        if halo > band_rows:
            band_rows = halo  # a band's halo must come from its direct neighbours
        pieces = [torch.split(t, band_rows * deepest // r, dim=2) for t, r in zip([image, *feats],
                                                                                  [1, *self.reductions])]
        count = len(pieces[0])
        use_ckpt = grad_checkpointing and torch.is_grad_enabled()
        bands = []
        for k in range(count):
            lo, hi = max(k - 1, 0), min(k + 2, count)
            inputs = [p for level in pieces for p in level[lo:hi]]
            band = partial(self._band, head, hi - lo, k - lo, halo)
            bands.append(checkpoint(band, *inputs, use_reentrant=False) if use_ckpt else band(*inputs))
        return bands[0] if count == 1 else torch.cat(bands, dim=2)

    def _band(self, head, per_level: int, centre: int, halo: int, *inputs) -> torch.Tensor:
        """Decode one band: its own rows plus ``halo`` deepest rows from each neighbour."""
        levels = []
        for i, stride in enumerate([1, *self.reductions]):
            group = inputs[i * per_level : (i + 1) * per_level]
            rows = halo * self.reductions[-1] // stride
            parts = [group[c][:, :, -rows:] if c < centre else group[c][:, :, :rows] if c > centre else group[c]
                     for c in range(per_level)]
            levels.append(torch.cat(parts, dim=2) if per_level > 1 else parts[0])
        out = head(self(levels[1:], levels[0]))
        top = (halo * self.reductions[-1]) if centre > 0 else 0
        return out[:, :, top : top + inputs[centre].shape[2]].clone()
