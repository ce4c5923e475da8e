"""``bixt``: BiXT (Hiller et al. 2024), bi-directional cross-attention between latents and tokens.

A small set of learned latents (``num_latents``, shared by every image) exchanges information
with all tokens of the image. In each layer, latents and tokens each project a *reference* and a
value; ONE similarity matrix S = r_lat r_tokᵀ / √d (latents × tokens, per head) serves both
directions: softmax over its rows (over tokens) gathers token values into the latents, softmax
over its columns (over latents) gathers latent values into the tokens. Then the latents refine
themselves with self-attention and an MLP (timm's ViT block), the tokens with an MLP. Cost and
memory are linear in the number of tokens; every token reaches every other through the latents.

One difference from the paper: the tokens read the values of the latents as just updated by
this layer's gather (the similarity matrix stays the one computed before), not the latents'
values from before it. So a single layer already carries every token's information to every
other token; with the paper's order the first layer gives each token only the learned latents.
"""

from __future__ import annotations

import torch
from timm.layers import Mlp
from timm.models.vision_transformer import Block
from torch import nn

from xtgeo.models.context.base import register
from xtgeo.models.context.sequence import SequenceEncoder


def similarity(ref_lat: torch.Tensor, ref_tok: torch.Tensor) -> torch.Tensor:
    """The one (b, h, m, n) similarity matrix r_lat r_tokᵀ / √d of (b, h, m, d) and (b, h, n, d) references,
    in float32 at least."""
    sim = ref_lat @ ref_tok.transpose(-1, -2)
    return sim.to(torch.promote_types(sim.dtype, torch.float32)) * ref_lat.shape[-1] ** -0.5


def to_latents(sim: torch.Tensor, val_tok: torch.Tensor) -> torch.Tensor:
    """Token values (b, h, n, d) gathered into the latents: softmax over each row (over tokens)."""
    return sim.softmax(dim=-1).to(val_tok.dtype) @ val_tok


def to_tokens(sim: torch.Tensor, val_lat: torch.Tensor) -> torch.Tensor:
    """Latent values (b, h, m, d) gathered into the tokens: softmax over each column (over latents)."""
    return sim.softmax(dim=-2).transpose(-1, -2).to(val_lat.dtype) @ val_lat


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
        ref_lat, _ = self._split(self.norm_lat(latents), self.ref_val_lat)
        ref_tok, val_tok = self._split(self.norm_tok(tokens), self.ref_val_tok)
        sim = similarity(ref_lat, ref_tok)
        latents = latents + self.proj_lat(to_latents(sim, val_tok).transpose(1, 2).flatten(2))
        _, val_lat = self._split(self.norm_lat(latents), self.ref_val_lat)  # values of the updated latents
        tokens = tokens + self.proj_tok(to_tokens(sim, val_lat).transpose(1, 2).flatten(2))
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
