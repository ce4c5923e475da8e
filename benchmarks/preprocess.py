"""Benchmark `xtgeo preprocess`: wall time against a plain rasterio read of the same VV/VH bytes,
peak RSS and CPU seconds of the whole process tree (client + Dask workers), output size, and
growth with scene area.

    python benchmarks/preprocess.py --sizes 2048 4096 8192 --full --workers 2

For each size a synthetic square scene (``--full``: one 29,400 × 24,400 scene, about 15 minutes to
make on 2 busy cores) is made once under ``--cache`` with ``xtgeo.synth`` and reused. The read
baseline reads VV and VH window by window (the blocks preprocess uses) in a fresh process, after
a first read that warms the page cache; the preprocess run then starts from the same warm cache
with a fresh output folder, on a LocalCluster started beforehand. The machine's 1-minute load
average is shown next to each row: on a shared machine both timings stretch with it, so CPU
seconds (user + system) are shown too: the read's, and preprocess's summed over the client and
its workers (on 2 cores its wall time can be no less than half of that). "machine CPU s" is the
busy time of all cores during preprocess: it also counts the kernel's own threads (page cache
writeback, reclaim) and whatever else runs on the machine, so it is an upper bound when the
load is above zero.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xtgeo.preprocess.run import DEFAULT_BLOCK_SIZE, dask_client, run_preprocess  # noqa: E402
from xtgeo.synth import LABELS_FILE, make_dataset  # noqa: E402

FULL = (29_400, 24_400)
#: The plain read, run in a fresh process so that neither side inherits the other's GDAL cache.
PLAIN_READ = """
import sys, time
from pathlib import Path
import rasterio
from xtgeo.preprocess.blocks import block_windows
root, block_size = Path(sys.argv[1]), int(sys.argv[2])
start, cpu = time.perf_counter(), time.process_time()
for folder in sorted(p for p in root.iterdir() if (p / "VV_dB.tif").exists()):
    for name in ("VV_dB.tif", "VH_dB.tif"):
        with rasterio.open(folder / name) as src:
            for window in block_windows(src.height, src.width, block_size):
                src.read(1, window=window)
print(time.perf_counter() - start, time.process_time() - cpu)
"""


class PeakRss:
    """Samples the summed RSS of this process and all its children in a background thread."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def scene_folder(cache: Path, height: int, width: int) -> Path:
    """A one-scene synthetic dataset of the given size (made once)."""
    root = cache / f"synth-{height}x{width}"
    if not (root / LABELS_FILE).exists():
        shutil.rmtree(root, ignore_errors=True)
        make_dataset(root, scenes=1, height=height, width=width, seed=7)
    return root


def plain_read_seconds(root: Path, block_size: int) -> tuple[float, float]:
    """Wall and CPU seconds a fresh process takes to read VV and VH of every scene under ``root`` window by window."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", PLAIN_READ, str(root), str(block_size)],
                          check=True, capture_output=True, text=True, env=env)
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def tree_cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) so far of this process and each of its live descendants, by pid."""
    out = {}
    for p in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            times = p.cpu_times()
            out[p.pid] = times.user + times.system
        except psutil.Error:
            pass
    return out


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent running code since boot (user, nice, system, interrupts)."""
    times = psutil.cpu_times()
    return times.user + times.nice + times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[2048, 4096], help="square scene sides")
    parser.add_argument("--full", action="store_true", help="also a full 29,400 × 24,400 scene")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--block-size", type=int, default=DEFAULT_BLOCK_SIZE)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/xtgeo-bench"))
    args = parser.parse_args()
    shapes = [(s, s) for s in args.sizes] + ([FULL] if args.full else [])
    console = Console()
    table = Table(title=f"xtgeo preprocess, {args.workers} workers, blocks {args.block_size}², "
                        f"{psutil.cpu_count()} cores,"
                        f" {psutil.virtual_memory().total / 2**30:.0f} GiB")
    for column in ("scene", "Mpx", "plain read s", "preprocess s", "ratio", "s per Mpx", "read CPU s",
                   "preprocess CPU s", "machine CPU s", "peak RSS GB", "scene.tif GB", "load 1 min"):
        table.add_column(column, justify="right")
    roots = [scene_folder(args.cache, height, width) for height, width in shapes]
    start = time.perf_counter()
    with dask_client(args.workers) as client:
        client.run(lambda: __import__("xtgeo.preprocess.blocks"))  # workers import what the tasks need
        console.print(f"LocalCluster start ({args.workers} workers): {time.perf_counter() - start:.1f} s")
        for (height, width), root in zip(shapes, roots):
            run_one(client, root, height, width, args.block_size, table)
            console.print(table)


def run_one(client, root: Path, height: int, width: int, block_size: int, table: Table) -> None:
    """Time one scene's plain read and preprocess (on the running cluster) and add a table row."""
    plain_read_seconds(root, block_size)  # warm the page cache
    load = [os.getloadavg()[0]]
    read_s, read_cpu = plain_read_seconds(root, block_size)
    out = root.parent / f"prep-{height}x{width}"
    shutil.rmtree(out, ignore_errors=True)
    load.append(os.getloadavg()[0])
    with PeakRss() as rss:
        cpu_before, machine_before = tree_cpu_seconds(), machine_busy_seconds()
        start = time.perf_counter()
        report = run_preprocess(root, out, client=client, block_size=block_size)
        prep_s = time.perf_counter() - start
        cpu_after, machine_cpu = tree_cpu_seconds(), machine_busy_seconds() - machine_before
    load.append(os.getloadavg()[0])
    if report.failed:
        raise SystemExit(f"preprocess failed: {report.failed}")
    prep_cpu = sum(t - cpu_before.get(pid, 0.0) for pid, t in cpu_after.items())
    tif_bytes = sum(p.stat().st_size for p in out.glob("*/scene.tif"))
    mpx = height * width / 1e6
    table.add_row(f"{height} × {width}", f"{mpx:.0f}", f"{read_s:.1f}", f"{prep_s:.1f}", f"{prep_s / read_s:.2f}×",
                  f"{prep_s / mpx:.3f}", f"{read_cpu:.1f}", f"{prep_cpu:.1f}", f"{machine_cpu:.1f}",
                  f"{rss.peak / 2**30:.2f}", f"{tif_bytes / 1e9:.2f}", " / ".join(f"{x:.1f}" for x in load))
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
