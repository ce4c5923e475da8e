"""``bixt``: BiXT (Hiller et al. 2024), bi-directional cross-attention between latents and tokens.

A small set of learned latents (``num_latents``, shared by every image) exchanges information
with all tokens of the image. In each layer, latents and tokens each project a *reference* and a
value; ONE similarity matrix S = r_lat r_tokᵀ / √d (latents × tokens, per head) serves both
directions: softmax over its rows (over tokens) gathers token values into the latents, softmax
over its columns (over latents) gathers latent values into the tokens. Then the latents refine
themselves with self-attention and an MLP (timm's ViT block), the tokens with an MLP. Cost and
memory are linear in the number of tokens; every token reaches every other through the latents.
"""

from __future__ import annotations

import torch
from timm.layers import Mlp
from timm.models.vision_transformer import Block
from torch import nn

from xtgeo.models.context.base import register
from xtgeo.models.context.sequence import SequenceEncoder


def bidirectional_cross_attention(
    ref_lat: torch.Tensor, ref_tok: torch.Tensor, val_lat: torch.Tensor, val_tok: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both directions of cross-attention from one similarity matrix.

    ``ref_lat``, ``val_lat``: (b, h, m, d); ``ref_tok``, ``val_tok``: (b, h, n, d). Returns the
    latents' update (b, h, m, d) and the tokens' update (b, h, n, d).
    """
    sim = ref_lat @ ref_tok.transpose(-1, -2)  # (b, h, m, n)
    sim = sim.to(torch.promote_types(sim.dtype, torch.float32)) * ref_lat.shape[-1] ** -0.5
    to_latents = sim.softmax(dim=-1).to(val_tok.dtype) @ val_tok
    to_tokens = sim.softmax(dim=-2).transpose(-1, -2).to(val_lat.dtype) @ val_lat
    return to_latents, to_tokens


class BiCrossAttention(nn.Module):
    """Multi-head bi-directional cross-attention with residual updates of latents and tokens."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"bixt: dim={dim} is not divisible by heads={heads}")
        self.heads = heads
        self.norm_lat, self.norm_tok = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ref_val_lat, self.ref_val_tok = nn.Linear(dim, 2 * dim), nn.Linear(dim, 2 * dim)
        self.proj_lat, self.proj_tok = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def _split(self, x: torch.Tensor, project: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
        ref, val = project(x).unflatten(-1, (2, self.heads, -1)).permute(2, 0, 3, 1, 4)
        return ref, val  # each (b, h, n, d)

    def forward(self, latents: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ref_lat, val_lat = self._split(self.norm_lat(latents), self.ref_val_lat)
        ref_tok, val_tok = self._split(self.norm_tok(tokens), self.ref_val_tok)
        to_lat, to_tok = bidirectional_cross_attention(ref_lat, ref_tok, val_lat, val_tok)
        latents = latents + self.proj_lat(to_lat.transpose(1, 2).flatten(2))
        tokens = tokens + self.proj_tok(to_tok.transpose(1, 2).flatten(2))
        return latents, tokens


class BiXTLayer(nn.Module):
    """Bi-directional cross-attention, then latent self-attention + MLP and a token MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.cross = BiCrossAttention(dim, heads)
        self.latent_block = Block(dim, heads, mlp_ratio=mlp_ratio, qkv_bias=True)
        self.norm_tok = nn.LayerNorm(dim)
        self.mlp_tok = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, latents: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latents, tokens = self.cross(latents, tokens)
        return self.latent_block(latents), tokens + self.mlp_tok(self.norm_tok(tokens))


@register("bixt")
class BiXTContext(SequenceEncoder):
    """``depth`` BiXT layers between ``num_latents`` learned latents and all valid tokens."""

    def __init__(self, dim: int, depth: int, heads: int, num_latents: int = 64, mlp_ratio: float = 4.0) -> None:
        super().__init__(dim, depth, heads)
        self.latents = nn.Parameter(torch.randn(num_latents, dim) * 0.02)
        self.layers = nn.ModuleList(BiXTLayer(dim, heads, mlp_ratio) for _ in range(depth))

    def encode(self, seq: torch.Tensor) -> torch.Tensor:
        latents = self.latents.to(seq.dtype).expand(seq.shape[0], -1, -1)
        for layer in self.layers:
            latents, seq = layer(latents, seq)
        return seq
