"""Mamba2's selective state-space scan in pure PyTorch: chunked (state-space duality) and naive.

Per head the recurrence over time t is, with state S (headdim × d_state),

    S_t = exp(dt_t · A) · S_{t-1} + dt_t · x_t B_tᵀ,        y_t = S_t C_t

:func:`ssd_chunked` computes it as Dao & Gu (2024) do: exact quadratic attention-like products
inside chunks of ``chunk_size`` steps, plus a short recurrence that carries the state from one
chunk to the next. :func:`ssd_sequential` is the step-by-step reference it must match.

Shapes: x (b, l, h, p); dt (b, l, h), positive (after softplus); A (h,), negative;
B, C (b, l, g, n) with g groups of heads (h divisible by g). Returns y (b, l, h, p).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _heads(bc: torch.Tensor, heads: int) -> torch.Tensor:
    """Broadcast (b, l, g, n) group-shared B or C to (b, l, h, n)."""
    return bc.repeat_interleave(heads // bc.shape[2], dim=2)


def segment_sums(a: torch.Tensor) -> torch.Tensor:
    """(…, T) log-decays → (…, T, T) with [i, j] = a_{j+1} + … + a_i for i ≥ j, −inf above.

    Summed directly (masked cumulative sum), not as a difference of prefix sums, so that long
    chunks of strong decay do not lose precision.
    """
    steps = a.shape[-1]
    below = torch.tril(torch.ones(steps, steps, dtype=torch.bool, device=a.device), diagonal=-1)
    sums = a.unsqueeze(-1).expand(*a.shape, steps).masked_fill(~below, 0).cumsum(dim=-2)
    on_or_below = torch.tril(torch.ones(steps, steps, dtype=torch.bool, device=a.device))
    return sums.masked_fill(~on_or_below, float("-inf"))


def ssd_chunked(
    x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, chunk_size: int = 256
) -> torch.Tensor:
    """The selective scan by chunks (state-space duality); see the module doc for shapes."""
    batch, length, heads, _ = x.shape
    pad = -length % chunk_size
    # zero-padded steps have dt = 0: no decay and no input, so the state passes through unchanged
    x, dt, B, C = (F.pad(t, (0, 0) * (t.dim() - 2) + (0, pad)) for t in (x, dt, B, C))
    chunks = (length + pad) // chunk_size

    def split(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(batch, chunks, chunk_size, *t.shape[2:])

    xdt = split(x * dt.unsqueeze(-1))  # (b, c, Q, h, p)
    B, C = split(_heads(B, heads)), split(_heads(C, heads))  # (b, c, Q, h, n)
    a = split(dt * A).permute(0, 3, 1, 2)  # (b, h, c, Q) log-decay of each step
    a_cum = a.cumsum(dim=-1)

    # 1. inside each chunk: y_i = Σ_{j≤i} (C_i·B_j) exp(a_{j+1}+…+a_i) dt_j x_j
    decay = torch.exp(segment_sums(a)).transpose(1, 2)  # (b, c, h, Q, Q)
    mixing = torch.einsum("bcihn,bcjhn->bchij", C, B) * decay
    y = torch.einsum("bchij,bcjhp->bcihp", mixing, xdt)

    # 2. each chunk's own contribution to the state at its end
    to_end = torch.exp(a_cum[..., -1:] - a_cum).permute(0, 2, 3, 1).unsqueeze(-1)  # (b, c, Q, h, 1)
    chunk_states = torch.einsum("bcjhn,bcjhp->bchpn", B * to_end, xdt)

    # 3. carry states across chunks: S_in[c+1] = exp(Σ a over chunk c) S_in[c] + chunk_states[c]
    chunk_decay = torch.exp(a_cum[..., -1]).transpose(1, 2)[..., None, None]  # (b, c, h, 1, 1)
    state = torch.zeros_like(chunk_states[:, 0])
    entering = []
    for c in range(chunks):
        entering.append(state)
        state = chunk_decay[:, c] * state + chunk_states[:, c]
    states_in = torch.stack(entering, dim=1)  # (b, c, h, p, n)

    # 4. the carried-in state's effect inside each chunk, decayed to each step
    from_start = torch.exp(a_cum).permute(0, 2, 3, 1).unsqueeze(-1)  # (b, c, Q, h, 1)
    y = y + torch.einsum("bcihn,bchpn->bcihp", C, states_in) * from_start
    return y.reshape(batch, chunks * chunk_size, heads, -1)[:, :length]


def ssd_sequential(
    x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> torch.Tensor:
    """The same scan one step at a time: the slow, obviously correct reference."""
    batch, length, heads, headdim = x.shape
    B, C = _heads(B, heads), _heads(C, heads)
    state = x.new_zeros(batch, heads, headdim, B.shape[-1])
    ys = []
    for t in range(length):
        decay = torch.exp(dt[:, t] * A)[..., None, None]  # (b, h, 1, 1)
        update = (dt[:, t, :, None] * x[:, t]).unsqueeze(-1) * B[:, t].unsqueeze(-2)  # (b, h, p, n)
        state = decay * state + update
        ys.append(torch.einsum("bhpn,bhn->bhp", state, C[:, t]))
    return torch.stack(ys, dim=1)
