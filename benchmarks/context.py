"""Speed and memory of the context encoders against sequence length; Mamba Triton-vs-PyTorch check.

For each kind and number of tokens N (regions of 8×8 deepest-level tokens, as SwinV2-T gives for
256 px regions, laid out as a near-square image), times forward+backward of the context encoder
alone and prints tokens/s and peak GPU memory. ``mamba-torch`` is ``mamba`` forced onto the
pure-PyTorch SSD. With ``--check-mamba`` (CUDA, mamba-ssm installed) it also compares, on the same
weights and input, our ``mamba`` kind on the Triton path, on the PyTorch path, and mamba-ssm's own
``Mamba2(use_mem_eff_path=False)`` loaded with our mixer's state dict.

Examples:
    python benchmarks/context.py --device cpu --dim 96 --heads 4 --lengths 1024,4096
    python benchmarks/context.py --device cuda --check-mamba --lengths 4096,65536,262144,701184
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from rich.console import Console
from rich.table import Table

from xtgeo.models.context import build_context_encoder
from xtgeo.models.tokenize import RegionGrid, token_positions

TOKENS_PER_SIDE = 8  # deepest level of a 256 px region at stride 32
KIND_OPTIONS = {
    "mamba": dict(headdim=64),
    "mamba-torch": dict(headdim=64, use_triton=False),
    "hyper": dict(),
    "bixt": dict(),
    "vit": dict(),
}


def image_tokens(n_tokens: int, dim: int, device: str, dtype: torch.dtype):
    """(1, R, 64, dim) random tokens of a near-square region grid holding ≈ n_tokens, pos, valid."""
    regions = max(1, round(n_tokens / TOKENS_PER_SIDE**2))
    rows = max(1, int(math.sqrt(regions)))
    cols = math.ceil(regions / rows)
    grid = RegionGrid(rows * 256, cols * 256, 256)
    pos, valid = token_positions(grid, TOKENS_PER_SIDE, TOKENS_PER_SIDE, device=device)
    tokens = torch.randn(1, grid.count, TOKENS_PER_SIDE**2, dim, device=device, dtype=dtype)
    return tokens, pos, valid


def build(kind: str, dim: int, depth: int, heads: int, device: str) -> torch.nn.Module:
    name = "mamba" if kind.startswith("mamba") else kind
    return build_context_encoder(name, dim=dim, depth=depth, heads=heads, **KIND_OPTIONS[kind]).to(device)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_step(encoder, tokens, pos, valid, device: str, dtype: torch.dtype, repeats: int) -> tuple[float, float]:
    """Median seconds of one forward+backward, and peak GPU memory in GiB (nan on CPU)."""
    x = tokens.detach().requires_grad_(True)

    probe = torch.randn(tokens.shape[-1], device=device)

    def step() -> None:
        with torch.autocast(device, dtype=dtype, enabled=dtype != torch.float32):
            out = encoder(x, pos, valid)
        (out.float() @ probe).mean().backward()

    step()  # warm-up: kernel compilation, allocator
    sync(device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
    return statistics.median(times), peak


def speed_table(args, dtype: torch.dtype) -> Table:
    table = Table(title=f"context encoders, fwd+bwd, dim {args.dim}, depth {args.depth}, {args.dtype}, {args.device}")
    for column in ("kind", "tokens", "regions", "ms", "tokens/s", "peak GiB"):
        table.add_column(column, justify="right")
    for kind in args.kinds.split(","):
        for n_tokens in (int(n) for n in args.lengths.split(",")):
            torch.manual_seed(0)
            tokens, pos, valid = image_tokens(n_tokens, args.dim, args.device, torch.float32)
            row = [kind, f"{tokens.shape[1] * tokens.shape[2]:,}", f"{tokens.shape[1]:,}"]
            try:
                encoder = build(kind, args.dim, args.depth, args.heads, args.device)
                seconds, peak = time_step(encoder, tokens, pos, valid, args.device, dtype, args.repeats)
            except torch.OutOfMemoryError:
                table.add_row(*row, "OOM", "-", "-")
                break
            finally:
                encoder = None
                if args.device == "cuda":
                    torch.cuda.empty_cache()
            table.add_row(*row, f"{seconds * 1e3:.1f}", f"{tokens.numel() / args.dim / seconds:,.0f}", f"{peak:.2f}")
            if seconds > args.max_seconds:
                break
    return table


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def mamba_check(args) -> Table:
    """Our mamba on Triton vs PyTorch, and our mixer vs mamba-ssm's Mamba2, same weights and input."""
    from xtgeo.models.context.mamba import triton_scan

    assert triton_scan() is not None, "mamba-ssm's Triton kernel did not import"
    from mamba_ssm.modules.mamba2 import Mamba2  # importable now that triton_scan stubbed what it lacks

    table = Table(title="mamba: Triton path vs PyTorch path (same weights, same input)")
    for column in ("compare", "dtype", "tokens", "rel. error fwd", "rel. error grad"):
        table.add_column(column, justify="right")
    torch.manual_seed(0)
    tokens, pos, valid = image_tokens(args.check_tokens, args.dim, "cuda", torch.float32)
    encoder = build("mamba", args.dim, args.depth, args.heads, "cuda")
    mixers = [m for layer in encoder.layers for m in (layer.forward_mixer, layer.backward_mixer)]
    probe = torch.randn(args.dim, device="cuda")  # a random readout: mean-square would be flat behind LayerNorm

    def run(use_triton: bool, dtype: torch.dtype):
        for mixer in mixers:
            mixer.use_triton = use_triton
        encoder.zero_grad()
        x = tokens.detach().requires_grad_(True)
        with torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
            out = encoder(x, pos, valid)
        (out.float() @ probe).mean().backward()
        return out.detach(), x.grad.detach()

    n = f"{tokens.shape[1] * tokens.shape[2]:,}"
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        (out_t, grad_t), (out_p, grad_p) = run(True, dtype), run(False, dtype)
        errors = f"{relative_error(out_t, out_p):.2e}", f"{relative_error(grad_t, grad_p):.2e}"
        table.add_row("Triton vs PyTorch", name, n, *errors)

    ours = mixers[0]
    theirs = Mamba2(
        args.dim, d_state=ours.d_state, headdim=ours.headdim, ngroups=ours.ngroups,
        chunk_size=ours.chunk_size, use_mem_eff_path=False, device="cuda",
    )
    theirs.load_state_dict(ours.state_dict(), strict=True)
    u = torch.randn(1, args.check_tokens, args.dim, device="cuda")
    for use_triton in (True, False):
        ours.use_triton = use_triton
        with torch.no_grad():
            err = relative_error(ours(u), theirs(u))
        path = "Triton" if use_triton else "PyTorch"
        table.add_row(f"mamba-ssm Mamba2 vs our mixer ({path})", "fp32", f"{args.check_tokens:,}", f"{err:.2e}", "-")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--kinds", default="mamba,mamba-torch,hyper,bixt,vit", help="'' for none")
    parser.add_argument(
        "--lengths", default="4096,16384,65536,262144,701184", help="tokens; 701,184 ≈ a full xView3 scene"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--max-seconds", type=float, default=10.0, help="stop growing a kind's length past this step time"
    )
    parser.add_argument("--check-mamba", action="store_true")
    parser.add_argument("--check-tokens", type=int, default=16384)
    args = parser.parse_args()
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype]
    console = Console(width=140)
    if args.device == "cuda":
        console.print(torch.cuda.get_device_name())
    if args.check_mamba:
        console.print(mamba_check(args))
    if args.kinds:
        console.print(speed_table(args, dtype))


if __name__ == "__main__":
    main()
