"""``hyper``: HyperAttention (Han et al. 2023) over all tokens of the image, near-linear in their number.

Non-causal attention approximated in two parts, each with its log-sum-exp, merged exactly:

1. sortLSH: queries and keys are hashed with the same random hyperplanes (angular LSH), each
   code ranked in Gray-code order so that neighbouring buckets differ in one bit, and queries and
   keys are sorted by rank. Attention is exact inside diagonal blocks of ``block_size`` sorted
   queries × ``block_size`` sorted keys: this catches the large entries.
2. Uniformly sampled columns: ``sample_size`` keys drawn without replacement; each query attends
   to the sampled keys outside its own block, their weights scaled by n / sample_size, an unbiased
   estimate of the rest of the softmax denominator and numerator.

Sequences of fewer than ``min_seq_len`` tokens use exact attention (PyTorch's fused kernel). Pure
PyTorch. When one block covers the sequence, or the sample covers every key, the result is exact.
Queries are processed in chunks, each recomputed in the backward pass (activation checkpointing):
the score matrices, n × (block_size + sample_size) per head, are never stored whole.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from timm.layers import Mlp
from torch import nn
from torch.utils.checkpoint import checkpoint

from xtgeo.models.context.base import register
from xtgeo.models.context.sequence import SequenceEncoder


def gray_rank_table(bits: int) -> torch.Tensor:
    """table[code] = position of ``code`` in the ``bits``-bit Gray-code sequence."""
    ranks = torch.arange(2**bits)
    table = torch.empty_like(ranks)
    table[ranks ^ (ranks >> 1)] = ranks
    return table


def lsh_rank(x: torch.Tensor, hyperplanes: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """(…, n, d) vectors → (…, n) bucket ranks: sign bits against (d, r) hyperplanes, Gray-ordered."""
    bits = (x.float() @ hyperplanes.float() > 0).long()
    codes = (bits << torch.arange(hyperplanes.shape[1], device=x.device)).sum(-1)
    return table[codes]


def _attend_chunk(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    key_is_pad: torch.Tensor,
    k_sample: torch.Tensor,
    v_sample: torch.Tensor,
    sample_block: torch.Tensor,
    first_block: int,
    block: int,
    log_weight: float,
) -> torch.Tensor:
    """Whole blocks of LSH-sorted queries against their diagonal key blocks plus the sampled keys.

    q, k, v: (b, h, L, d) sorted, L a multiple of ``block``; ``key_is_pad`` (L,); ``k_sample``,
    ``v_sample`` (b, h, m, d); ``sample_block`` (b, h, m) each sampled key's block; ``first_block``
    the index of this chunk's first block; ``log_weight`` = log(n / m).
    """
    scale = q.shape[-1] ** -0.5
    work = torch.promote_types(q.dtype, torch.float32)
    qb, kb, vb = (t.unflatten(2, (-1, block)) for t in (q, k, v))  # (b, h, blocks, block, d)
    scores = (qb @ kb.transpose(-1, -2)).to(work) * scale
    scores = scores.masked_fill(key_is_pad.view(-1, 1, block), float("-inf"))
    block_lse = scores.logsumexp(-1)
    block_out = (torch.exp(scores - block_lse.unsqueeze(-1)).to(v.dtype) @ vb).flatten(2, 3)
    block_lse = block_lse.flatten(2)

    scores = (q @ k_sample.transpose(-1, -2)).to(work) * scale  # (b, h, L, m)
    query_block = first_block + torch.arange(q.shape[2], device=q.device) // block
    in_own_block = query_block[:, None] == sample_block.unsqueeze(-2)  # counted by the block part
    scores = scores.masked_fill(in_own_block, float("-inf"))
    sample_lse = scores.logsumexp(-1)
    finite_lse = torch.where(sample_lse.isfinite(), sample_lse, torch.zeros_like(sample_lse))
    sample_out = torch.exp(scores - finite_lse.unsqueeze(-1)).to(v.dtype) @ v_sample
    sample_lse = sample_lse + log_weight

    lse = torch.logaddexp(block_lse, sample_lse)
    w_block = torch.exp(block_lse - lse).unsqueeze(-1)
    w_sample = torch.exp(sample_lse - lse).unsqueeze(-1)
    return (block_out * w_block + sample_out * w_sample).to(v.dtype)


def hyper_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    hyperplanes: torch.Tensor,
    table: torch.Tensor,
    block_size: int,
    sample_size: int,
    query_chunk: int = 16384,
) -> torch.Tensor:
    """HyperAttention of (b, h, n, d) queries, keys, values (see module doc); returns (b, h, n, d).

    Sorted queries are processed ``query_chunk`` at a time (rounded to whole blocks); with
    gradients on, each chunk is recomputed in the backward pass, so the score matrices are never
    stored and at most one chunk's exist at once.
    """
    n = q.shape[-2]

    def gather(t: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        return t.gather(2, order.unsqueeze(-1).expand(*order.shape, t.shape[-1]))

    q_order = lsh_rank(q, hyperplanes, table).argsort(dim=-1, stable=True)
    k_order = lsh_rank(k, hyperplanes, table).argsort(dim=-1, stable=True)
    pad = -n % block_size
    qs, ks, vs = (F.pad(gather(t, order), (0, 0, 0, pad)) for t, order in ((q, q_order), (k, k_order), (v, k_order)))
    key_is_pad = torch.arange(n + pad, device=q.device) >= n

    samples = min(sample_size, n)
    picked = torch.randperm(n, device=q.device)[:samples]
    sample_block = k_order.argsort(dim=-1)[..., picked] // block_size  # sorted position → block
    shared = (k[:, :, picked], v[:, :, picked], sample_block)

    step = max(1, query_chunk // block_size) * block_size
    outs = []
    for start in range(0, n + pad, step):
        part = slice(start, start + step)
        args = (qs[:, :, part], ks[:, :, part], vs[:, :, part], key_is_pad[part], *shared)
        args += (start // block_size, block_size, math.log(n / samples))
        if torch.is_grad_enabled():
            outs.append(checkpoint(_attend_chunk, *args, use_reentrant=False))
        else:
            outs.append(_attend_chunk(*args))
    return gather(torch.cat(outs, dim=2)[:, :, :n], q_order.argsort(dim=-1))


class HyperAttention(nn.Module):
    """Multi-head self-attention whose core is :func:`hyper_attention` (exact when short)."""

    def __init__(
        self,
        dim: int,
        heads: int,
        block_size: int = 256,
        sample_size: int = 256,
        min_seq_len: int = 4096,
        lsh_bits: int = 7,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"hyper: dim={dim} is not divisible by heads={heads}")
        self.heads, self.block_size, self.sample_size, self.min_seq_len = heads, block_size, sample_size, min_seq_len
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("hyperplanes", torch.randn(dim // heads, lsh_bits, generator=generator), persistent=False)
        self.register_buffer("gray_table", gray_rank_table(lsh_bits), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4)  # (b, h, n, d) each
        if x.shape[1] < self.min_seq_len:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            out = hyper_attention(q, k, v, self.hyperplanes, self.gray_table, self.block_size, self.sample_size)
        return self.proj(out.transpose(1, 2).flatten(2))


class HyperBlock(nn.Module):
    """Pre-norm Transformer block with HyperAttention and an MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, **attention_options) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = HyperAttention(dim, heads, **attention_options)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


@register("hyper")
class HyperContext(SequenceEncoder):
    """``depth`` HyperAttention blocks over all valid tokens of the image.

    Options: ``block_size``, ``sample_size``, ``min_seq_len``, ``lsh_bits`` (see module doc), ``mlp_ratio``.
    """

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0, **attention_options) -> None:
        super().__init__(dim, depth, heads)
        self.blocks = nn.Sequential(
            *(HyperBlock(dim, heads, mlp_ratio, seed=i, **attention_options) for i in range(depth))
        )

    def encode(self, seq: torch.Tensor) -> torch.Tensor:
        return self.blocks(seq)
