"""``xtgeo predict`` end to end on small synthetic scenes: entry points, outputs and bad input."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import torch

from pipelines import predict
from tests.hostile import corrupt_tile, poison_shoreline, run_on_small_disk, xtgeo_command
from tests.paths import SMOKE_CONFIG as SMOKE
from xtgeo.config import load_config
from xtgeo.errors import XtgeoError
from xtgeo.models import build_model
from xtgeo.predict.inference import Predictor, WindowBatch
from xtgeo.predict.scene import PredictOptions
from xtgeo.predict.windows import GridWindow
from xtgeo.preprocess import writer
from xtgeo.preprocess.ancillary import land_window, read_raster
from xtgeo.scene import prepared
from xtgeo.scene.raw import DEFAULT_NODATA
from xtgeo.synth.make import make_scene
from xtgeo.train.checkpoint import save_checkpoint

OPTIONS = PredictOptions(window_size=192, overlap=32, device="cpu", center_threshold=0.0)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two synthetic scenes and a checkpoint of the smoke model (untrained: weights are not the point)."""
    root = tmp_path_factory.mktemp("predict")
    scenes = [make_scene(root / "scenes", height=288, width=320, seed=seed) for seed in (1, 2)]
    config = load_config(SMOKE)
    torch.manual_seed(0)
    model = build_model(config.model)
    ckpt = save_checkpoint(root / "ckpt.pt", model=model.state_dict(), config=config.to_dict(), step=0,
                           xtgeo_version="test")
    return root, scenes, ckpt, config, model


def _read(path: Path) -> pd.DataFrame:
    readers = {".csv": pd.read_csv, ".parquet": gpd.read_parquet}
    return readers.get(path.suffix, gpd.read_file)(path)


def _positions(frame) -> list[tuple[int, int]]:
    return sorted(zip(frame.detect_scene_row.astype(int), frame.detect_scene_column.astype(int)))


def _write_two_band(folder: Path, out: Path) -> Path:
    with rasterio.open(folder / "VV_dB.tif") as vv, rasterio.open(folder / "VH_dB.tif") as vh:
        profile = {**vv.profile, "count": 2}
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(vv.read(1), 1)
            dst.write(vh.read(1), 2)
    return out


def _land(folder: Path) -> np.ndarray:
    """A raw scene's land mask on its grid, as preprocess makes it from ``owiMask.tif``."""
    with rasterio.open(folder / "VV_dB.tif") as vv:
        window = rasterio.windows.Window(0, 0, vv.width, vv.height)
        return land_window(read_raster(folder / "owiMask.tif"), vv.transform, vv.crs, window)


def _write_prepared(folder: Path, prep_dir: Path) -> Path:
    """A preprocessed scene made with :mod:`xtgeo.scene.prepared`'s writer from a raw scene's bands."""
    with rasterio.open(folder / "VV_dB.tif") as vv, rasterio.open(folder / "VH_dB.tif") as vh:
        v, h, crs, transform = vv.read(1), vh.read(1), vv.crs, vv.transform
    valid = (v != DEFAULT_NODATA) & (h != DEFAULT_NODATA)
    zeros = np.zeros_like(v)
    bands = dict(vv_db=np.where(valid, v, 0), vh_db=np.where(valid, h, 0), valid=valid, land=_land(folder),
                 shore_km=zeros, bathymetry_m=zeros)
    out = prepared.scene_dir(prep_dir, folder.name)
    out.mkdir(parents=True)
    with writer.open_writer(out / prepared.SCENE_FILE, *v.shape, crs, transform) as dst:
        writer.write_block(dst, rasterio.windows.Window(0, 0, v.shape[1], v.shape[0]), bands)
    writer.write_meta(out / prepared.META_FILE, {"format_version": prepared.FORMAT_VERSION})
    return out


def test_every_entry_point_gives_the_same_detections(world, tmp_path):
    root, scenes, ckpt, _, _ = world
    folder = scenes[0].folder
    entries = {
        "folder": folder,
        "vv_tif": folder / "VV_dB.tif",
        "two_band": _write_two_band(folder, tmp_path / "stack.tif"),
        "prepared": _write_prepared(folder, tmp_path / "prep"),
    }
    entries["prepared_tif"] = entries["prepared"] / prepared.SCENE_FILE
    every = replace(OPTIONS, keep_land=True)  # the 2-band GeoTIFF has no owiMask: it cannot tell land
    found = {name: _read(predict.run(path, ckpt, tmp_path / f"{name}.csv", every)) for name, path in entries.items()}
    reference = _positions(found["folder"])
    assert len(reference) > 0
    for name, frame in found.items():
        assert _positions(frame) == reference, name
        on_land = frame.sort_values(["detect_scene_row", "detect_scene_column"]).on_land.to_numpy()
        assert on_land.any() != (name == "two_band"), name
    assert set(found["folder"].scene_id) == {folder.name}
    assert set(found["two_band"].scene_id) == {"stack"}
    # The synth shoreline beside the raw scene gives distances to shore; the prepared copy has its own none.
    assert found["folder"].distance_from_shore_km.notna().all()
    prepared_copy = found["prepared"]  # no shoreline file of its own: distances known only on land (0)
    assert prepared_copy.distance_from_shore_km.isna().tolist() == (~prepared_copy.on_land).tolist()
    assert (prepared_copy.distance_from_shore_km[prepared_copy.on_land] == 0).all()


def test_folder_of_scenes_all_formats_and_quicklooks(world, tmp_path):
    root, scenes, ckpt, _, _ = world
    outputs = {}
    for suffix in (".gpkg", ".geojson", ".parquet"):
        quicklook = tmp_path / f"ql{suffix}.png" if suffix == ".gpkg" else None
        outputs[suffix] = _read(predict.run(root / "scenes", ckpt, tmp_path / f"det{suffix}", OPTIONS,
                                                quicklook=quicklook))
    ids = sorted(s.scene_id for s in scenes)
    for suffix, frame in outputs.items():
        assert sorted(frame.scene_id.unique()) == ids, suffix
        assert frame.crs.to_epsg() == 4326
        assert len(frame) == len(outputs[".gpkg"])
    for scene_id in ids:
        png = tmp_path / f"ql.gpkg_{scene_id}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_land_detections_are_dropped_unless_kept(world, tmp_path):
    root, scenes, ckpt, _, _ = world
    folder = scenes[0].folder
    land = _land(folder)
    kept = _read(predict.run(folder, ckpt, tmp_path / "all.csv", replace(OPTIONS, keep_land=True)))
    sea = _read(predict.run(folder, ckpt, tmp_path / "sea.csv", OPTIONS))
    at = land[kept.detect_scene_row, kept.detect_scene_column]
    assert at.any() and (~at).any()  # the untrained model finds peaks on land and at sea
    assert kept.on_land.tolist() == at.tolist()
    assert _positions(sea) == _positions(kept[~kept.on_land]) and "on_land" not in sea.columns
    assert (kept.distance_from_shore_km[kept.on_land] == 0).all() and (sea.distance_from_shore_km > 0).all()


def test_prepared_land_band_decides_what_is_land(world, prepared_dataset):
    from xtgeo.predict.scene import predict_scene, scene_detections
    from xtgeo.predict.sources import find_sources

    _, _, _, config, model = world
    source = find_sources(prepared_dataset)[0]
    every_peak = replace(config.postprocess, center_threshold=0.0)
    result = predict_scene(source, Predictor(model, "cpu"), replace(config, postprocess=every_peak), window_size=1024,
                           overlap=0, keep_maps=True, keep_land=True)
    with rasterio.open(source.scene.land.path) as src:
        land = src.read(prepared.band_index("land")) > 0
    kept = result.detections
    at = land[kept.detect_scene_row, kept.detect_scene_column]
    assert at.any() and (~at).any() and kept.on_land.tolist() == at.tolist()
    sea = scene_detections(source, result.maps.maps, every_peak)
    assert _positions(sea) == _positions(kept[~kept.on_land])
    assert (kept.distance_from_shore_km[kept.on_land] == 0).all()


def test_max_detections_keeps_the_strongest(world):
    from xtgeo.predict.scene import predict_scene, scene_detections
    from xtgeo.predict.sources import find_sources

    root, scenes, _, config, model = world
    source = find_sources(scenes[0].folder)[0]
    every_peak = replace(config.postprocess, center_threshold=0.0)
    result = predict_scene(source, Predictor(model, "cpu"), replace(config, postprocess=every_peak), window_size=192,
                           overlap=32, keep_maps=True)
    strongest = scene_detections(source, result.maps.maps, every_peak, max_detections=10)
    assert len(result.detections) > 10 and len(strongest) == 10
    assert strongest.score.min() >= result.detections.score.nlargest(10).min()
    assert _positions(strongest) == _positions(result.detections.iloc[:10])


def test_ensemble_tta_and_land_from_the_cli(world, tmp_path, xtgeo_cli):
    root, scenes, ckpt, config, model = world
    torch.manual_seed(5)
    second = save_checkpoint(tmp_path / "second.pt", model=build_model(config.model).state_dict(),
                             config=config.to_dict())
    common = ("--window-size", 192, "--overlap", 32, "--device", "cpu", "--center-threshold", 0.0, "--keep-land")
    outputs = {name: tmp_path / f"{name}.csv" for name in ("one", "two", "tta")}
    status, _, err = xtgeo_cli("predict", scenes[0].folder, "--checkpoint", ckpt, "--out", outputs["one"], *common)
    assert status == 0, err
    status, _, err = xtgeo_cli("predict", scenes[0].folder, "--checkpoint", ckpt, "--checkpoint", second, "--out",
                               outputs["two"], *common)
    assert status == 0 and "2 checkpoint(s) × 1 view(s)" in err, err
    status, _, err = xtgeo_cli("predict", scenes[0].folder, "--checkpoint", ckpt, "--tta-views", "flips", "--out",
                               outputs["tta"], *common)
    assert status == 0 and "1 checkpoint(s) × 4 view(s)" in err, err
    one, two, tta = (pd.read_csv(outputs[name]) for name in ("one", "two", "tta"))
    assert "on_land" in one.columns and len(two) > 0 and len(tta) > 0
    assert _positions(one) != _positions(two) and _positions(one) != _positions(tta)
    raw = config.to_dict()
    other = save_checkpoint(tmp_path / "other.pt", model=model.state_dict(),
                            config={**raw, "data": {**raw["data"], "vv_mean": -10.0}})
    status, _, err = xtgeo_cli("predict", scenes[0].folder, "--checkpoint", ckpt, "--checkpoint", other, "--out",
                               tmp_path / "bad.csv", *common)
    assert status == 1 and err.count("\n") == 1 and not (tmp_path / "bad.csv").exists()
    assert err.startswith(f"error: {other}: takes other inputs than {ckpt} (data.vv_mean: -10.0, not -18.0)")


def test_thresholds_override_the_checkpoint(world, tmp_path):
    root, scenes, ckpt, config, _ = world
    low = _read(predict.run(scenes[0].folder, ckpt, tmp_path / "low.csv", OPTIONS))
    high = _read(predict.run(scenes[0].folder, ckpt, tmp_path / "high.csv", replace(OPTIONS, center_threshold=0.9)))
    assert len(high) < len(low)
    assert (low.score > 0.0).all() and (high.score > 0.9).all()
    strict = _read(predict.run(scenes[0].folder, ckpt, tmp_path / "strict.csv", replace(OPTIONS, vessel_threshold=1.0)))
    assert not strict.is_vessel.any() and not strict.is_fishing.any()


def test_all_nodata_scene_gives_an_empty_file(world, tmp_path):
    root, scenes, ckpt, _, _ = world
    folder = tmp_path / "blank"
    folder.mkdir()
    for name in ("VV_dB.tif", "VH_dB.tif"):
        with rasterio.open(scenes[0].folder / name) as src:
            profile = src.profile
        with rasterio.open(folder / name, "w", **profile) as dst:
            dst.write(np.full((profile["height"], profile["width"]), DEFAULT_NODATA, dtype=profile["dtype"]), 1)
    out = predict.run(folder, ckpt, tmp_path / "blank.csv", OPTIONS)
    frame = pd.read_csv(out)
    assert len(frame) == 0 and "detect_scene_row" in frame.columns



def test_cli_writes_detections(world, tmp_path, xtgeo_cli):
    root, scenes, ckpt, _, _ = world
    out = tmp_path / "cli.geojson"
    status, _, err = xtgeo_cli("predict", scenes[0].folder, "--checkpoint", ckpt, "--out", out, "--window-size", 192,
                               "--overlap", 32,
                  "--device", "cpu", "--center-threshold", 0.0)
    assert status == 0, err
    assert len(gpd.read_file(out)) > 0


def test_a_poisoned_shoreline_beside_a_raw_scene_cannot_run_code(world, tmp_path, xtgeo_cli):
    root, scenes, ckpt, _, _ = world
    marker = tmp_path / "marker"
    folder = shutil.copytree(scenes[0].folder, tmp_path / "scenes" / scenes[0].scene_id)
    poisoned = poison_shoreline(prepared.shoreline_path(tmp_path / "scenes", folder.name), marker)
    status, _, err = xtgeo_cli("predict", folder, "--checkpoint", ckpt, "--out", tmp_path / "d.csv",
                               "--window-size", 192, "--overlap", 32, "--device", "cpu")
    assert status == 1 and not marker.exists()
    assert f"{poisoned}: not an official shoreline file (refused to load posix.system" in err
    assert not (tmp_path / "d.csv").exists()


def _bad_checkpoints(world, tmp_path) -> dict[str, tuple[Path, str]]:
    root, scenes, ckpt, config, model = world
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(ckpt.read_bytes()[:2000])
    raw = config.to_dict()
    two_channels = {**raw, "model": {**raw["model"], "in_chans": 2}}
    other = {**raw, "model": {**raw["model"], "decoder": {**raw["model"]["decoder"], "width": 16}}}
    return {
        "missing": (tmp_path / "nope.pt", "no such checkpoint"),
        "corrupt": (corrupt, "not a readable checkpoint"),
        "channels": (save_checkpoint(tmp_path / "chans.pt", model=model.state_dict(), config=two_channels),
                     "takes 2 input channels, but scenes give 3"),
        "weights": (save_checkpoint(tmp_path / "other.pt", model=model.state_dict(), config=other),
                    "weights do not fit"),
    }


def test_bad_checkpoints_fail_with_one_line_and_no_output(world, tmp_path, xtgeo_cli):
    root, scenes, _, _, _ = world
    outputs = tmp_path / "out"
    for name, (path, message) in _bad_checkpoints(world, tmp_path).items():
        status, _, err = xtgeo_cli("predict", scenes[0].folder, "--checkpoint", path, "--out", outputs / f"{name}.csv",
                           "--device", "cpu")
        assert status == 1, name
        assert err.startswith("error: ") and message in err, (name, err)
        assert len(err.strip().splitlines()) == 1, err
    assert not outputs.exists() or not any(outputs.iterdir())


def test_bad_paths_fail_before_any_work(world, tmp_path):
    root, scenes, ckpt, _, _ = world
    blocker = tmp_path / "file"
    blocker.write_text("")
    cases = [
        (scenes[0].folder, blocker / "d.csv", "is a file, not a folder"),
        (scenes[0].folder, tmp_path / "d.shp", "unsupported output format"),
        (tmp_path / "nowhere", tmp_path / "d.csv", "no such scene"),
        (blocker, tmp_path / "d.csv", "not a readable GeoTIFF"),
    ]
    for scene, out, message in cases:
        with pytest.raises(XtgeoError, match=message):
            predict.run(scene, ckpt, out, OPTIONS)
    with pytest.raises(XtgeoError, match="at most half"):
        predict.run(scenes[0].folder, ckpt, tmp_path / "d.csv", replace(OPTIONS, overlap=150))
    with pytest.raises(XtgeoError, match="--out FILE .* or --out-dir DIR"):
        predict.run(scenes[0].folder, ckpt, None, OPTIONS)
    with pytest.raises(XtgeoError, match="--format shp"):
        predict.run(scenes[0].folder, ckpt, None, OPTIONS, out_dir=tmp_path / "d", fmt="shp")
    with pytest.raises(XtgeoError, match="--heatmap .*must be a .tif"):
        predict.run(scenes[0].folder, ckpt, tmp_path / "d.csv", OPTIONS, heatmap=tmp_path / "h.png")
    with pytest.raises(XtgeoError, match="--out-dir .*is a file"):
        predict.run(scenes[0].folder, ckpt, None, OPTIONS, out_dir=blocker)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def _scene_folder(world, tmp_path) -> Path:
    """A folder of scenes: the two good ones, a PNG renamed VV_dB.tif, a truncated one, and one whose
    last window fails to decode partway through the scene (its other windows read)."""
    root, scenes, _, _, _ = world
    folder = tmp_path / "scenes"
    for scene in scenes:
        shutil.copytree(scene.folder, folder / scene.scene_id)
    shutil.copytree(root / "scenes" / prepared.SHORELINE_DIR, folder / prepared.SHORELINE_DIR)
    png = Path(shutil.copytree(scenes[0].folder, folder / "png"))
    from PIL import Image

    Image.fromarray(np.zeros((64, 64), np.uint8)).save(png / "VV_dB.tif", format="PNG")
    truncated = Path(shutil.copytree(scenes[0].folder, folder / "truncated"))
    (truncated / "VH_dB.tif").write_bytes((truncated / "VH_dB.tif").read_bytes()[:3000])
    midway = Path(shutil.copytree(scenes[1].folder, folder / "midway"))
    with rasterio.open(midway / "VV_dB.tif") as src:  # 32-px tiles: 9 x 10, of which opening samples 5 x 5
        profile, data = src.profile, src.read()
    with rasterio.open(midway / "VV_dB.tif", "w", **{**profile, "tiled": True, "blockxsize": 32,
                                                     "blockysize": 32}) as dst:
        dst.write(data)
    corrupt_tile(midway / "VV_dB.tif", tile_row=3, tile_col=3)
    return folder


def test_a_bad_scene_is_reported_by_name_while_the_others_are_written(world, tmp_path, xtgeo_cli):
    root, scenes, ckpt, _, _ = world
    folder = _scene_folder(world, tmp_path)
    out = tmp_path / "out" / "d.gpkg"
    status, _, err = xtgeo_cli("predict", folder, "--checkpoint", ckpt, "--out", out, "--quicklook", tmp_path / "q.png",
                               "--window-size", 192, "--overlap", 32, "--device", "cpu", "--center-threshold", 0.0)
    assert status == 1 and "Traceback" not in err
    lines = err.splitlines()
    assert f"failed: png: {folder / 'png' / 'VV_dB.tif'}: is a PNG file, not a GeoTIFF" in lines
    assert any(line.startswith(f"failed: truncated: {folder / 'truncated' / 'VH_dB.tif'}: ") for line in lines)
    assert any(line.startswith(f"failed: midway: {folder / 'midway' / 'VV_dB.tif'}: cannot read the window at row ")
               for line in lines), err
    assert lines[-1] == f"error: 3 of 5 scene(s) failed (listed above); the detections of the other 2 are in {out}"
    written = gpd.read_file(out)
    assert sorted(written.scene_id.unique()) == sorted(s.scene_id for s in scenes) and len(written) > 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".png") == sorted(
        f"q_{s.scene_id}.png" for s in scenes)


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--center-threshold", "nan", "--center-threshold nan: a probability threshold must be from 0 to 1"),
        ("--center-threshold", "2", "--center-threshold 2.0: a probability threshold must be from 0 to 1"),
        ("--vessel-threshold", "-0.5", "--vessel-threshold -0.5: a probability"),
        ("--fishing-threshold", "inf", "--fishing-threshold inf: a probability"),
        ("--nms-radius", "-1", "--nms-radius -1: the minimum peak separation must be 0 or more pixels"),
        ("--window-size", "-5", "--overlap 512: must be from 0 to at most half of --window-size -5"),
        ("--overlap", "-1", "--overlap -1: must be from 0"),
    ],
)
def test_bad_option_values_fail_before_the_model_runs(world, tmp_path, xtgeo_cli, flag, value, message):
    root, scenes, ckpt, _, _ = world
    status, _, err = xtgeo_cli("predict", scenes[0].folder, "--checkpoint", ckpt, "--out", tmp_path / "d.csv",
                               "--device", "cpu", flag, value)
    assert status == 1 and err.startswith(f"error: {message}") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "d.csv").exists()


def test_outputs_never_replace_a_folder_or_an_input(world, tmp_path, xtgeo_cli):
    root, scenes, ckpt, _, _ = world
    folder = tmp_path / "d.csv"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep me")
    vv = scenes[0].folder / "VV_dB.tif"
    ckpt_bytes, vv_bytes = ckpt.read_bytes(), vv.read_bytes()
    cases = [
        (("--out", folder), f"--out {folder}: is a folder"),
        (("--out", tmp_path / "q.png", "--quicklook", tmp_path / "q.png"), "unsupported output format"),
        (("--out", tmp_path / "a.csv", "--quicklook", folder), f"--quicklook {folder}: must be a .png file"),
        (("--out", tmp_path / "a.csv", "--quicklook", folder / "keep.txt" / "q.png"), "is a file, not a folder"),
        (("--out", folder / "keep.txt" / "d.csv"), "is a file, not a folder"),
        (("--out", tmp_path / "a.csv", "--quicklook", tmp_path / "a.csv"), "must be a .png file"),
    ]
    for args, message in cases:
        status, _, err = xtgeo_cli("predict", scenes[0].folder, "--checkpoint", ckpt, "--device", "cpu", *args)
        assert status == 1 and message in err and len(err.splitlines()) == 1, (args, err)
    link = tmp_path / "link.csv"
    link.symlink_to(scenes[0].folder / "VV_dB.tif")
    with pytest.raises(XtgeoError, match="is also an input"):
        predict.run(scenes[0].folder / "VV_dB.tif", ckpt, link, OPTIONS)
    assert (folder / "keep.txt").read_text() == "keep me"
    assert ckpt.read_bytes() == ckpt_bytes and vv.read_bytes() == vv_bytes


def test_a_killed_runs_temporaries_are_cleaned_by_the_next_run_into_the_same_place(world, tmp_path):
    root, scenes, ckpt, _, _ = world
    out = tmp_path / "d.csv"
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    left = [tmp_path / f".tmp-{killed.pid}-0123abcd-d.csv", tmp_path / f".tmp-{killed.pid}-4567abcd-q.png"]
    for path in left:
        path.write_text("half written")
    killed.kill()
    killed.wait()
    others = [tmp_path / f".tmp-{killed.pid}-89abcdef-other.csv", tmp_path / "notes.txt"]
    for path in others:
        path.write_text("not predict's")
    predict.run(scenes[0].folder, ckpt, out, OPTIONS, quicklook=tmp_path / "q.png")
    assert not any(p.exists() for p in left) and all(p.exists() for p in others)
    assert out.is_file() and (tmp_path / "q.png").is_file()


@pytest.mark.parametrize("suffix", [".csv", ".gpkg", ".geojson", ".parquet"])
def test_a_full_disk_is_one_line_naming_the_file(world, tmp_path, suffix):
    root, scenes, ckpt, _, _ = world
    mount = tmp_path / "small"
    out = mount / f"d{suffix}"
    done = run_on_small_disk("64k", mount, xtgeo_command(
        "predict", scenes[0].folder, "--checkpoint", ckpt, "--out", out, "--window-size", 192, "--overlap", 32,
        "--device", "cpu", "--center-threshold", 0.0), full=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"error: {out}: cannot write (") and "o space left on device" in last, last


class OomAboveOne(torch.nn.Module):
    """Raises the GPU out-of-memory error for batches of more than one window."""

    def forward(self, x):
        if x.shape[0] > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return {h: x[:, :1] for h in ("center", "vessel", "fishing", "length")}


def test_out_of_memory_halves_the_batch_then_advises():
    windows = [GridWindow(0, 8 * k, 8, 8, 0, k) for k in range(4)]
    batch = WindowBatch(windows, torch.arange(4.0).view(4, 1, 1, 1).expand(4, 2, 8, 8).contiguous(),
                      torch.ones(4, 8, 8, dtype=torch.bool))
    predictor = Predictor(OomAboveOne(), "cpu", batch_size=4)
    out = list(predictor.forward(batch))
    assert predictor.batch_size == 1
    assert [t for t, _ in out] == windows
    np.testing.assert_allclose([float(o["length"][0, 0]) for _, o in out], [0, 1, 2, 3])

    class AlwaysOom(torch.nn.Module):
        def forward(self, x):
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    with pytest.raises(XtgeoError, match="smaller --window-size"):
        list(Predictor(AlwaysOom(), "cpu", batch_size=2).forward(batch))


def test_detections_at_the_objects_once_trained(prepared_dataset, tmp_path):
    """A few smoke training steps already put the strongest centre peaks on the labelled objects."""
    from scipy.spatial import cKDTree

    from xtgeo.train.checkpoint import checkpoint_path
    from xtgeo.train.trainer import run_training

    run = run_training(SMOKE, prepared_dataset, tmp_path / "run", overrides=(
        "data.object_fraction=1.0", "data.val_scenes_count=1", "train.validation=none", "train.steps=12",
        "train.epoch_steps=12", "train.checkpoint_every=12"))
    out = predict.run(prepared_dataset, checkpoint_path(run), tmp_path / "det.parquet",
                      replace(OPTIONS, window_size=512, overlap=64))
    found = gpd.read_parquet(out)
    labels = pd.read_parquet(prepared_dataset / prepared.LABELS_FILE)
    assert sorted(found.scene_id.unique()) == sorted(labels.scene_id.unique())
    assert found.distance_from_shore_km.notna().all()
    hits = total = 0
    for scene_id, truth in labels.groupby("scene_id"):
        top = found[found.scene_id == scene_id].nlargest(len(truth), "score")
        tree = cKDTree(truth[["detect_scene_row", "detect_scene_column"]].to_numpy())
        distance, _ = tree.query(top[["detect_scene_row", "detect_scene_column"]].to_numpy())
        hits, total = hits + int((distance <= 5).sum()), total + len(truth)
    assert hits >= total / 2, f"only {hits} of the {total} strongest peaks are at labelled objects"
