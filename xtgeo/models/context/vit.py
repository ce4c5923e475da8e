"""``vit``: full self-attention over every token of every region (exact, quadratic in tokens).

Also home of the pre-norm :class:`Block` (attention over optional extra keys + MLP) that other
attention-based encoders reuse.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from xtgeo.models.context.base import ContextEncoder, register, sincos_2d


class Block(nn.Module):
    """Pre-norm Transformer block; queries are ``x``, keys/values ``[memory, x]``.

    ``key_valid`` (…, K) masks keys (True = attend); ``memory`` (B, M, D) is prepended to the keys.
    Attention runs through ``scaled_dot_product_attention`` (flash/memory-efficient on GPU).
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"context dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q, self.kv, self.proj = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def attend(
        self, x: torch.Tensor, memory: torch.Tensor | None, key_valid: torch.Tensor | None
    ) -> torch.Tensor:
        batch, length, dim = x.shape
        h = self.norm1(x)
        keys = h if memory is None else self.norm1(torch.cat([memory, x], dim=1))
        q = self.q(h).view(batch, length, self.heads, -1).transpose(1, 2)
        k, v = self.kv(keys).view(batch, keys.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        mask = None if key_valid is None else key_valid.reshape(-1, 1, 1, keys.shape[1])
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(out.transpose(1, 2).reshape(batch, length, dim))

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        key_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = x + self.attend(x, memory, key_valid)
        return x + self.mlp(self.norm2(x))


def add_positions(tokens: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Tokens (B, R, T, D) plus the fixed 2-D sine-cosine embedding of their image positions."""
    return tokens + sincos_2d(pos, tokens.shape[-1]).to(tokens.dtype)


def key_mask(valid: torch.Tensor | None) -> torch.Tensor | None:
    """Flattened key mask, or None when every token is valid (lets SDPA pick flash attention)."""
    if valid is None or bool(valid.all()):
        return None
    return valid.flatten()


@register("vit")
class FullAttention(ContextEncoder):
    """``depth`` pre-norm Transformer blocks over all R·T tokens of each image at once."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__(dim, depth, heads)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(
        self, tokens: torch.Tensor, pos: torch.Tensor, valid: torch.Tensor | None = None
    ) -> torch.Tensor:
        batch, regions, per_region, dim = tokens.shape
        x = add_positions(tokens, pos).reshape(batch, regions * per_region, dim)
        mask = key_mask(valid)
        for block in self.blocks:
            x = block(x, key_valid=mask)
        return self.norm(x).view(batch, regions, per_region, dim)
