"""``mamba``: bidirectional Mamba2 over all tokens of the image, linear in their number.

Token order: row-major over the whole image's token grid (``SequenceEncoder.order = "image"``),
not region by region, so that the scan meets tokens in the order they lie along image rows and
the sequence distance between two tokens grows with their distance in the image, whatever the
region grid. Every layer scans both ways (one mixer over the sequence, one over the reversed
sequence, their outputs summed, as in Vision Mamba), so after a single layer every token has
seen every other.

Each layer is a pre-norm residual pair of Mamba2 mixers. :class:`Mamba2Mixer` keeps the parameters under
the names of mamba-ssm's ``Mamba2`` (state dicts load either way) and runs its scan with
mamba-ssm's Triton kernel (``mamba_chunk_scan_combined``, the kernel of ``Mamba2`` with
``use_mem_eff_path=False``) on CUDA when mamba-ssm imports, otherwise with the pure-PyTorch
chunked SSD of :mod:`xtgeo.models.context.ssd` (one warning, once, when that happens on CUDA).
"""

from __future__ import annotations

import functools
import math
import sys
import types
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from xtgeo.models.context.base import register
from xtgeo.models.context.sequence import SequenceEncoder
from xtgeo.models.context.ssd import ssd_chunked


def _import_triton_scan() -> Callable:
    try:
        from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined
    except ModuleNotFoundError as exc:
        if exc.name != "selective_scan_cuda":
            raise
        # mamba-ssm installed without its CUDA extension (MAMBA_SKIP_CUDA_BUILD): only Mamba1's
        # selective scan needs it, and mamba_ssm/__init__ imports it eagerly. Stand in an empty one.
        sys.modules["selective_scan_cuda"] = types.ModuleType("selective_scan_cuda")
        from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined
    return mamba_chunk_scan_combined


@functools.lru_cache(maxsize=1)
def triton_scan() -> Callable | None:
    """mamba-ssm's Triton ``mamba_chunk_scan_combined``, or None (warning once) if it won't import."""
    try:
        return _import_triton_scan()
    except Exception as exc:  # ImportError, or Triton failing to initialise
        warnings.warn(
            f"mamba context: mamba-ssm's Triton kernel is unavailable ({exc}); "
            "using the pure-PyTorch chunked SSD instead",
            stacklevel=3,
        )
        return None


class GatedRMSNorm(nn.Module):
    """RMS-normalise ``y · silu(z)`` in groups, then scale (Mamba2's ``norm_before_gate=False``)."""

    def __init__(self, dim: int, groups: int = 1, eps: float = 1e-5) -> None:
        super().__init__()
        self.groups, self.eps = groups, eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        gated = (y.float() * F.silu(z.float())).unflatten(-1, (self.groups, -1))
        normed = F.rms_norm(gated, gated.shape[-1:], eps=self.eps).flatten(-2)
        return (normed * self.weight.float()).to(y.dtype)


class Mamba2Mixer(nn.Module):
    """One Mamba2 mixer (Dao & Gu 2024) on (B, L, D) sequences; parameters named as mamba-ssm's.

    ``use_triton``: use mamba-ssm's Triton scan for CUDA inputs when it imports (else PyTorch).
    """

    def __init__(
        self,
        dim: int,
        d_state: int = 64,
        d_conv: int = 4,
        expand: int = 2,
        headdim: int = 64,
        ngroups: int = 1,
        chunk_size: int = 256,
        A_init_range: tuple[float, float] = (1.0, 16.0),
        dt_range: tuple[float, float] = (1e-3, 1e-1),
        dt_init_floor: float = 1e-4,
        use_triton: bool = True,
    ) -> None:
        super().__init__()
        self.d_inner = expand * dim
        if self.d_inner % headdim or self.d_inner // headdim % ngroups:
            raise ValueError(
                f"mamba: expand*dim={self.d_inner} must split into heads of {headdim}, "
                f"a multiple of ngroups={ngroups} of them"
            )
        self.d_state, self.headdim, self.ngroups = d_state, headdim, ngroups
        self.nheads, self.chunk_size, self.use_triton = self.d_inner // headdim, chunk_size, use_triton
        conv_dim = self.d_inner + 2 * ngroups * d_state
        # in_proj output order as in mamba-ssm: [z, x, B, C, dt]
        self.in_proj = nn.Linear(dim, self.d_inner + conv_dim + self.nheads, bias=False)
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, d_conv, groups=conv_dim, padding=d_conv - 1)
        low, high = math.log(dt_range[0]), math.log(dt_range[1])
        dt = torch.exp(torch.rand(self.nheads) * (high - low) + low).clamp(min=dt_init_floor)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # softplus⁻¹(dt)
        self.A_log = nn.Parameter(torch.empty(self.nheads).uniform_(*A_init_range).log())
        self.D = nn.Parameter(torch.ones(self.nheads))
        self.norm = GatedRMSNorm(self.d_inner, groups=ngroups)
        self.out_proj = nn.Linear(self.d_inner, dim, bias=False)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        length = u.shape[1]
        z, xbc, dt = self.in_proj(u).split([self.d_inner, self.conv1d.in_channels, self.nheads], dim=-1)
        xbc = F.silu(self.conv1d(xbc.transpose(1, 2).contiguous())[..., :length].transpose(1, 2))  # causal
        x, B, C = xbc.split([self.d_inner, self.ngroups * self.d_state, self.ngroups * self.d_state], dim=-1)
        x = x.unflatten(-1, (self.nheads, self.headdim))
        B, C = (t.unflatten(-1, (self.ngroups, self.d_state)) for t in (B, C))
        A = -torch.exp(self.A_log.float())
        kernel = triton_scan() if (self.use_triton and u.is_cuda) else None
        if kernel is not None:
            y = kernel(x, dt, A, B, C, chunk_size=self.chunk_size, D=self.D, dt_bias=self.dt_bias, dt_softplus=True)
        else:
            y = self._scan_torch(x, dt, A, B, C)
        return self.out_proj(self.norm(y.flatten(-2), z))

    def _scan_torch(
        self, x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
    ) -> torch.Tensor:
        """The scan plus the D skip on the PyTorch path, in float32 at least (bf16 decays drift)."""
        work = torch.promote_types(x.dtype, torch.float32)
        x, B, C = x.to(work), B.to(work), C.to(work)
        dt = F.softplus(dt.to(work) + self.dt_bias.to(work))
        return ssd_chunked(x, dt, A.to(work), B, C, self.chunk_size) + x * self.D.to(work)[:, None]


class MambaLayer(nn.Module):
    """Pre-norm residual bidirectional layer: a Mamba2 mixer scans the sequence forward, another
    (own weights) scans it reversed, and their outputs are summed, so every output token depends
    on every input token."""

    def __init__(self, dim: int, **mixer_options) -> None:
        super().__init__()
        self.norm = nn.RMSNorm(dim)
        self.forward_mixer = Mamba2Mixer(dim, **mixer_options)
        self.backward_mixer = Mamba2Mixer(dim, **mixer_options)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        h = self.norm(seq)
        return seq + self.forward_mixer(h) + self.backward_mixer(h.flip(1)).flip(1)


@register("mamba")
class MambaContext(SequenceEncoder):
    """Bidirectional Mamba2 context: ``depth`` layers, each scanning image order both ways.

    ``heads`` sets the number of SSM heads (headdim = expand·dim / heads) unless ``headdim`` is
    given; other options (``d_state``, ``d_conv``, ``expand``, ``ngroups``, ``chunk_size``,
    ``use_triton``) go to :class:`Mamba2Mixer`.
    """

    order = "image"

    def __init__(
        self, dim: int, depth: int, heads: int, headdim: int | None = None, expand: int = 2, **mixer_options
    ) -> None:
        super().__init__(dim, depth, heads)
        if headdim is None:
            if expand * dim % heads:
                raise ValueError(f"mamba: expand*dim={expand * dim} is not divisible by heads={heads}")
            headdim = expand * dim // heads
        self.layers = nn.ModuleList(
            MambaLayer(dim, headdim=headdim, expand=expand, **mixer_options) for _ in range(depth)
        )

    def encode(self, seq: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            seq = layer(seq)
        return seq
