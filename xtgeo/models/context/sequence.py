"""Context encoders that see the image as one token sequence: gather, encode, scatter back.

Every region's valid tokens are gathered into one (B, N, D) sequence per image — padding tokens
are left out entirely, so they can neither send nor receive information — in one of two orders:

* ``"image"``: row-major over the whole image's token grid (sorted by ``pos`` row, then column),
  so tokens that are neighbours along a row of the image are neighbours in the sequence. Order-
  sensitive encoders (state-space models) use this;
* ``"region"``: regions in row-major order, each region's tokens row-major, as given. Encoders
  that are permutation-invariant apart from their position embedding use this (no sort).

A fixed 2-D sine-cosine embedding of each token's place in the image is added before encoding
and the result is layer-normalised (as ``vit`` does: the model adds it to the region features);
padding tokens come back unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from xtgeo.models.context.base import ContextEncoder, sincos_2d

TOKEN_ORDERS: tuple[str, ...] = ("image", "region")


def sequence_index(pos: torch.Tensor, valid: torch.Tensor | None, order: str) -> torch.Tensor:
    """Indices into the flattened (R*T) tokens of the valid ones, in ``order`` (see module doc)."""
    if order not in TOKEN_ORDERS:
        raise ValueError(f"unknown token order {order!r}; choose one of {', '.join(TOKEN_ORDERS)}")
    flat_pos = pos.reshape(-1, 2)
    if valid is None:
        index = torch.arange(flat_pos.shape[0], device=pos.device)
    else:
        index = valid.reshape(-1).nonzero().squeeze(1)
    if order == "image":
        kept = flat_pos[index]
        index = index[torch.sort(kept[:, 1], stable=True).indices]  # by column, then
        index = index[torch.sort(flat_pos[index, 0], stable=True).indices]  # stably by row
    return index


class SequenceEncoder(ContextEncoder):
    """Base for encoders of one (B, N, D) sequence per image; subclasses implement :meth:`encode`."""

    order: str = "region"

    def __init__(self, dim: int, depth: int, heads: int) -> None:
        super().__init__(dim, depth, heads)
        self.norm = nn.LayerNorm(dim)

    def encode(self, seq: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Map a (B, N, D) sequence (positions already embedded) to one of the same shape."""
        raise NotImplementedError

    def forward(
        self, tokens: torch.Tensor, pos: torch.Tensor, valid: torch.Tensor | None = None
    ) -> torch.Tensor:
        batch, regions, per_region, dim = tokens.shape
        index = sequence_index(pos, valid, self.order)
        if index.numel() == 0:
            return tokens
        flat = tokens.reshape(batch, regions * per_region, dim)
        seq = flat[:, index] + sincos_2d(pos.reshape(-1, 2)[index], dim).to(tokens.dtype)
        out = flat.index_copy(1, index, self.norm(self.encode(seq)).to(tokens.dtype))
        return out.view_as(tokens)
