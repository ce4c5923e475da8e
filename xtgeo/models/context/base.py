"""The one interface every context encoder implements, its registry, and 2-D positions.

A context encoder sees the deepest feature level of every region of an image at once:

* ``tokens``: (B, R, T, D) — B images, R regions in row-major order, T tokens per region
  (the region's deepest feature map flattened row-major), D channels;
* ``pos``: (R, T, 2) float — each token's (row, col) on the whole image's deepest-level grid;
* ``valid``: (R, T) bool or None — False for tokens that lie entirely in padding.

and returns tokens of the same shape, each now informed by the whole image, which the model adds
to the region maps (so ``none`` returns zeros).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

#: Every context encoder class by kind, filled by :func:`register` as their modules are imported.
REGISTRY: dict[str, type[ContextEncoder]] = {}


class ContextEncoder(nn.Module):
    """Base class: ``forward(tokens, pos, valid) -> tokens`` with the shapes in the module doc."""

    def __init__(self, dim: int, depth: int, heads: int) -> None:
        super().__init__()
        self.dim, self.depth, self.heads = dim, depth, heads

    def forward(
        self, tokens: torch.Tensor, pos: torch.Tensor, valid: torch.Tensor | None = None
    ) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def register(kind: str) -> Callable[[type[ContextEncoder]], type[ContextEncoder]]:
    """Class decorator that makes an encoder buildable by its ``kind`` name."""

    def decorate(cls: type[ContextEncoder]) -> type[ContextEncoder]:
        REGISTRY[kind] = cls
        return cls

    return decorate


def sincos_2d(pos: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """Fixed 2-D sine-cosine embedding of (…, 2) positions into (…, dim) features.

    Half the channels encode the row, half the column, each as sines and cosines of
    geometrically spaced frequencies; positions may be fractional and arbitrarily large.
    """
    if dim % 4:
        raise ValueError(f"sincos_2d needs dim divisible by 4, got {dim}")
    quarter = dim // 4
    freqs = torch.exp(
        -math.log(temperature) * torch.arange(quarter, device=pos.device, dtype=torch.float32) / quarter
    )
    angles = pos.to(torch.float32).unsqueeze(-1) * freqs  # (..., 2, quarter)
    emb = torch.cat([angles.sin(), angles.cos()], dim=-1)  # (..., 2, 2*quarter)
    return emb.flatten(-2)
