"""``xl``: Transformer-XL over regions, with recurrent memory carried across chunks.

Regions are grouped, in row-major order, into chunks of ``chunk_regions`` regions processed one
after another. Each layer attends over ``[memory, chunk]``, where the memory holds that layer's
input hidden states of the latest earlier tokens (at most ``mem_len``; ``None``: all of them),
with gradients stopped as in Transformer-XL. With ``two_pass`` a first, gradient-free pass over
the whole image fills the memory, so that the second pass's early chunks also see the end of
the image. That pass skips the last block (a layer's memory is its input, so that block's output
is never used).

Reach: every region's output depends on every region's input, at any depth, exactly when
``two_pass`` is on and the memory holds all tokens but one chunk's (``mem_len`` None, the
default, or at least tokens − chunk tokens): the second pass's chunk k then attends to the
first pass's chunks after k and its own earlier chunks. The dependence runs through the
stop-gradient memory, so it shows in a perturbation of the input, not in a gradient. With one
pass (``two_pass: false``) the context is causal over chunks: a chunk never sees later ones.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from xtgeo.models.context.base import ContextEncoder, register
from xtgeo.models.context.vit import Block, add_positions, key_mask

Memory = list[tuple[torch.Tensor, torch.Tensor | None]]  # per layer: hidden (B, M, D), valid (M,) or None (all)


@register("xl")
class TransformerXL(ContextEncoder):
    """Chunked recurrent Transformer (see module doc); ``grad_checkpointing`` per block and chunk."""

    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int,
        chunk_regions: int = 16,
        mem_len: int | None = None,
        two_pass: bool = True,
        mlp_ratio: float = 4.0,
        grad_checkpointing: bool = False,
    ) -> None:
        super().__init__(dim, depth, heads)
        if chunk_regions < 1 or (mem_len is not None and mem_len < 0):
            raise ValueError(f"xl needs chunk_regions >= 1 and mem_len >= 0, got {chunk_regions}, {mem_len}")
        self.chunk_regions, self.mem_len, self.two_pass = chunk_regions, mem_len, two_pass
        self.grad_checkpointing = grad_checkpointing
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(
        self, tokens: torch.Tensor, pos: torch.Tensor, valid: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = add_positions(tokens, pos)  # valid None: all tokens valid, no mask (and no host sync)
        memory = None
        if self.two_pass and self.mem_len != 0 and x.shape[1] > self.chunk_regions:
            with torch.no_grad():  # detached: no-grad views of a tensor that needs grad trip autograd hooks
                _, memory = self._run(x.detach(), valid, None, fill_only=True)
        out, _ = self._run(x, valid, memory)
        return out

    def _block(self, block: Block, h, mem_h, keys_valid):
        if self.grad_checkpointing and torch.is_grad_enabled():
            return checkpoint(block, h, mem_h, keys_valid, use_reentrant=False)
        return block(h, mem_h, keys_valid)

    def _run(
        self, x: torch.Tensor, valid: torch.Tensor | None, memory: Memory | None, fill_only: bool = False,
    ) -> tuple[torch.Tensor | None, Memory | None]:
        """Every chunk in turn through the blocks, with ``memory`` before it; returns the outputs and
        the memory left after the last chunk. ``fill_only`` computes the memory alone: a layer's
        memory is its input, so the last block never runs."""
        batch, regions, per_region, dim = x.shape
        outputs = []
        for c0 in range(0, regions, self.chunk_regions):
            c1 = min(c0 + self.chunk_regions, regions)
            h = x[:, c0:c1].reshape(batch, -1, dim)
            v = None if valid is None else valid[c0:c1].flatten()
            next_memory: Memory = []
            for layer, block in enumerate(self.blocks):
                mem_h, mem_v = memory[layer] if memory else (None, None)
                if self.mem_len != 0:
                    next_memory.append(self._remember(mem_h, mem_v, h, v))
                if fill_only and layer == len(self.blocks) - 1:
                    break
                keys_valid = None if v is None else key_mask(v if mem_v is None else torch.cat([mem_v, v]))
                h = self._block(block, h, mem_h, keys_valid)
            memory = next_memory or None
            if not fill_only:
                outputs.append(self.norm(h).view(batch, c1 - c0, per_region, dim))
        return (torch.cat(outputs, dim=1) if outputs else None), memory

    def _remember(self, mem_h, mem_v, h, v) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The newest ``mem_len`` (or all) hidden states of [memory, chunk], detached (stop-gradient)."""
        if mem_h is not None:
            h = torch.cat([mem_h, h], dim=1)
            v = None if v is None else torch.cat([mem_v, v])
        if self.mem_len is None:
            return h.detach(), v
        return h[:, -self.mem_len :].detach(), None if v is None else v[-self.mem_len :]
