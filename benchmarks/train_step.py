"""The model-only training step of a config on one GPU: regions/s and memory per memory policy.

For each memory policy (which of backbone, context and decoder run under activation
checkpointing, :mod:`xtgeo.train.memory`) and batch size: bf16 forward, a loss over every output map, backward, gradient
clipping and a fused AdamW step, on random crops of the config's ``data.crop_size``; with
``--compile`` the pixel stages (backbone, decoder) go through ``torch.compile`` once and every
policy reuses them. Median of ``--repeats`` steps after warm-up. ``--profile`` writes a torch
profiler table of one step of the first policy; ``--contexts`` times the context encoders alone
on the config's token grid. No data loading: this is the ceiling ``xtgeo train`` is measured
against (``benchmarks/train.py`` prints both).

Example:
    python benchmarks/train_step.py --config configs/xview3_swin_t_xl.yaml --compile \\
        --policies backbone+context+decoder,decoder,none --batches 1,2 --json out/step.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from benchmarks.model import table, timed
from xtgeo.config import load_config
from xtgeo.models import build_model
from xtgeo.models.context import build_context_encoder
from xtgeo.train.compiling import activation_budget
from xtgeo.train.memory import POLICIES, apply_policy

console = Console()


def make_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor):
    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(x)
        loss = sum(m.float().mean() for m in out.values())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def policy_rows(model, crop: int, regions: int, policies: list[str], batches: list[int], repeats: int) -> list[dict]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    rows = []
    for batch in batches:
        x = torch.randn(batch, model.encoder.in_chans, crop, crop, device="cuda")
        for policy in policies:
            apply_policy(model, policy)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            row: dict[str, Any] = {"policy": policy, "batch": batch}
            try:
                seconds = timed(make_step(model, optimizer, x), repeats)
                peak = torch.cuda.max_memory_allocated() / 1e9
                row.update(step_s=seconds, regions_per_s=batch * regions / seconds, peak_gb=peak,
                           gb_per_region=peak / (batch * regions))
            except torch.OutOfMemoryError:
                row["step_s"] = "OOM"
                optimizer.zero_grad(set_to_none=True)
            rows.append(row)
            console.print(row)
    return rows


def profile_step(model, crop: int, policy: str, out: Path) -> dict[str, float]:
    """Profile one step; write the kernel table to ``out``; return GPU-busy share and times."""
    from torch.profiler import ProfilerActivity, profile

    apply_policy(model, policy)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    step = make_step(model, optimizer, torch.randn(1, model.encoder.in_chans, crop, crop, device="cuda"))
    for _ in range(2):
        step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        wall = time.perf_counter() - start
    events = prof.key_averages()
    kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]  # not their CPU ops too
    gpu = sum(e.self_device_time_total for e in kernels) / 1e6
    out.write_text(events.table(sort_by="self_device_time_total", row_limit=40, max_name_column_width=90))
    return {"wall_s": wall, "kernel_s": gpu, "gpu_busy": gpu / wall}


def context_rows(dim: int, regions: int, tokens: int, variants: dict[str, dict], repeats: int) -> list[dict]:
    """Forward+backward of each context encoder alone on (1, regions, tokens, dim) bf16 tokens."""
    side = int(round(regions**0.5))
    per = int(round(tokens**0.5))
    ry, rx, ty, tx = torch.meshgrid(*(torch.arange(n) for n in (side, side, per, per)), indexing="ij")
    pos = torch.stack([ry * per + ty, rx * per + tx], -1).reshape(regions, tokens, 2).float().cuda()
    rows = []
    for name, options in variants.items():
        torch.manual_seed(0)
        encoder = build_context_encoder(dim=dim, **options).cuda()
        x = torch.randn(1, regions, tokens, dim, device="cuda", requires_grad=True)

        def step() -> None:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out = encoder(x, pos, None)
            out.float().square().mean().backward()

        try:
            rows.append({"context": name, "fwd_bwd_ms": 1e3 * timed(step, repeats)})
        except Exception as err:  # one encoder failing must not hide the others
            rows.append({"context": name, "fwd_bwd_ms": f"{type(err).__name__}: {str(err)[:60]}"})
        console.print(rows[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=Path("configs/xview3_swin_t_xl.yaml"))
    parser.add_argument("--policies", default=",".join(reversed(POLICIES)),
                        help="checkpointed stages, '+'-joined, or none; comma-separated")
    parser.add_argument("--batches", default="1")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--profile", type=Path, help="write a profiler table of one step here")
    parser.add_argument("--contexts", action="store_true", help="also time each context encoder alone")
    parser.add_argument("--set", action="append", default=[], help="config override key=value (repeatable)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cfg = load_config(args.config, args.set)  # its base: chain resolved, checked
    crop = cfg.data.crop_size
    model_cfg = cfg.model
    torch.manual_seed(0)
    model = build_model(model_cfg).cuda().train()
    if args.compile:
        model.compile_stages()
    regions = (crop // model.encoder.region_size) ** 2
    results: dict[str, Any] = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                               "config": str(args.config), "set": args.set, "crop": crop, "regions": regions,
                               "compile": args.compile}
    start = time.perf_counter()
    with activation_budget(cfg.train.activation_memory_budget):  # as xtgeo train compiles
        rows = policy_rows(model, crop, regions, args.policies.split(","), [int(b) for b in args.batches.split(",")],
                           args.repeats)
    results.update(first_policy_s=time.perf_counter() - start, steps=rows)
    tables = [table(f"model-only train step, {args.config.name}, {crop}² crops, {regions} regions each", rows)]
    if args.profile:
        results["profile"] = profile_step(model, crop, args.policies.split(",")[0], args.profile)
        console.print(results["profile"])
    if args.contexts:
        ctx = model_cfg.context
        dim, depth, heads = ctx.dim or model.encoder.channels[-1], ctx.depth, ctx.heads
        tokens = (model.encoder.region_size // model.encoder.reductions[-1]) ** 2
        base = dict(depth=depth, heads=heads)
        variants = {
            "xl two-pass, all memory (default)": dict(kind="xl", chunk_regions=16, **base),
            "xl one pass, mem_len 4096": dict(kind="xl", chunk_regions=16, two_pass=False, mem_len=4096, **base),
            "vit": dict(kind="vit", **base),
            "mamba (bidirectional)": dict(kind="mamba", **base),
            "bixt": dict(kind="bixt", **base),
            "hyper": dict(kind="hyper", **base),
        }
        results["contexts"] = context_rows(dim, regions, tokens, variants, args.repeats)
        tables.append(table(f"context alone, fwd+bwd bf16, {regions} regions × {tokens} tokens, dim {dim}",
                            results["contexts"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    for tab in tables:
        console.print(tab)


if __name__ == "__main__":
    main()
