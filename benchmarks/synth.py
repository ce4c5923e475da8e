"""Benchmark ``xtgeo.synth``: wall time of a 2048 × 2048 scene, wall time and peak RSS of a full one.

Targets (issue 2): 2048² in < 10 s on 2 cores; a full 29,400 × 24,400 scene under 4 GB peak RSS.
Each measured scene is made in a fresh subprocess, so its peak RSS is its own.

    .venv/bin/python benchmarks/synth.py                 # both
    .venv/bin/python benchmarks/synth.py --no-full       # only the 2048² timing
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from rich.console import Console
from rich.table import Table

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from xtgeo.synth import make_scene
t1 = time.perf_counter()
scene = make_scene(sys.argv[1], height=int(sys.argv[2]), width=int(sys.argv[3]), seed=int(sys.argv[4]))
t2 = time.perf_counter()
from xtgeo.schema import UNKNOWN_SHORE_DISTANCE_KM
from xtgeo.synth.stats import label_groups
groups = label_groups(scene.labels).value_counts(normalize=True).to_dict()
unknown = float((scene.labels["distance_from_shore_km"] == UNKNOWN_SHORE_DISTANCE_KM).mean())
print(json.dumps({"import_s": t1 - t0, "make_s": t2 - t1, "objects": len(scene.labels),
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "groups": groups, "unknown_distance": unknown}))
"""


def measure(height: int, width: int, seed: int) -> dict:
    """Make one scene in a subprocess; its timings, object count, peak RSS and bytes written."""
    with tempfile.TemporaryDirectory(prefix="xtgeo-bench-synth-") as out:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, out, str(height), str(width), str(seed)],
                              check=True, capture_output=True, text=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["process_s"] = time.perf_counter() - start
        result["written_gb"] = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs) / 1e9
    return result


def statistics_table(result: dict) -> Table:
    """Label statistics of the full synthetic scene next to the real xView3 validation labels."""
    from xtgeo.synth.stats import XVIEW3_VALIDATION as real

    table = Table(title="full scene labels vs real xView3 validation labels")
    for column in ("statistic", "synthetic", "real"):
        table.add_column(column, justify="right")
    table.add_row("objects per scene", str(result["objects"]), f"{np.exp(real.count_log_mean):.0f} (median)")
    for group, share in real.group_probs.items():
        table.add_row(f"share {group}", f"{result['groups'].get(group, 0.0):.3f}", f"{share:.3f}")
    unknown = sum(real.group_probs[g] * real.distance_probs[g][-1] for g in real.group_probs)
    table.add_row("distance unknown (> 10 km)", f"{result['unknown_distance']:.3f}", f"{unknown:.3f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="2048² runs (different seeds)")
    parser.add_argument("--full", action=argparse.BooleanOptionalAction, default=True, help="also a full scene")
    parser.add_argument("--full-height", type=int, default=29400)
    parser.add_argument("--full-width", type=int, default=24400)
    args = parser.parse_args()

    table = Table(title=f"xtgeo synth ({os.cpu_count()} CPUs)")
    for column in ("scene", "seed", "objects", "time s", "target", "peak RSS GB", "target", "written GB"):
        table.add_column(column, justify="right")
    runs = [(2048, 2048, seed, "< 10 s", "") for seed in range(args.repeats)]
    if args.full:
        runs.append((args.full_height, args.full_width, 0, "", "< 4"))
    for height, width, seed, time_target, rss_target in runs:
        r = measure(height, width, seed)
        table.add_row(f"{height} x {width}", str(seed), str(r["objects"]), f"{r['make_s']:.2f}", time_target,
                      f"{r['peak_rss_gb']:.2f}", rss_target, f"{r['written_gb']:.2f}")
    console = Console(width=110)
    console.print(table)
    if args.full:
        console.print(statistics_table(r))
    print("time: make_scene only (no interpreter start or imports); peak RSS: the whole child process")


if __name__ == "__main__":
    main()
