"""UNet-style decoder from stitched multi-scale maps up to full resolution, run in row bands.

The decoder starts at the deepest (context-enhanced) level, and at each shallower level upsamples
2×, concatenates the skip maps and applies two 3×3 convolutions; below the shallowest level it
keeps upsampling to its output stride (1 by default), where it also sees the input image
(average-pooled to that stride); the heads at a coarser output stride are upsampled bilinearly to
full resolution, which spares the costliest full-resolution convolutions. Only per-pixel normalisation
(LayerNorm over channels) is used, so the result at a pixel depends on its neighbourhood alone.
Maps and convolution weights are channels-last (NHWC in memory): the layout the GPU's bf16
convolutions use natively, so no convolution converts its input or output.

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
    """LayerNorm over the channels of each pixel of a (B, C, H, W) map, computed in the map's own dtype.

    Under bf16 autocast, ``F.layer_norm`` would run in float32 and return float32 maps; at full
    resolution that doubles the memory traffic of the decoder's busiest stages. The kernel still
    accumulates its statistics in float32. The result is channels-last.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            weight, bias = self.weight.to(x.dtype), self.bias.to(x.dtype)
            y = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, weight, bias, self.eps)
        return y.permute(0, 3, 1, 2)


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


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` with channels-last strides (no copy when it has them already)."""
    return x.contiguous(memory_format=torch.channels_last)


def _double(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Linear 2× upsampling along ``dim`` (half-pixel centres, edges repeated): output 2i is
    ¾·x[i] + ¼·x[i-1] and output 2i+1 is ¾·x[i] + ¼·x[i+1]."""
    n = x.shape[dim]
    before = torch.cat([x.narrow(dim, 0, 1), x.narrow(dim, 0, n - 1)], dim)
    after = torch.cat([x.narrow(dim, 1, n - 1), x.narrow(dim, n - 1, 1)], dim)
    return torch.stack([0.75 * x + 0.25 * before, 0.75 * x + 0.25 * after], dim + 1).flatten(dim, dim + 1)


def upsample2(x: torch.Tensor) -> torch.Tensor:
    """Bilinear 2× upsampling of (B, C, H, W) maps, equal to ``F.interpolate(x, scale_factor=2,
    mode="bilinear", align_corners=False)``, returned channels-last.

    Written as shifts and weighted sums, its backward is slices and sums; that of ``F.interpolate``
    (compiled: scattered atomic adds) took 45 ms of a 264 ms training step at full resolution on
    an H100 with channels-last maps.
    """
    nhwc = x.permute(0, 2, 3, 1)
    return _double(_double(nhwc, 1), 2).permute(0, 3, 1, 2)


class UNetDecoder(nn.Module):
    """Decoder over levels with ``channels`` and ``reductions`` (shallow → deep, each 2× apart).

    Stage widths start at ``width`` for the deepest level and halve per stage, never below
    ``min_width``; ``out_channels`` is the width of the last stage, at ``out_stride`` (a power of
    two, at most the finest reduction).
    """

    def __init__(
        self,
        channels: list[int],
        reductions: list[int],
        in_chans: int,
        width: int = 256,
        min_width: int = 16,
        out_stride: int = 1,
    ) -> None:
        super().__init__()
        for fine, coarse in zip(reductions, reductions[1:]):
            if coarse != 2 * fine:
                raise ValueError(f"decoder needs feature levels 2× apart, got reductions {reductions}")
        if reductions[0] & (reductions[0] - 1):
            raise ValueError(f"decoder needs a power-of-two finest reduction, got {reductions[0]}")
        if out_stride < 1 or out_stride & (out_stride - 1) or out_stride > reductions[0]:
            raise ValueError(f"decoder out_stride must be a power of two up to {reductions[0]}, got {out_stride}")
        self.reductions = list(reductions)
        self.out_stride = out_stride
        extra = (reductions[0] // out_stride).bit_length() - 1  # stages from the finest level to out_stride
        widths = [max(width >> k, min_width) for k in range(len(channels) + extra)]
        skips = list(reversed(channels))[1:] + [0] * (extra - 1) + ([in_chans] if extra else [])
        stages = [ConvBlock(channels[-1], widths[0])]
        for k, skip in enumerate(skips, start=1):
            stages.append(ConvBlock(widths[k - 1] + skip, widths[k]))
        self.stages = nn.ModuleList(stages)
        self.strides = [reductions[-1] >> k for k in range(len(stages))]
        self.levels = len(channels)
        self.out_channels = widths[len(stages) - 1]
        self.to(memory_format=torch.channels_last)

    @property
    def halo(self) -> int:
        """Receptive-field radius in pixels: two 3×3 convs per stage plus one coarse pixel per upsample
        (the heads' upsampling to full resolution included)."""
        upsample_heads = self.out_stride if self.out_stride > 1 else 0
        return sum(2 * s for s in self.strides) + sum(self.strides[:-1]) + upsample_heads

    def forward(self, feats: list[torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        """Decode stitched maps (shallow → deep) and the image to (B, out_channels, H, W) / out_stride."""
        skips = list(reversed(feats))[1:] + [None] * (len(self.stages) - self.levels)
        if len(self.stages) > self.levels:
            skips[-1] = channels_last(image if self.out_stride == 1 else F.avg_pool2d(image.float(), self.out_stride))
        x = self.stages[0](channels_last(feats[-1]))
        for stage, skip in zip(self.stages[1:], skips):
            x = upsample2(x)
            if skip is not None:
                x = torch.cat([x, channels_last(skip).to(x.dtype)], dim=1)
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
        """``head(forward(feats, image))``, upsampled to full resolution, computed in bands of at most
        ``band_rows`` deepest-level rows.

        Each band is decoded in a window reaching :attr:`halo` beyond it (or to the image edge),
        then cropped. All windows have one height (:func:`band_windows`), so a compiled decoder
        sees one shape per image size. With ``grad_checkpointing`` only the cropped head outputs
        are kept for backward. Inputs are split at the window edges up front, so each band's
        backward makes gradients of band size rather than of the whole image.
        """
        deepest = self.reductions[-1]
        halo = -(-self.halo // deepest)
        rows = feats[-1].shape[2]
        windows = band_windows(rows, max(band_rows, halo), halo)  # narrower bands: more halo than band
        cuts = sorted({edge for lo, hi, _, _ in windows for edge in (lo, hi)} - {0})
        sizes = [b - a for a, b in zip([0, *cuts], cuts)]
        pieces = [torch.split(t, [size * deepest // r for size in sizes], dim=2)
                  for t, r in zip([image, *feats], [1, *self.reductions])]
        use_ckpt = grad_checkpointing and torch.is_grad_enabled()
        bands = []
        for lo, hi, first, last in windows:
            inside = [k for k, end in enumerate(cuts) if lo < end <= hi]
            inputs = [level[k] for level in pieces for k in inside]
            band = partial(self._band, head, len(inside), (first - lo) * deepest, (last - lo) * deepest)
            bands.append(checkpoint(band, *inputs, use_reentrant=False) if use_ckpt else band(*inputs))
        return bands[0] if len(bands) == 1 else torch.cat(bands, dim=2)

    def _band(self, head, per_level: int, top: int, bottom: int, *inputs) -> torch.Tensor:
        """Decode one window (``per_level`` row pieces per level) and keep its pixel rows top..bottom."""
        levels = [torch.cat(inputs[i : i + per_level], dim=2) if per_level > 1 else inputs[i]
                  for i in range(0, len(inputs), per_level)]
        maps = head(self(levels[1:], levels[0]))
        if self.out_stride == 2:
            maps = upsample2(maps)  # F.interpolate's bilinear 2×, without its scatter-add backward
        elif self.out_stride > 1:
            maps = F.interpolate(maps, scale_factor=self.out_stride, mode="bilinear", align_corners=False)
        if top == 0 and bottom == maps.shape[2]:
            return maps  # the window is the whole image: nothing to crop
        return maps[:, :, top:bottom].clone()


def band_windows(rows: int, band_rows: int, halo: int) -> list[tuple[int, int, int, int]]:
    """The bands that decode ``rows`` rows: ``(lo, hi, first, last)`` each, decoding rows lo..hi
    and keeping rows first..last.

    A window reaches ``halo`` rows beyond its band on both sides; at an image edge, where nothing
    lies beyond, the band keeps those rows itself. All windows have one height, the smallest that
    covers the rows in as few bands of at most ``band_rows`` (plus the edge bands' halo) as possible;
    a single window is the whole image.
    """
    inner = rows - 2 * halo  # rows kept beyond the edge bands' halo rows
    count = -(-inner // band_rows)
    if count <= 1:
        return [(0, rows, 0, rows)]
    step = -(-inner // count)
    height = step + 2 * halo
    edges = [0, *(halo + k * step for k in range(1, count)), rows]
    windows = []
    for first, last in zip(edges, edges[1:]):
        lo = min(max(first - halo, 0), rows - height)
        windows.append((lo, lo + height, first, last))
    return windows
