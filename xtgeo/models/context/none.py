"""``none``: no context at all — each region sees only itself (the baseline)."""

from __future__ import annotations

import torch

from xtgeo.models.context.base import ContextEncoder, register


@register("none")
class NoContext(ContextEncoder):
    """Adds nothing to any token (its output, which the model adds to the tokens, is zero), so no
    information crosses regions."""

    def forward(
        self, tokens: torch.Tensor, pos: torch.Tensor, valid: torch.Tensor | None = None
    ) -> torch.Tensor:
        return torch.zeros_like(tokens)
