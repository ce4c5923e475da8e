"""The xT module: regions → region encoder → context across all regions → decoder → heads."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from xtgeo.config import ContextConfig, DecoderConfig
from xtgeo.models.context import build_context_encoder
from xtgeo.models.context.vit import Block
from xtgeo.models.decoder import UNetDecoder
from xtgeo.models.heads import XView3Heads
from xtgeo.models.region_encoder import RegionEncoder
from xtgeo.models.tokenize import (
    RegionGrid,
    all_tokens_valid,
    maps_to_tokens,
    pad_to_regions,
    stitch,
    token_positions,
    tokens_to_maps,
)


class XT(nn.Module):
    """Nested-tokenization model for images of any (H, W): ``forward(x)`` maps (B, C, H, W) to one
    (B, 1, H, W) map per head of :mod:`xtgeo.tasks.xview3`."""

    def __init__(self, region_encoder: RegionEncoder, context: ContextConfig, decoder: DecoderConfig) -> None:
        super().__init__()
        self.encoder = region_encoder
        deep = region_encoder.channels[-1]
        dim = context.dim or deep
        self.context = build_context_encoder(context.kind, dim, context.depth, context.heads, **context.options)
        self.to_context = nn.Linear(deep, dim) if dim != deep else nn.Identity()
        self.from_context = nn.Linear(dim, deep) if dim != deep else nn.Identity()
        self.band_rows, self.inference_band_rows = decoder.band_rows, decoder.inference_band_rows
        self.decoder_checkpointing = decoder.grad_checkpointing
        self.decoder = UNetDecoder(region_encoder.channels, region_encoder.reductions, region_encoder.in_chans,
                                   width=decoder.width, min_width=decoder.min_width, out_stride=decoder.out_stride)
        self.head = XView3Heads(self.decoder.out_channels, length_scale=decoder.length_scale)

    def compile_stages(self, **options: Any) -> None:
        """``torch.compile`` the stages that run per pixel (region backbone, decoder, heads) and each
        Transformer block of the context encoder (xl, vit: eagerly, their many small kernels would
        leave the GPU waiting for their launches).

        The loops over region micro-batches, context chunks and decoder bands stay in Python, so
        every compiled call sees the same few shapes and compiles once per window size (a block
        twice: its memory grows from chunk to chunk, and its second shape compiles as dynamic).
        ``options`` go to ``torch.compile``.
        """
        self.encoder.body.compile(**options)
        self.decoder.compile(**options)
        self.head.compile(**options)
        for module in self.context.modules():
            if isinstance(module, Block):
                module.compile(**options)

    def contextualize(self, deep: torch.Tensor, grid: RegionGrid) -> torch.Tensor:
        """Deepest region maps (B·R, D, h, w) → the same maps with what the context encoder adds."""
        h, w = deep.shape[-2:]
        pos, valid = token_positions(grid, h, w, device=deep.device)
        tokens = maps_to_tokens(deep, grid)
        mask = None if all_tokens_valid(grid, h, w) else valid  # no mask: no host sync, flash attention
        context = self.from_context(self.context(self.to_context(tokens), pos, mask))
        return deep + tokens_to_maps(context.to(deep.dtype), h, w)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        height, width = x.shape[-2:]
        grid = RegionGrid(height, width, self.encoder.region_size)
        padded = pad_to_regions(x, grid)
        maps = self.encoder(padded, grid)
        maps[-1] = self.contextualize(maps[-1], grid)
        feats = [stitch(m, grid) for m in maps]
        stacked = self.decoder.forward_bands(feats, padded, self.head, self.decoder_band_rows(feats[-1].shape[2]),
                                             self.decoder_checkpointing)
        return XView3Heads.as_maps(stacked[:, :, :height, :width])

    def decoder_band_rows(self, rows: int) -> int:
        """Deepest-level rows the decoder decodes at once, of ``rows`` in all.

        Bands bound memory only where their activations are dropped: under decoder checkpointing
        (``band_rows``) and without gradients (``inference_band_rows`` or more: wider bands
        recompute fewer halo rows). Training without decoder checkpointing keeps every band's
        activations anyway, so it decodes the whole crop at once and recomputes no halo.
        """
        if not torch.is_grad_enabled():
            return max(self.band_rows, self.inference_band_rows)
        return self.band_rows if self.decoder_checkpointing else rows
