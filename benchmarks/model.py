"""xT model figures on one GPU: training throughput and MFU, peak memory against image size.

Sections (``--sections``, comma-separated):

* ``peak``: measured bf16 matrix-product rate (8192³), the ceiling that MFU is reported against.
* ``throughput``: forward+backward regions/s in bf16 for Swin-T xT with each context kind, and
  for plain timm SwinV2-T on 256-px images; FLOPs counted with ``torch.utils.flop_counter``.
* ``memory``: peak memory of forward+backward against image side, xT (checkpointed regions,
  context and decoder bands) against plain SwinV2-T on the whole image, and memory per region.
* ``full``: one full xView3 scene, 29,400 × 24,400 px, forward+backward.

Example: python benchmarks/model.py --sections peak,throughput,memory,full --json out/model.json
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import timm
import torch
import yaml
from rich.console import Console
from rich.table import Table
from torch.utils.flop_counter import FlopCounterMode

from xtgeo.config import DEFAULT_BACKBONE as BACKBONE
from xtgeo.models import CONTEXT_KINDS, build_model

FULL_SCENE = (29_400, 24_400)
console = Console()


#: Decoder and context settings of every xT model here (``--decoder``/``--context KEY=VALUE`` add to them).
DECODER: dict[str, Any] = {"band_rows": 16}
CONTEXT: dict[str, Any] = {"depth": 2, "heads": 8}


def xt_config(kind: str, region_batch: int, checkpointing: bool, **context: Any) -> dict[str, Any]:
    """Swin-T xT at 256-px regions; everything checkpointed when ``checkpointing``."""
    ctx = dict(CONTEXT, kind=kind, **context)
    if checkpointing and kind in ("xl", "vit"):
        ctx["grad_checkpointing"] = True
    return dict(
        in_chans=2,
        region_size=256,
        region_batch=region_batch,
        region_encoder=dict(name=BACKBONE, grad_checkpointing=checkpointing),
        context=ctx,
        decoder=dict(DECODER, grad_checkpointing=checkpointing),
    )


def train_step(model: torch.nn.Module, x: torch.Tensor) -> None:
    """One bf16 forward+backward; the loss touches every output."""
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(x)
    maps = out.values() if isinstance(out, dict) else [out]
    sum(m.float().mean() for m in maps).backward()


def timed(step: Callable[[], None], repeats: int, warmup: int = 2) -> float:
    """Median seconds of ``step`` after ``warmup`` runs, timed with CUDA events."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1000)
    return sorted(times)[len(times) // 2]


def count_flops(step: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def fresh() -> None:
    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()


def measure_peak() -> dict[str, float]:
    a, b = (torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    seconds = timed(lambda: a @ b, repeats=10, warmup=3)
    return {"bf16_matmul_tflops": 2 * 8192**3 / seconds / 1e12}


def throughput_rows(kinds: list[str], side: int, region_batch: int, repeats: int, compile_: bool, peak: float):
    rows = []
    x = torch.randn(1, 2, side, side, device="cuda")
    regions = (side // 256) ** 2
    for kind in kinds:
        fresh()
        try:
            model = build_model(xt_config(kind, region_batch, checkpointing=False)).cuda().train()
            flops = count_flops(lambda: train_step(model, x))  # eager: the counter sees every op
            if compile_:
                model.compile_stages()
            seconds = timed(lambda: train_step(model, x), repeats)
            name = f"xT Swin-T {kind}" + (" compiled" if compile_ else "")
            rows.append(_throughput_row(name, regions, seconds, flops, peak))
        except Exception as err:  # one kind failing must not hide the others' figures
            rows.append({"model": f"xT Swin-T {kind}", "error": f"{type(err).__name__}: {str(err)[:80]}"})
        model = None
        console.print(rows[-1])
    fresh()
    plain = timm.create_model(BACKBONE, in_chans=2).cuda().train()
    xb = torch.randn(region_batch, 2, 256, 256, device="cuda")
    flops = count_flops(lambda: train_step(plain, xb))
    if compile_:
        plain.compile()
    seconds = timed(lambda: train_step(plain, xb), repeats)
    name = "plain SwinV2-T (timm)" + (" compiled" if compile_ else "")
    rows.append(_throughput_row(name, region_batch, seconds, flops, peak))
    console.print(rows[-1])
    return rows


def _throughput_row(name: str, regions: int, seconds: float, flops: int, peak: float) -> dict[str, Any]:
    achieved = flops / seconds / 1e12
    return {
        "model": name,
        "regions_per_s": regions / seconds,
        "step_s": seconds,
        "tflop_per_step": flops / 1e12,
        "tflops": achieved,
        "pct_peak": 100 * achieved / peak,
    }


def peak_memory(step: Callable[[], None]) -> tuple[float, float]:
    """(peak GiB allocated, seconds) of one run of ``step``; raises OutOfMemoryError."""
    fresh()
    torch.cuda.synchronize()
    start = time.perf_counter()
    step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**30, time.perf_counter() - start


def memory_rows(sides: list[tuple[int, int]], kind: str, region_batch: int, plain_too: bool):
    rows = []
    model = build_model(xt_config(kind, region_batch, checkpointing=True)).cuda().train()
    plain_failed = not plain_too
    for height, width in sides:
        row: dict[str, Any] = {"side": f"{height}x{width}", "regions": -(-height // 256) * -(-width // 256)}
        x = torch.randn(1, 2, height, width, device="cuda", dtype=torch.bfloat16)
        try:
            gib, seconds = peak_memory(lambda: train_step(model, x))
            row.update(xt_gib=gib, xt_s=seconds, xt_mib_per_region=gib * 1024 / row["regions"])
        except torch.OutOfMemoryError:
            row["xt_gib"] = "OOM"
        model.zero_grad(set_to_none=True)
        if not plain_failed:
            try:
                plain = timm.create_model(BACKBONE, in_chans=2, img_size=(height, width)).cuda().train()
                gib, seconds = peak_memory(lambda: train_step(plain, x))
                row.update(plain_gib=gib, plain_s=seconds)
            except Exception as err:  # OOM, or a size plain Swin cannot take
                row["plain_gib"], plain_failed = type(err).__name__, True
            plain = None
        x = None
        rows.append(row)
        console.print(row)
    return rows


def table(title: str, rows: list[dict[str, Any]]) -> Table:
    tab = Table(title=title)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    for key in keys:
        tab.add_column(key)
    for row in rows:
        tab.add_row(*(f"{row[k]:,.2f}" if isinstance(row.get(k), float) else str(row.get(k, "")) for k in keys))
    return tab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="peak,throughput,memory,full")
    parser.add_argument("--kinds", default=",".join(CONTEXT_KINDS), help="context kinds for throughput")
    parser.add_argument("--memory-kind", default="xl")
    parser.add_argument("--side", type=int, default=2048, help="image side for throughput")
    parser.add_argument("--region-batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sides", default="1024,2048,4096,8192,16384")
    parser.add_argument("--no-plain", action="store_true", help="skip plain SwinV2-T in the memory sweep")
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbones")
    parser.add_argument("--decoder", action="append", default=[], metavar="KEY=VALUE",
                        help="decoder setting of the xT models, e.g. out_stride=2 (repeatable)")
    parser.add_argument("--context", action="append", default=[], metavar="KEY=VALUE",
                        help="context setting of the xT models, e.g. dim=384 (repeatable)")
    parser.add_argument("--json", type=Path, help="write all figures here")
    args = parser.parse_args()
    for settings, items in ((DECODER, args.decoder), (CONTEXT, args.context)):
        settings.update((key, yaml.safe_load(value)) for key, value in (item.split("=", 1) for item in items))
    sections = args.sections.split(",")
    torch.backends.cuda.matmul.allow_tf32 = True
    results: dict[str, Any] = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "decoder": DECODER,
                               "context": CONTEXT}
    peak = 989.0  # dense bf16 datasheet figure, replaced by the measured one when asked
    tables = []

    def save() -> None:
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=2))

    if "peak" in sections:
        results["peak"] = measure_peak()
        peak = results["peak"]["bf16_matmul_tflops"]
        console.print(results["peak"])
    results["peak_tflops_used"] = peak
    if "throughput" in sections:
        rows = throughput_rows(args.kinds.split(","), args.side, args.region_batch, args.repeats, args.compile, peak)
        results["throughput"] = rows
        tables.append(table(f"fwd+bwd bf16, {args.side}px images, % of {peak:.0f} TFLOP/s", rows))
        save()
    sides = [(int(s), int(s)) for s in args.sides.split(",") if s] if "memory" in sections else []
    if "full" in sections:
        sides.append(FULL_SCENE)
    if "memory" in sections or "full" in sections:
        rows = memory_rows(sides, args.memory_kind, args.region_batch, plain_too=not args.no_plain)
        results["memory"] = rows
        tables.append(table(f"peak memory fwd+bwd bf16, xT Swin-T {args.memory_kind} vs plain SwinV2-T", rows))
        save()
    for tab in tables:
        console.print(tab)


if __name__ == "__main__":
    main()
