"""Whole-scene ``predict`` figures: wall time, throughput (Mpx/s), peak GPU memory, peak RSS.

Cases (``--cases``, comma-separated); the model is Swin-T ⟨xT⟩ XL (``configs/xview3_swin_t_xl.yaml``,
random weights) on GPUs, the smoke model on the CPU; 4096 px windows with 512 px overlap:

* ``scenes``: four full 29,400 × 24,400 raw scenes (``VV_dB.tif``/``VH_dB.tif``, tiled, ZSTD)
  predicted on one GPU with ``xtgeo predict FOLDER --out-dir DIR``'s own code
  (:func:`~xtgeo.predict.jobs.predict_with`: windowed GeoTIFF reads in threads, normalisation, the
  model, blending, peaks, georeferencing, each scene's CSV written), once with one scene at a time
  (the default) and once with two in flight (``--scenes-per-device 2``; ``--in-flight`` chooses),
  after a first scene that pays the warm-up (``--compile``: compilation).
  ``N_in_flight_s_per_scene``: seconds per scene from the first scene's end to the last one's (the
  steady-state rate of a fleet); ``N_in_flight_scene_wall_s``: the range of one scene's own wall
  time (later scenes); ``first_window_s``: from the last scene's start until its first window is
  done (reading it, and with two in flight waiting for the other scene's turn);
  ``after_last_window_s``: from its last window to its end (peaks, georeferencing, its CSV).
* ``gpu``: one full scene held in memory (no GeoTIFF decoding), to isolate the model and blending.
* ``cpu``: two 8192 × 8192 raw scenes as ``scenes`` does, one at a time, smoke model, on the CPU:
  wall time and peak RSS.
* ``many``: 100 raw 512 × 512 scenes through ``xtgeo predict FOLDER --out-dir DIR --heatmap`` (the
  command's own code, in this process), smoke model, on the CPU: the process's RSS after the 1st,
  10th, 50th and 100th scene's files are written (memory must stay flat).

Example: python benchmarks/predict.py --cases scenes --compile --json out/predict_scenes.json
Example: python benchmarks/predict.py --cases cpu --json out/predict_cpu.json
Example: python benchmarks/predict.py --cases many
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xtgeo.config import Config, load_config  # noqa: E402
from xtgeo.data.normalize import model_input  # noqa: E402
from xtgeo.models import build_model  # noqa: E402
from xtgeo.predict.inference import Predictor, WindowBatch, predict_maps, strip_reads  # noqa: E402
from xtgeo.predict.jobs import PredictProgress, SceneResult, predict_with  # noqa: E402
from xtgeo.predict.outputs import SceneFiles  # noqa: E402
from xtgeo.predict.postprocess import detections_from_maps  # noqa: E402
from xtgeo.predict.scene import PredictOptions  # noqa: E402
from xtgeo.predict.windows import GridWindow, WindowGrid  # noqa: E402

console = Console()
XL, SMOKE = "configs/xview3_swin_t_xl.yaml", "configs/smoke.yaml"
CASES = {
    "scenes": dict(config=XL, height=29_400, width=24_400, scenes=4, device="cuda", source="geotiff", in_flight=(1, 2)),
    "gpu": dict(config=XL, height=29_400, width=24_400, scenes=1, device="cuda", source="memory"),
    "cpu": dict(config=SMOKE, height=8192, width=8192, scenes=2, device="cpu", source="geotiff"),
    "many": dict(config=SMOKE, height=512, width=512, scenes=100, device="cpu", source="geotiff", window=512,
                 overlap=64),
}
#: Scenes after which the ``many`` case reads the process's RSS.
RSS_AFTER = (1, 10, 50, 100)
WINDOWS = dict(window=4096, overlap=512, batch=1, in_flight=(1,))


def sar_block(rng: np.random.Generator, rows: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Sea-clutter-like VV/VH dB rows with a few bright points (a stand-in scene, not a model of one)."""
    vv = rng.standard_normal((rows, width), dtype=np.float32) * 3.0 - 18.0
    vh = rng.standard_normal((rows, width), dtype=np.float32) * 3.0 - 26.0
    for r, c in zip(rng.integers(0, rows, 4), rng.integers(0, width, 4)):
        vv[max(r - 2, 0): r + 3, max(c - 2, 0): c + 3] = 5.0
        vh[max(r - 2, 0): r + 3, max(c - 2, 0): c + 3] = -5.0
    return vv, vh


def memory_reader(height: int, width: int, cfg: Config) -> Callable[[GridWindow], tuple[np.ndarray, np.ndarray]]:
    """Windows of an in-memory scene (VV, VH dB arrays), normalised like real reads."""
    rng = np.random.default_rng(0)
    vv, vh = np.empty((height, width), np.float32), np.empty((height, width), np.float32)
    for top in range(0, height, 4096):
        vv[top: top + 4096], vh[top: top + 4096] = sar_block(rng, min(4096, height - top), width)

    def read(window: GridWindow) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = window.slices
        valid = np.ones((window.height, window.width), dtype=bool)
        return model_input({"vv_db": vv[rows, cols], "vh_db": vh[rows, cols], "valid": valid}, cfg.data), valid

    return read


def write_raw_scene(folder: Path, height: int, width: int) -> None:
    """A raw scene folder: ``VV_dB.tif`` and ``VH_dB.tif``, tiled 512 px, ZSTD, written in row blocks."""
    import rasterio
    from affine import Affine

    folder.mkdir(parents=True)
    profile = dict(driver="GTiff", height=height, width=width, count=1, dtype="float32", crs="EPSG:32631",
                   transform=Affine(10, 0, 400_000, 0, -10, 6_000_000), tiled=True, blockxsize=512,
                   blockysize=512, compress="zstd", nodata=-32768.0, num_threads="all_cpus")
    rng = np.random.default_rng(0)
    with rasterio.open(folder / "VV_dB.tif", "w", **profile) as vv_file, \
            rasterio.open(folder / "VH_dB.tif", "w", **profile) as vh_file:
        for top in range(0, height, 2048):
            rows = min(2048, height - top)
            window = rasterio.windows.Window(0, top, width, rows)
            vv, vh = sar_block(rng, rows, width)
            vv_file.write(vv, 1, window=window)
            vh_file.write(vh, 1, window=window)


def scene_folder(root: Path, height: int, width: int, count: int) -> Path:
    """``root/scenes`` with ``count`` copies of one raw scene (scene ids ``scene_0``, ``scene_1``, …)."""
    folder = root / "scenes"
    write_raw_scene(folder / "scene_0", height, width)
    for k in range(1, count):
        shutil.copytree(folder / "scene_0", folder / f"scene_{k}")
    return folder


def read_alone(window: GridWindow, read: Callable, pin: bool) -> WindowBatch:
    """One window read strip by strip in this thread, as the readers of :func:`predict_maps` read it."""
    for buffer, k, strip, _ in strip_reads([window], 1, pin):
        buffer.put(k, strip, *read(strip))
    return buffer.batch()


def stage_seconds(predictor: Predictor, read: Callable, window: GridWindow, repeats: int = 3) -> dict[str, float]:
    """Seconds per window of its read (strip by strip, normalised, one thread) and of the model forward, apart."""
    pin = predictor.device.type == "cuda"
    start = time.perf_counter()
    for _ in range(repeats):
        batch = read_alone(window, read, pin)
    read_s = (time.perf_counter() - start) / repeats
    sync = torch.cuda.synchronize if predictor.device.type == "cuda" else (lambda: None)
    list(predictor.forward(batch))  # untimed: this thread's first call (a compiled model may trace it again)
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        list(predictor.forward(batch))
    sync()
    model_s = (time.perf_counter() - start) / repeats
    return {"read_s_per_window": round(read_s, 3), "model_s_per_window": round(model_s, 3)}


def run_many(name: str, opts: dict[str, Any], readers: int | None) -> dict[str, Any]:
    """``xtgeo predict FOLDER --out-dir DIR --heatmap`` over many small scenes: RSS as scenes finish."""
    import threading

    import psutil

    from pipelines import predict
    from xtgeo.predict.scene import PredictOptions
    from xtgeo.train.checkpoint import save_checkpoint

    cfg = load_config(ROOT / opts["config"], opts.get("set", []))
    options = PredictOptions(window_size=opts["window"], overlap=opts["overlap"], batch=opts["batch"],
                             device=opts["device"], readers=readers)
    marks = [k for k in RSS_AFTER if k <= opts["scenes"]]
    rss: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        scenes = scene_folder(Path(tmp), opts["height"], opts["width"], opts["scenes"])
        ckpt = save_checkpoint(Path(tmp) / "smoke.pt", model=build_model(cfg.model).state_dict(),
                               config=cfg.to_dict(), step=0, xtgeo_version="benchmark")
        out = Path(tmp) / "detections"
        stop = threading.Event()

        def watch() -> None:  # a scene is finished when its detections file (written last) is there
            me = psutil.Process()
            while len(rss) < len(marks):
                last = stop.is_set()  # one more look after the run ends
                done = len(list(out.glob("*.csv"))) if out.is_dir() else 0
                for k in marks:
                    if done >= k and k not in rss:
                        rss[k] = me.memory_info().rss / 2**30
                if last:
                    return
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        start = time.perf_counter()
        predict.run(scenes, ckpt, None, options, out_dir=out, heatmap="heatmap.tif",
                    console=Console(stderr=True, quiet=True))  # a failed scene would raise
        seconds = time.perf_counter() - start
        stop.set()
        watcher.join()
    return {
        "case": name, "device": opts["device"], "scene": f"{opts['height']} x {opts['width']}",
        "model": opts["config"], "scenes": opts["scenes"],
        "s_per_scene": round(seconds / opts["scenes"], 2),
        **{f"rss_gib_after_{k}": round(rss.get(k, float("nan")), 3) for k in marks},
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


class Marks(PredictProgress):
    """When each scene started, had its first and last windows done, and was finished (perf_counter)."""

    def __init__(self):
        self.started, self.windows, self.done = {}, {}, {}

    def scene_started(self, scene_id: str, windows: int) -> None:
        self.started[scene_id] = time.perf_counter()

    def windows_done(self, scene_id: str, windows: int) -> None:
        self.windows.setdefault(scene_id, []).append(time.perf_counter())

    def scene_done(self, result: SceneResult) -> None:
        self.done[result.scene_id] = time.perf_counter()


def peak_gpu_gib(device: torch.device) -> float | None:
    """The peak of GPU memory allocated on ``device`` since its last reset, GiB (None on the CPU)."""
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None


def fleet_figures(predictor: Predictor, cfg: Config, todo: list, options: PredictOptions) -> dict[str, float]:
    """Every scene of ``todo`` through :func:`predict_with` (``xtgeo predict FOLDER``'s own code) with
    ``options.scenes_per_device`` scenes at once: seconds per scene between the first scene's end and
    the last one's (steady state), the first and the last of the later scenes' wall times, and the
    phases of the last."""
    in_flight = options.scenes_per_device
    marks = Marks()
    if predictor.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(predictor.device)
    results = []
    for result in predict_with(todo, [predictor], cfg, options, marks):
        if result.status != "done":
            raise SystemExit(result.message)
        marks.scene_done(result)
        results.append(result)
    ends = sorted(marks.done.values())
    last = results[-1].scene_id
    return {
        f"{in_flight}_in_flight_s_per_scene": round((ends[-1] - ends[0]) / (len(ends) - 1), 2),
        f"{in_flight}_in_flight_scene_wall_s": f"{min(r.seconds for r in results[1:]):.2f}–"
                                               f"{max(r.seconds for r in results[1:]):.2f}",
        f"{in_flight}_in_flight_first_window_s": round(marks.windows[last][0] - marks.started[last], 3),
        f"{in_flight}_in_flight_after_last_window_s": round(marks.done[last] - marks.windows[last][-1], 3),
        f"{in_flight}_in_flight_peak_gpu_gib": peak_gpu_gib(predictor.device),
        "detections": len(results[-1].detections),
    }


def run_case(name: str, opts: dict[str, Any], readers: int | None) -> dict[str, Any]:
    """Build the model and the scenes, predict every scene, write the detections (see the module doc)."""
    from xtgeo.predict.scene import default_readers, window_reader
    from xtgeo.predict.sources import find_scenes, find_sources

    region_batch = [f"model.region_batch={opts['region_batch']}"] if opts.get("region_batch") else []
    cfg = load_config(ROOT / opts["config"], [*region_batch, *opts.get("set", [])])
    device = torch.device(opts["device"])
    readers = readers or default_readers([device])
    predictor = Predictor(build_model(cfg.model), device, opts["batch"], compile_model=opts.get("compile", False))
    grid = WindowGrid(opts["height"], opts["width"], opts["window"], opts["overlap"])
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if opts["source"] == "memory":
            read = memory_reader(opts["height"], opts["width"], cfg)
            scene_s = []
            for _ in range(2):  # the first run is the warm-up
                start = time.perf_counter()
                maps = predict_maps(predictor, grid, read, readers=readers)
                figures["detections"] = len(detections_from_maps(maps.maps, cfg.postprocess)["score"])
                maps = None
                scene_s.append(time.perf_counter() - start)
            figures.update(first_scene_s=round(scene_s[0], 2), scene_s=round(scene_s[1], 2),
                           mpx_per_s=round(opts["height"] * opts["width"] / 1e6 / scene_s[1], 1),
                           peak_gpu_gib=peak_gpu_gib(device))
        else:
            folder = scene_folder(Path(tmp), opts["height"], opts["width"], opts["scenes"])
            read = window_reader(find_sources(folder)[0], cfg)
            todo = [(found, SceneFiles(found.scene_id, Path(tmp) / f"{found.scene_id}.csv"))
                    for found in find_scenes(folder)]
            options = PredictOptions(window_size=opts["window"], overlap=opts["overlap"], batch=opts["batch"],
                                     readers=readers)
            start = time.perf_counter()  # the first scene of the first pass pays the warm-up
            list(predict_with(todo[:1], [predictor], cfg, options))
            figures["first_scene_s"] = round(time.perf_counter() - start, 2)
            for in_flight in opts["in_flight"]:
                figures.update(fleet_figures(predictor, cfg, todo, replace(options, scenes_per_device=in_flight)))
            best = min(figures[f"{k}_in_flight_s_per_scene"] for k in opts["in_flight"])
            figures["mpx_per_s"] = round(opts["height"] * opts["width"] / 1e6 / best, 1)
        figures.update(stage_seconds(predictor, read, next(iter(grid))))
    return {
        "case": name, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "scene": f"{opts['height']} x {opts['width']}", "model": " ".join([opts["config"], *opts.get("set", [])]),
        "source": opts["source"], "scenes": opts["scenes"] if opts["source"] == "geotiff" else 1,
        "windows": len(grid), "window": opts["window"], "overlap": opts["overlap"], "batch": opts["batch"],
        "region_batch": cfg.model.region_batch, "compiled": bool(opts.get("compile")), "readers": readers,
        **figures,
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="scenes" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--height", type=int, help="override the scene height of every case")
    parser.add_argument("--width", type=int, help="override the scene width of every case")
    parser.add_argument("--scenes", type=int, help="override the number of scenes (geotiff source; at least 2)")
    parser.add_argument("--in-flight", help="scenes at once on the device, comma-separated passes (e.g. 1,2)")
    parser.add_argument("--batch", type=int, help="override the windows per forward pass")
    parser.add_argument("--overlap", type=int, help="override the window overlap")
    parser.add_argument("--region-batch", type=int, help="override the model's regions per backbone call")
    parser.add_argument("--device", help="override the device of every case (cpu, cuda)")
    parser.add_argument("--source", choices=("memory", "geotiff"), help="override the scene source of every case")
    parser.add_argument("--readers", type=int, help="window-reading threads [default: as xtgeo predict]")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model (the first scene pays the compilation)")
    parser.add_argument("--set", action="append", default=[], help="config override key=value (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = []
    for name in args.cases.split(","):
        opts = {**WINDOWS, **CASES[name]}
        opts.update({k: v for k, v in (("height", args.height), ("width", args.width), ("batch", args.batch),
                                       ("scenes", args.scenes),
                                                ("device", args.device), ("source", args.source),
                                                ("overlap", args.overlap), ("region_batch", args.region_batch),
                                                ("compile", args.compile), ("set", args.set)) if v})
        if args.in_flight:
            opts["in_flight"] = tuple(int(k) for k in args.in_flight.split(","))
        if opts["source"] == "geotiff" and opts["scenes"] < 2:
            parser.error("--scenes: at least 2 (the rate is measured between scenes' ends)")
        rows.append((run_many if name == "many" else run_case)(name, opts, args.readers))
    table = Table(title="xtgeo predict: whole scene")
    table.add_column("")
    for row in rows:
        table.add_column(row["case"], overflow="fold")
    for key in dict.fromkeys(key for row in rows for key in row):
        table.add_row(key, *(str(row.get(key, "")) for row in rows))
    console.print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
