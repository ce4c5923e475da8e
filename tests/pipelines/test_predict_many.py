"""``xtgeo predict`` over many scenes: one file per scene as each finishes, resume, bad scenes, heatmaps."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import rasterio

from pipelines import predict
from xtgeo.errors import XtgeoError
from xtgeo.predict import heatmap
from xtgeo.predict.detections import read_detections
from xtgeo.predict.inference import Predictor
from xtgeo.predict.scene import PredictOptions, load_model, predict_scene
from xtgeo.predict.sources import open_source
from xtgeo.synth.make import make_scene

OPTIONS = PredictOptions(window_size=192, overlap=32, device="cpu", center_threshold=0.0)


@pytest.fixture(scope="module")
def world(tmp_path_factory, smoke_checkpoint):
    """A folder of three small synthetic scenes, and the smoke checkpoint (untrained)."""
    root = tmp_path_factory.mktemp("many")
    for seed in (1, 2, 3):
        make_scene(root / "scenes", height=256, width=288, seed=seed)
    return root / "scenes", smoke_checkpoint


def scene_ids(scenes):
    return sorted(p.name for p in scenes.iterdir() if (p / "VV_dB.tif").is_file())


def test_out_dir_writes_each_scene_and_a_rerun_redoes_only_the_missing(world, tmp_path):
    scenes, ckpt = world
    out = tmp_path / "det"
    assert predict.run(scenes, ckpt, tmp_path / "all.csv", OPTIONS, out_dir=out, heatmap="heat.tif",
                       quicklook="ql.png") == tmp_path / "all.csv"
    ids = scene_ids(scenes)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{i}.csv" for i in ids] + [f"heat_{i}.tif" for i in ids] + [f"ql_{i}.png" for i in ids])
    merged = pd.read_csv(tmp_path / "all.csv", dtype={"scene_id": str})
    assert sorted(merged.scene_id.unique()) == ids
    assert len(merged) == sum(len(read_detections(out / f"{i}.csv")) for i in ids) > 0

    # a rerun after one scene's detections and another's heatmap went missing redoes those two only
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    (out / f"{ids[0]}.csv").unlink()
    (out / f"heat_{ids[1]}.tif").unlink()
    predict.run(scenes, ckpt, tmp_path / "all.gpkg", OPTIONS, out_dir=out, fmt="csv", heatmap="heat.tif",
                quicklook="ql.png")
    assert sorted(p.name for p in out.iterdir()) == sorted(stamps)
    redone = {p.name for p in out.iterdir() if p.stat().st_mtime_ns != stamps[p.name]}
    assert redone == {f"{i}.csv" for i in ids[:2]} | {f"heat_{i}.tif" for i in ids[:2]} | {
        f"ql_{i}.png" for i in ids[:2]}  # the third scene was not predicted again
    merged_again = read_detections(tmp_path / "all.gpkg")  # the skipped scene's detections are in it too
    assert sorted(merged_again.scene_id.unique()) == ids and len(merged_again) == len(merged)


def test_a_bad_scene_is_reported_by_name_and_the_others_finish(world, tmp_path, xtgeo_cli):
    scenes, ckpt = world
    work = tmp_path / "scenes"
    shutil.copytree(scenes, work)
    bad = work / "bad-scene"
    shutil.copytree(work / scene_ids(scenes)[0], bad)
    (bad / "VH_dB.tif").write_bytes(b"not a tiff")
    out = tmp_path / "det"
    status, _, err = xtgeo_cli("predict", work, "--checkpoint", ckpt, "--out-dir", out, "--format", "parquet",
                               "--window-size", 192, "--overlap", 32, "--device", "cpu")
    assert status == 1
    assert "Traceback" not in err
    failure = next(line for line in err.splitlines() if line.startswith("failed"))
    assert failure.startswith("failed: bad-scene: ") and "VH_dB.tif" in failure, failure
    last = err.splitlines()[-1]
    assert last == f"error: 1 of 4 scene(s) failed (listed above); the detections of the other 3 are in {out}"
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{i}.parquet" for i in scene_ids(scenes))


def test_heatmap_is_the_centre_map_on_the_scene_grid_with_nodata_outside_the_swath(world, tmp_path):
    scenes, ckpt = world
    folder = scenes / scene_ids(scenes)[0]
    predict.run(folder, ckpt, tmp_path / "det.csv", OPTIONS, heatmap=tmp_path / "heat.tif")
    model, config = load_model(ckpt, OPTIONS.overrides())
    source = open_source(folder)
    maps = predict_scene(source, Predictor(model, "cpu"), config, window_size=192, overlap=32, keep_maps=True).maps
    center = maps["center"].float().numpy()
    with rasterio.open(folder / "VV_dB.tif") as src:
        grid, valid = (src.crs, src.transform, src.shape), src.read(1) != src.nodata
    assert 0 < valid.mean() < 1  # a swath edge
    np.testing.assert_array_equal(maps.valid.numpy(), valid)
    with rasterio.open(tmp_path / "heat.tif") as src:
        assert (src.crs, src.transform, src.shape) == grid
        assert src.dtypes == ("uint8",) and src.nodata == heatmap.NODATA and src.scales == (0.01,)
        assert src.profile["tiled"] and src.compression is not None
        stored = src.read(1)
    np.testing.assert_array_equal(stored == heatmap.NODATA, ~valid)
    np.testing.assert_array_equal(stored[valid], np.round(center[valid] * 100))


def test_scenes_in_flight_on_a_device_write_the_same_files(world, tmp_path, xtgeo_cli):
    scenes, ckpt = world
    written = {}
    for in_flight in (1, 3):
        out = tmp_path / f"det{in_flight}"
        status, _, err = xtgeo_cli("predict", scenes, "--checkpoint", ckpt, "--out-dir", out, "--heatmap", "heat.tif",
                                   "--window-size", 192, "--overlap", 32, "--device", "cpu", "--center-threshold", 0,
                                   "--scenes-per-device", in_flight)
        assert status == 0, err
        written[in_flight] = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(written[1]) == 2 * len(scene_ids(scenes))
    assert written[3] == written[1]


def test_scenes_per_device_below_one_is_refused():
    with pytest.raises(XtgeoError, match="--scenes-per-device 0: must be at least 1"):
        PredictOptions(scenes_per_device=0).check()
