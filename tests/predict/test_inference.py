"""Tiling, blending, peak finding and detection outputs, on hand-made maps and a small conv model."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import torch
from affine import Affine
from pyproj import Transformer
from skimage.feature import peak_local_max
from torch import nn

from xtgeo.config import PostprocessConfig
from xtgeo.errors import XtgeoError
from xtgeo.predict.detections import COLUMNS, concat_frames, detections_frame, write_detections
from xtgeo.predict.inference import (
    STRIP_ROWS,
    Predictor,
    WindowBatch,
    head_outputs,
    predict_maps,
    prefetch,
    window_strips,
)
from xtgeo.predict.postprocess import detections_from_maps, find_peaks
from xtgeo.predict.windows import GridWindow, SceneMaps, WindowGrid
from xtgeo.schema import PREDICTION_COLUMNS
from xtgeo.tasks.xview3 import HEAD_NAMES as HEADS


@pytest.mark.parametrize(
    "height, width, window, overlap",
    [(100, 130, 32, 8), (64, 64, 32, 0), (20, 90, 32, 16), (257, 129, 64, 32), (10, 10, 32, 4)],
)
def test_windows_cover_scene_and_weights_sum_to_one(height, width, window, overlap):
    grid = WindowGrid(height, width, window, overlap)
    covered = np.zeros((height, width), dtype=int)
    for t in grid:
        assert (t.height, t.width) == (min(window, height), min(window, width))
        assert t.row + t.height <= height and t.col + t.width <= width
        covered[t.slices] += 1
    assert covered.min() >= 1
    maps = SceneMaps(grid)
    for t in grid:
        maps.add(t, {h: torch.ones(t.height, t.width) for h in HEADS})
    for head in HEADS:
        np.testing.assert_allclose(maps[head].float().numpy(), 1.0, atol=5e-3)


def test_bad_window_geometry_is_refused():
    with pytest.raises(ValueError):
        WindowGrid(100, 100, 32, 17)


class LocalConv(nn.Module):
    """A real, small fully convolutional model (receptive field 7 px) with the xT output dict."""

    def __init__(self, in_chans: int = 2):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(in_chans, 8, 3, padding=1), nn.Tanh(), nn.Conv2d(8, 8, 3, padding=1),
                                  nn.Tanh(), nn.Conv2d(8, 4, 3, padding=1))

    def forward(self, x):
        out = self.body(x)
        return {"center": out[:, :1], "vessel": out[:, 1:2], "fishing": out[:, 2:3], "length": out[:, 3:4].abs() * 50}


def _scene_maps(image: np.ndarray, window: int, overlap: int, batch: int = 2) -> dict[str, np.ndarray]:
    grid = WindowGrid(image.shape[1], image.shape[2], window, overlap)
    valid = np.ones(image.shape[1:], dtype=bool)
    predictor = Predictor(LocalConv(image.shape[0]), "cpu", batch)
    maps = predict_maps(predictor, grid, lambda t: (image[:, t.slices[0], t.slices[1]], valid[t.slices]))
    return {h: m.float().numpy() for h, m in maps.maps.items()}


def test_windows_with_and_without_overlap_agree_away_from_window_edges():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(2, 150, 170)).astype(np.float32)
    whole = _scene_maps(image, 512, 0)
    plain = _scene_maps(image, 48, 0)
    blended = _scene_maps(image, 48, 16)
    seams = np.zeros(image.shape[1:], dtype=bool)
    for grid in (WindowGrid(150, 170, 48, 0), WindowGrid(150, 170, 48, 16)):
        for t in grid:
            inner = np.zeros_like(seams)
            inner[t.row + 4: t.row + t.height - 4, t.col + 4: t.col + t.width - 4] = True
            seams[t.slices] |= ~inner[t.slices]
    edge = np.zeros_like(seams)
    edge[4:-4, 4:-4] = True
    away = ~seams & edge
    for head in HEADS:
        tol = 0.05 if head == "length" else 2e-3
        np.testing.assert_allclose(plain[head][away], whole[head][away], atol=tol)
        np.testing.assert_allclose(blended[head][away], whole[head][away], atol=tol)
    plain_seams = np.zeros_like(seams)
    for t in WindowGrid(150, 170, 48, 0):
        plain_seams[t.row: t.row + t.height, [t.col, t.col + t.width - 1]] = True
    plain_seams &= edge
    error = lambda m: np.abs(m["center"] - whole["center"])[plain_seams].mean()  # noqa: E731
    assert error(blended) < 0.5 * error(plain)


@pytest.mark.parametrize("row, height", [(1024, 1024), (76, 1024), (0, 300), (700, 40), (3584, 4096)])
def test_window_strips_cover_the_window_cut_at_tile_rows(row, height):
    window = GridWindow(row, 32, height, 96, 1, 2)
    strips = window_strips(window)
    assert [s.row for s in strips] == sorted({row, *range(0, row + height, STRIP_ROWS)} - set(range(0, row)))
    assert sum(s.height for s in strips) == height and strips[0].row == row
    for strip, after in zip(strips, strips[1:]):
        assert strip.row + strip.height == after.row
    for strip in strips:
        assert (strip.col, strip.width, strip.i, strip.j) == (32, 96, 1, 2) and strip.height > 0
        assert strip.row // STRIP_ROWS == (strip.row + strip.height - 1) // STRIP_ROWS  # one tile row each


@pytest.mark.parametrize("batch, readers", [(1, 3), (2, 2)])
def test_predict_maps_reads_strips_in_threads_and_blends_whole_windows(batch, readers):
    rng = np.random.default_rng(3)
    image = rng.normal(size=(2, 1100, 40)).astype(np.float32)
    valid = np.ones(image.shape[1:], dtype=bool)
    grid = WindowGrid(1100, 40, 1024, 64)  # windows at rows 0 and 76: aligned and not
    reads = []

    def read(window):
        reads.append(window)
        return image[:, window.slices[0], window.slices[1]], valid[window.slices]

    predictor = Predictor(LocalConv(), "cpu", batch)
    maps = predict_maps(predictor, grid, read, readers=readers)
    assert sorted((w.row, w.height) for w in reads) == [(0, 512), (76, 436), (512, 512), (512, 512), (1024, 76)]
    expected = SceneMaps(grid)
    for window in grid:
        whole = WindowBatch([window], torch.from_numpy(image[None, :, window.slices[0], window.slices[1]]),
                            torch.from_numpy(valid[None, window.slices[0], window.slices[1]]))
        for _, outputs in predictor.forward(whole):
            expected.add(window, outputs)
    for head in HEADS:
        torch.testing.assert_close(maps[head], expected[head], rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="copies windows on a CUDA stream")
def test_windows_copied_on_their_own_stream_give_the_maps_of_copies_on_the_models_stream():
    image = np.random.default_rng(6).normal(size=(2, 256, 256)).astype(np.float32)
    valid = np.ones(image.shape[1:], dtype=bool)
    grid = WindowGrid(256, 256, 64, 16)
    predictor = Predictor(LocalConv(), "cuda", 2)
    assert predictor.copy_stream is not None

    def read(window):
        return image[:, window.slices[0], window.slices[1]], valid[window.slices]

    on_copy_stream = predict_maps(predictor, grid, read, readers=2)
    predictor.copy_stream = None
    on_models_stream = predict_maps(predictor, grid, read, readers=2)
    for head in HEADS:
        torch.testing.assert_close(on_copy_stream[head], on_models_stream[head], rtol=0, atol=0)


def test_predict_maps_skips_windows_without_valid_pixels():
    image = np.random.default_rng(4).normal(size=(2, 32, 128)).astype(np.float32)
    valid = np.ones(image.shape[1:], dtype=bool)
    valid[:, 32:64] = False  # the second of four windows holds no data
    predictor = Predictor(LocalConv(), "cpu", 2)
    maps = predict_maps(predictor, WindowGrid(32, 128, 32, 0), lambda w: (image[:, w.slices[0], w.slices[1]],
                                                                          valid[w.slices]), track_valid=True)
    assert maps.windows_added == 3
    assert torch.equal(maps.valid, torch.from_numpy(valid))
    assert not maps["center"][:, 32:64].any() and maps["center"][:, 64:].abs().sum() > 0


def test_scenes_sharing_a_predictor_take_it_in_turn_and_read_meanwhile():
    rng = np.random.default_rng(5)
    images = {name: rng.normal(size=(2, 32, 32 * 6)).astype(np.float32) for name in "AB"}
    valid = np.ones((32, 32 * 6), dtype=bool)
    grid = WindowGrid(32, 32 * 6, 32, 0)  # six windows a scene
    events, a_is_running = [], threading.Event()
    predictor = Predictor(LocalConv(), "cpu", 1)

    def reader(name):
        def read(window):
            events.append((name, "read"))
            time.sleep(0.05 if name == "A" else 0.0)  # A's windows keep it on the predictor a while
            return images[name][:, window.slices[0], window.slices[1]], valid[window.slices]
        return read

    def run(name):
        def done(n):
            events.append((name, "windows"))
            a_is_running.set()
        return predict_maps(predictor, grid, reader(name), readers=1, on_windows=done)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(run, "A")
        a_is_running.wait(10)  # A holds the turn: B reads its first window, then waits for it
        second = pool.submit(run, "B")
        maps = {"A": first.result(), "B": second.result()}
    ran = [name for name, what in events if what == "windows"]
    assert ran == ["A"] * 6 + ["B"] * 6  # one scene's windows at a time, never interleaved
    assert events.index(("B", "read")) < len(events) - 1 - events[::-1].index(("A", "windows"))  # read meanwhile
    for name in "AB":
        alone = predict_maps(Predictor(LocalConv(), "cpu", 1), grid, lambda w, n=name: (
            images[n][:, w.slices[0], w.slices[1]], valid[w.slices]))
        for head in HEADS:
            torch.testing.assert_close(maps[name][head], alone[head], rtol=0, atol=0)


def _gaussians(shape, centres, sigma=2.0):
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    out = np.zeros(shape, dtype=np.float32)
    for (r, c), peak in centres.items():
        out = np.maximum(out, peak * np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * sigma**2)))
    return out


def test_peaks_match_skimage_peak_local_max():
    rng = np.random.default_rng(1)
    field = torch.nn.functional.avg_pool2d(torch.from_numpy(rng.random((1, 1, 300, 200), dtype=np.float32)), 7, 1,
                                           3)[0, 0]
    for radius, threshold in [(3, 0.5), (6, 0.52), (1, 0.55)]:
        points, scores = find_peaks(field, threshold, radius)
        expected = peak_local_max(field.numpy(), min_distance=radius, threshold_abs=threshold, exclude_border=False)
        assert len(points) > 0
        assert sorted(map(tuple, points)) == sorted(map(tuple, expected))
        assert np.all(np.diff(scores) <= 0)


def test_detections_at_gaussian_centres_with_their_class_scores_and_length():
    shape = (120, 160)
    centres = {(20, 30): 0.9, (23, 33): 0.6, (80, 100): 0.8, (119, 159): 0.7, (60, 5): 0.2}
    center = torch.from_numpy(_gaussians(shape, centres, sigma=1.0)).half()
    vessel = torch.zeros(shape, dtype=torch.float16)
    fishing = torch.zeros(shape, dtype=torch.float16)
    length = torch.zeros(shape, dtype=torch.float16)
    vessel[15:26, 25:36], fishing[15:26, 25:36], length[15:26, 25:36] = 0.9, 0.8, 42.0
    vessel[75:86, 95:106], fishing[75:86, 95:106], length[75:86, 95:106] = 0.7, 0.1, 120.0
    config = PostprocessConfig(center_threshold=0.3, nms_radius_px=4, vessel_threshold=0.5, fishing_threshold=0.5)
    det = detections_from_maps({"center": center, "vessel": vessel, "fishing": fishing, "length": length}, config)
    found = list(zip(det["detect_scene_row"], det["detect_scene_column"]))
    assert found == [(20, 30), (80, 100), (119, 159)]  # strongest first; (23,33) suppressed, (60,5) below threshold
    np.testing.assert_allclose(det["score"], [0.9, 0.8, 0.7], atol=1e-3)
    assert det["is_vessel"].tolist() == [True, True, False]
    assert det["is_fishing"].tolist() == [True, False, False]
    np.testing.assert_allclose(det["vessel_length_m"], [42.0, 120.0, 0.0])
    wider = PostprocessConfig(center_threshold=0.3, nms_radius_px=2)
    det = detections_from_maps({"center": center, "vessel": vessel, "fishing": fishing, "length": length}, wider)
    assert (23, 33) in list(zip(det["detect_scene_row"], det["detect_scene_column"]))


def test_empty_map_gives_no_detections():
    zeros = torch.zeros(50, 60, dtype=torch.float16)
    det = detections_from_maps(dict.fromkeys(HEADS, zeros), PostprocessConfig())
    assert all(len(v) == 0 for v in det.values())


UTM = "EPSG:32633"
TRANSFORM = Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 6_100_000.0)


def _frame(n: int = 3, scene_id: str = "scene_a") -> gpd.GeoDataFrame:
    rng = np.random.default_rng(n)
    det = {
        "detect_scene_row": rng.integers(0, 5000, n), "detect_scene_column": rng.integers(0, 5000, n),
        "score": rng.random(n), "vessel_score": rng.random(n), "fishing_score": rng.random(n),
        "is_vessel": rng.random(n) > 0.5, "is_fishing": np.zeros(n, bool), "vessel_length_m": rng.random(n) * 100,
    }
    return detections_frame(det, scene_id, TRANSFORM, UTM, distance_km=rng.random(n) * 20)


def test_lat_lon_consistent_with_transform():
    frame = _frame(5)
    x, y = Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(frame.detect_lon, frame.detect_lat)
    col, row = ~TRANSFORM @ (np.asarray(x), np.asarray(y))
    np.testing.assert_allclose(row, frame.detect_scene_row + 0.5, atol=1e-3)
    np.testing.assert_allclose(col, frame.detect_scene_column + 0.5, atol=1e-3)
    np.testing.assert_allclose(frame.geometry.x, frame.detect_lon)
    assert frame.crs.to_epsg() == 4326
    assert list(frame.columns[: len(PREDICTION_COLUMNS)]) == list(PREDICTION_COLUMNS)


@pytest.mark.parametrize("suffix", [".csv", ".gpkg", ".geojson", ".parquet"])
def test_every_format_reads_back_with_geopandas(tmp_path, suffix):
    frame = concat_frames([_frame(3, "a"), _frame(4, "b")])
    path = write_detections(frame, tmp_path / f"out{suffix}")
    back = gpd.read_parquet(path) if suffix == ".parquet" else gpd.read_file(path)
    assert len(back) == 7 and set(COLUMNS) <= set(back.columns)
    assert sorted(back.scene_id.unique()) == ["a", "b"]
    np.testing.assert_allclose(back.detect_lat.astype(float), frame.detect_lat, atol=1e-6)
    assert back.is_vessel.astype(str).str.lower().tolist() == frame.is_vessel.astype(str).str.lower().tolist()
    if suffix != ".csv":
        assert back.crs.to_epsg() == 4326
        np.testing.assert_allclose(back.geometry.y, frame.detect_lat, atol=1e-6)
    empty = write_detections(concat_frames([]), tmp_path / f"empty{suffix}")
    assert len(gpd.read_parquet(empty) if suffix == ".parquet" else gpd.read_file(empty)) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"out{suffix}", f"empty{suffix}"])


def test_csv_has_submission_columns_first(tmp_path):
    path = write_detections(_frame(2), tmp_path / "d.csv")
    assert list(pd.read_csv(path).columns[:6]) == list(PREDICTION_COLUMNS)


def test_bad_output_paths_are_refused(tmp_path):
    with pytest.raises(XtgeoError, match="unsupported output format"):
        write_detections(_frame(), tmp_path / "d.txt")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(XtgeoError, match="is a file, not a folder"):
        write_detections(_frame(), blocker / "d.csv")


def test_prefetch_keeps_order_and_propagates_errors():
    assert list(prefetch(lambda v: v * v, range(20), workers=3, depth=4)) == [v * v for v in range(20)]

    def fail(v):
        if v == 5:
            raise OSError("boom")
        return v

    with pytest.raises(OSError, match="boom"):
        list(prefetch(fail, range(10)))


class RegionHungry(nn.Module):
    """A tiny xT that runs out of memory whenever it encodes more than ``fits`` regions at once."""

    def __init__(self, fits: int):
        super().__init__()
        from tests.models.test_xt import tiny_model

        self.model, self.fits = tiny_model(region_batch=8).eval(), fits
        self.encoder = self.model.encoder

    def forward(self, x):
        if self.encoder.region_batch > self.fits:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 4.00 GiB")
        return self.model(x)


def _batch(windows: int, side: int = 192):  # 9 regions of 64 px a window
    grid = WindowGrid(side, side * windows, side, 0)
    x = torch.randn(windows, 2, side, side, generator=torch.Generator().manual_seed(0))
    return WindowBatch(list(grid), x, torch.ones(windows, side, side, dtype=torch.bool))


def test_out_of_memory_halves_the_windows_then_the_regions_per_backbone_call():
    hungry = RegionHungry(fits=2)
    predictor = Predictor(hungry, "cpu", batch_size=2)
    batch = _batch(2)
    outputs = [out for _, out in predictor.forward(batch)]
    assert predictor.batch_size == 1 and hungry.encoder.region_batch == 2
    with torch.inference_mode():  # micro-batches of regions change nothing but memory
        expected = head_outputs(hungry(batch.x), batch.valid)
    for k, out in enumerate(outputs):
        for head in HEADS:
            torch.testing.assert_close(out[head], expected[head][k])


def test_out_of_memory_with_one_window_and_one_region_is_one_line():
    predictor = Predictor(RegionHungry(fits=0), "cpu", batch_size=2)
    with pytest.raises(XtgeoError, match=r"out of memory on cpu with one 64x64 window, one region per backbone call"):
        list(predictor.forward(_batch(2, side=64)))
