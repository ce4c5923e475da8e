"""Benchmark ``xtgeo train`` against the model alone: regions/s, GB per region, data wait.

Makes synthetic scenes (``xtgeo synth``) and preprocesses them (``xtgeo preprocess``) into
``--work`` (kept and reused), runs ``xtgeo train`` with ``--config`` for ``--steps`` steps
(validation off, one checkpoint at the end), and prints from the run's own ``metrics.jsonl`` the
median regions/s, peak GB and GB per region and the median ``data_wait_fraction`` of the logged
rows after the first (compilation, memory probes), the start-up (``startup_s``: model built to first
step done) and ``compiled_graphs`` (at the first step → at later rows, one number when nothing
recompiled) — next to the model-only rate of
``benchmarks/train_step.py`` on the same GPU in the same run (random crops, no loader), with the
checkpointing policy that training chose. ``--set`` overrides go to both.

Example (one GPU; the targets of issue 13: >= 250 regions/s of 512 px, <= 0.25 GB per region,
data_wait_fraction <= 0.05):
    python benchmarks/train.py --config configs/xview3_swin_t_xl.yaml --steps 60 --work /tmp/bench_train
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
console = Console()


def xtgeo(*args: str) -> None:
    console.print("[dim]$ xtgeo " + " ".join(args))
    subprocess.run([sys.executable, str(REPO / "cli.py"), *args], cwd=REPO, check=True)


def prepare(work: Path, scenes: int, side: int) -> Path:
    """Synthetic scenes preprocessed into ``work/prep`` (made once, reused)."""
    prep = work / "prep"
    if not (prep / "labels.parquet").is_file():
        xtgeo("synth", str(work / "scenes"), "--scenes", str(scenes), "--height", str(side), "--width", str(side))
        xtgeo("preprocess", str(work / "scenes"), "--out", str(prep), "--labels", str(work / "scenes" / "labels.csv"))
    return prep


def train_figures(run: Path, regions_per_crop: int, batch: int) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = [row for row in rows if "loss" in row][1:]  # the first window holds compilation and probes
    if not steps:
        raise SystemExit(f"{run}: fewer than two logged training rows; raise --steps")
    startup = next((row for row in rows if "startup_s" in row), {})
    peak_gb = max(row["memory_gib"] for row in steps) * 2**30 / 1e9
    graphs = [row["compiled_graphs"] for row in (startup, *steps) if "compiled_graphs" in row]
    return {
        "what": "xtgeo train (metrics.jsonl)",
        "regions_per_s": statistics.median(row["regions_per_s"] for row in steps),
        "peak_gb": peak_gb,
        "gb_per_region": peak_gb / (regions_per_crop * batch),
        "data_wait_fraction": statistics.median(row["data_wait_fraction"] for row in steps),
        "checkpointing": steps[-1].get("checkpointing", "?"),
        "compiled": steps[-1].get("compiled", "-"),
        "workers": steps[-1].get("workers", "?"),
        "startup_s": startup.get("startup_s", "-"),
        "compiled_graphs": "→".join(str(g) for g in dict.fromkeys(graphs)) or "-",  # first step → later rows
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "xview3_swin_t_xl.yaml")
    parser.add_argument("--work", type=Path, default=Path("/tmp/xtgeo_bench_train"))
    parser.add_argument("--scenes", type=int, default=3)
    parser.add_argument("--side", type=int, default=8192, help="synthetic scene side in pixels")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], help="config override key=value (repeatable)")
    parser.add_argument("--no-model-only", action="store_true", help="skip the model-only step benchmark")
    args = parser.parse_args()
    from xtgeo.config import load_config

    cfg = load_config(args.config, args.set)  # its base: chain resolved, checked
    crop, region, batch = cfg.data.crop_size, cfg.model.region_size, cfg.train.batch_size
    regions_per_crop = (-(-crop // region)) ** 2

    prep = prepare(args.work, args.scenes, args.side)
    run = args.work / "run"
    n = 0
    while (run.parent / f"run{n}").exists():
        n += 1
    run = run.parent / f"run{n}"
    overrides = [f"train.steps={args.steps}", f"train.log_every={args.log_every}", "train.validation=none",
                 f"train.checkpoint_every={args.steps}", "data.val_scenes_count=0", *args.set]
    xtgeo("train", "--config", str(args.config), "--data", str(prep), "--out", str(run),
          *[arg for item in overrides for arg in ("--set", item)])
    rows = [train_figures(run, regions_per_crop, batch)]

    if not args.no_model_only:
        resolved = run / "config.yaml"
        step_json = run / "model_only.json"
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_step.py"), "--config", str(resolved),
                        "--policies", rows[0]["checkpointing"], "--batches", str(batch),
                        *(["--compile"] if cfg.train.compile else []), "--json", str(step_json)],
                       cwd=REPO, check=True)
        step = json.loads(step_json.read_text())["steps"][0]
        rows.append({"what": "model only (benchmarks/train_step.py)", "regions_per_s": step.get("regions_per_s"),
                     "peak_gb": step.get("peak_gb"), "gb_per_region": step.get("gb_per_region"),
                     "data_wait_fraction": "-", "checkpointing": step["policy"],
                     "compiled": cfg.train.compile, "workers": "-", "startup_s": "-", "compiled_graphs": "-"})

    title = f"{args.config.name}: {crop}² crops of {regions_per_crop} regions of {region} px, batch {batch}"
    table = Table(title=title)
    for key in rows[0]:
        table.add_column(key)
    for row in rows:
        table.add_row(*(f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row.values()))
    console.print(table)
    if len(rows) == 2 and rows[1]["regions_per_s"]:
        console.print(f"xtgeo train reaches {100 * rows[0]['regions_per_s'] / rows[1]['regions_per_s']:.0f} % "
                      "of the model-only rate")


if __name__ == "__main__":
    main()
