"""`xtgeo preprocess` on real synthetic scenes through a real Dask LocalCluster."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import tifffile
from dask.distributed import Client, LocalCluster
from rasterio.crs import CRS

from tests.hostile import corrupt_tile, run_on_small_disk, xtgeo_command
from tests.oracles import PIXEL_SIZE_M, distance_to_land_km
from xtgeo.atomic import is_temporary
from xtgeo.errors import LabelError, OutputError
from xtgeo.preprocess import writer
from xtgeo.preprocess.contours import land_contours
from xtgeo.preprocess.distance import DEFAULT_SHORE_CAP_KM
from xtgeo.preprocess.run import run_preprocess
from xtgeo.scene import prepared
from xtgeo.scene.shoreline import distance_at_points_km, read_shoreline
from xtgeo.synth import make_dataset

HEIGHT, WIDTH, BLOCK = 300, 260, 64


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as c:
            yield c


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    make_dataset(root, scenes=2, height=HEIGHT, width=WIDTH, seed=3)  # both scenes have sea and land
    return root


@pytest.fixture(scope="module")
def prep(scenes, client, tmp_path_factory):
    out = tmp_path_factory.mktemp("prep")
    report = run_preprocess(scenes, out, scenes / "labels.csv", client=client, block_size=BLOCK)
    return out, report


def scene_ids(scenes):
    return sorted(p.name for p in scenes.iterdir() if (p / "VV_dB.tif").exists())


def read_source(path):
    with rasterio.open(path) as src:
        return src.read(1), src.profile


def expected_land(scene_folder, profile):
    """Land by looking up the owiMask cell holding each 10 m pixel centre (independent of warping)."""
    with rasterio.open(scene_folder / "owiMask.tif") as mask:
        rows, cols = np.mgrid[0 : profile["height"], 0 : profile["width"]]
        xs, ys = profile["transform"] @ (cols + 0.5, rows + 0.5)
        r, c = rasterio.transform.rowcol(mask.transform, xs.ravel(), ys.ravel())
        return (mask.read(1)[np.asarray(r), np.asarray(c)] == 1).reshape(rows.shape)


def test_bands_georeferencing_and_shoreline_are_right(scenes, prep):
    out, report = prep
    assert [o.status for o in report.outcomes] == ["done", "done"]
    for sid in scene_ids(scenes):
        vv, profile = read_source(scenes / sid / "VV_dB.tif")
        vh, _ = read_source(scenes / sid / "VH_dB.tif")
        bands = prepared.read_bands(out / sid)
        valid = np.isfinite(vv) & np.isfinite(vh) & (vv != profile["nodata"]) & (vh != profile["nodata"])
        assert 0 < valid.sum() < valid.size  # synth scenes have a nodata swath edge
        np.testing.assert_array_equal(bands["valid"], valid)
        np.testing.assert_array_equal(bands["vv_db"], np.where(valid, vv, np.nan))  # NaN: the file's nodata
        np.testing.assert_array_equal(bands["vh_db"], np.where(valid, vh, np.nan))
        with rasterio.open(out / sid / prepared.SCENE_FILE) as src:
            assert src.descriptions == prepared.BANDS
            assert src.units == ("dB", "dB", None, None, "km", "m")
            assert (src.height, src.width, src.crs) == (profile["height"], profile["width"], profile["crs"])
            assert src.transform == profile["transform"]
            assert src.profile["tiled"] and src.compression is not None and np.isnan(src.nodata)
            assert src.overviews(1) == []  # half of it is no longer than 256 px: it needs none
            tags = src.tags(1)
            assert float(tags["STATISTICS_MEAN"]) == pytest.approx(vv[valid].mean(dtype=np.float64), rel=1e-6)
            assert float(tags["STATISTICS_MAXIMUM"]) == vv[valid].max()
            assert float(tags["STATISTICS_VALID_PERCENT"]) == pytest.approx(100 * valid.mean())
            assert float(src.tags(3)["STATISTICS_MEAN"]) == pytest.approx(valid.mean())
            shore = src.tags(prepared.band_index("shore_km"))  # no overview: from the full band, exact
            assert "STATISTICS_APPROXIMATE" not in shore
            assert float(shore["STATISTICS_MAXIMUM"]) == bands["shore_km"].max()
            assert float(shore["STATISTICS_MEAN"]) == pytest.approx(bands["shore_km"].mean(dtype=np.float64))

        land = bands["land"].astype(bool)
        np.testing.assert_array_equal(land, expected_land(scenes / sid, profile))
        assert 0 < land.mean() < 1
        # the shore distance equals a direct EDT of the land band (scene smaller than the cap)
        assert max(HEIGHT, WIDTH) * PIXEL_SIZE_M / 1000 < DEFAULT_SHORE_CAP_KM
        np.testing.assert_allclose(bands["shore_km"], distance_to_land_km(land), atol=1e-6)
        assert np.isfinite(bands["bathymetry_m"]).mean() > 0.9

        # shoreline: the official tracing of the land band, and what `score` measures at sea
        contours = read_shoreline(prepared.shoreline_path(out, sid))
        reference = land_contours(land, block=BLOCK)
        assert len(contours) == len(reference) > 0
        assert all(np.array_equal(a, b) for a, b in zip(contours, reference))
        sea = np.argwhere(~land)[::97]
        np.testing.assert_allclose(
            distance_at_points_km(sea, contours, PIXEL_SIZE_M), bands["shore_km"][sea[:, 0], sea[:, 1]], atol=1e-5
        )

        meta = prepared.read_meta(out, sid)
        assert meta["stats"]["vv_db"]["count"] == valid.sum()
        assert meta["stats"]["vv_db"]["mean"] == pytest.approx(vv[valid].mean(dtype=np.float64), rel=1e-6)
        assert meta["stats"]["vh_db"]["p01"] <= meta["stats"]["vh_db"]["p50"] <= meta["stats"]["vh_db"]["p99"]
        assert (meta["height"], meta["width"]) == (HEIGHT, WIDTH)
        assert CRS.from_string(meta["crs"]) == profile["crs"]


def test_labels_are_joined_to_their_scenes(scenes, prep):
    out, report = prep
    source = pd.read_csv(scenes / "labels.csv")
    table = pd.read_parquet(out / prepared.LABELS_FILE)
    assert len(table) == len(source) == report.labels.written > 0
    assert list(table.columns[:16]) == list(source.columns)
    assert set(table["scene_id"]) <= set(scene_ids(scenes))
    assert table["detect_scene_row"].between(0, HEIGHT - 1).all()


def test_labels_outside_their_scene_or_of_other_scenes_are_reported(scenes, client, tmp_path):
    source = pd.read_csv(scenes / "labels.csv")
    outside = source.iloc[[0]].assign(detect_scene_row=HEIGHT + 5)
    other = source.iloc[[1]].assign(scene_id="not-a-scene")
    labels = tmp_path / "labels.csv"
    pd.concat([source, outside, other]).to_csv(labels, index=False)
    report = run_preprocess(scenes, tmp_path / "prep", labels, client=client, block_size=4096)
    assert report.labels.written == len(source)
    assert list(report.labels.outside["detect_scene_row"]) == [HEIGHT + 5]
    assert report.labels.unknown_scene_rows == 1


def test_bad_labels_fail_before_any_work(scenes, client, tmp_path):
    labels = tmp_path / "labels.csv"
    pd.read_csv(scenes / "labels.csv").drop(columns=["scene_id"]).to_csv(labels, index=False)
    with pytest.raises(LabelError, match="labels.csv"):
        run_preprocess(scenes, tmp_path / "prep", labels, client=client)
    assert not (tmp_path / "prep").exists() or not any((tmp_path / "prep").iterdir())


def test_blockwise_equals_whole_with_a_small_cap(scenes, client, tmp_path):
    cap_km = 0.25  # 25 px: far smaller than the scene, so the cap and the halo both matter
    run_preprocess(scenes, tmp_path / "blockwise", client=client, block_size=48, shore_cap_km=cap_km)
    run_preprocess(scenes, tmp_path / "whole", client=client, block_size=4096, shore_cap_km=cap_km)
    for sid in scene_ids(scenes):
        blockwise = prepared.read_bands(tmp_path / "blockwise" / sid)
        whole = prepared.read_bands(tmp_path / "whole" / sid)
        for name in prepared.BANDS[:-1]:
            np.testing.assert_array_equal(blockwise[name], whole[name], err_msg=name)
        # bilinear bathymetry: GDAL's float32 interpolation may differ in the last bit between windows
        np.testing.assert_allclose(blockwise["bathymetry_m"], whole["bathymetry_m"], rtol=1e-6)
        assert blockwise["shore_km"].max() == np.float32(0.25)
        land = whole["land"].astype(bool)
        np.testing.assert_allclose(whole["shore_km"], np.minimum(distance_to_land_km(land), 0.25), atol=1e-6)


def test_rerun_skips_overwrite_and_changed_sources_redo(scenes, client, tmp_path):
    work = tmp_path / "scenes"
    shutil.copytree(scenes, work)
    out = tmp_path / "prep"
    first = run_preprocess(work, out, client=client, block_size=128)
    assert {o.status for o in first.outcomes} == {"done"}
    sid = scene_ids(work)[0]
    tif = out / sid / prepared.SCENE_FILE
    stamp = tif.stat().st_mtime_ns
    again = run_preprocess(work, out, client=client, block_size=128)
    assert {o.status for o in again.outcomes} == {"skipped"}
    assert tif.stat().st_mtime_ns == stamp
    os.utime(work / sid / "VV_dB.tif")  # a changed source is redone, the other scene skipped
    changed = run_preprocess(work, out, client=client, block_size=128)
    assert {o.scene_id: o.status for o in changed.outcomes}[sid] == "done"
    assert sorted(o.status for o in changed.outcomes) == ["done", "skipped"]
    forced = run_preprocess(work, out, client=client, block_size=128, overwrite=True)
    assert {o.status for o in forced.outcomes} == {"done"}


def break_scene(folder: Path, how: str) -> None:
    vv = folder / "VV_dB.tif"
    if how == "missing band":
        (folder / "VH_dB.tif").unlink()
    elif how == "truncated":
        vv.write_bytes(vv.read_bytes()[: vv.stat().st_size // 2])
    elif how in ("wrong crs", "all nodata"):
        with rasterio.open(vv) as src:
            profile, data = src.profile, src.read(1)
        if how == "wrong crs":
            profile["crs"] = CRS.from_epsg(4326)
        else:
            data[:] = profile["nodata"]
        vv.unlink()
        with rasterio.open(vv, "w", **profile) as dst:
            dst.write(data, 1)


def test_each_bad_scene_is_reported_while_good_scenes_finish(scenes, tmp_path):
    good = scene_ids(scenes)[0]
    work = tmp_path / "scenes"
    shutil.copytree(scenes / good, work / good)
    problems = {"missing band": "VH_dB.tif", "truncated": "VV_dB.tif", "wrong crs": "not projected",
                "all nodata": "nodata"}
    for how in problems:
        bad = work / f"bad-{how.replace(' ', '-')}"
        shutil.copytree(scenes / good, bad)
        break_scene(bad, how)
    result = subprocess.run(
        [sys.executable, "-c", "import cli; cli.main()", "preprocess", str(work), "--out", str(tmp_path / "prep"),
         "--workers", "1", "--block-size", "128"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "250"},
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    for how, problem in problems.items():
        row = next(line for line in lines if line.startswith(f"failed: bad-{how.replace(' ', '-')}: "))
        assert problem in row and str(work) in row, row
        assert not (tmp_path / "prep" / f"bad-{how.replace(' ', '-')}").exists()
    assert prepared.is_complete(tmp_path / "prep", good)


def test_killed_run_leaves_nothing_mistaken_for_complete_and_rerun_recovers(scenes, client, tmp_path):
    out = tmp_path / "prep"
    command = [sys.executable, "-c", "import cli; cli.main()", "preprocess", str(scenes), "--out", str(out),
               "--workers", "1", "--block-size", "32"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (out.is_dir() and any(is_temporary(p) for p in out.iterdir())):  # mid-scene
            assert process.poll() is None and time.monotonic() < deadline, "run ended before it was killed"
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    ids = scene_ids(scenes)
    assert not all(prepared.is_complete(out, sid) for sid in ids)
    for sid in ids:  # whatever claims to be complete really is
        if prepared.is_complete(out, sid):
            assert prepared.read_bands(out / sid)["valid"].any()
    report = run_preprocess(scenes, out, client=client, block_size=BLOCK)
    assert not report.failed
    assert not any(is_temporary(p) for p in out.iterdir())
    reference = run_preprocess(scenes, tmp_path / "reference", client=client, block_size=BLOCK)
    assert not reference.failed
    for sid in ids:
        assert prepared.is_complete(out, sid)
        again, ref = prepared.read_bands(out / sid), prepared.read_bands(tmp_path / "reference" / sid)
        for name in prepared.BANDS:
            np.testing.assert_array_equal(again[name], ref[name], err_msg=name)


def test_tile_appended_scene_equals_the_gdal_written_one(synth_dataset, client, tmp_path):
    """Tile-aligned blocks (workers compress and append their tiles) give the same GeoTIFF content."""
    appended = run_preprocess(synth_dataset, tmp_path / "appended", client=client, block_size=prepared.TILE)
    written = run_preprocess(synth_dataset, tmp_path / "written", client=client, block_size=384)
    assert not appended.failed and not written.failed
    for sid in scene_ids(synth_dataset):
        tif = tmp_path / "appended" / sid / prepared.SCENE_FILE
        with rasterio.open(tif) as src, rasterio.open(tmp_path / "written" / sid / prepared.SCENE_FILE) as ref:
            assert src.profile.keys() == ref.profile.keys() and src.descriptions == prepared.BANDS
            assert all(src.profile[k] == ref.profile[k] or k == "nodata" for k in src.profile)  # NaN != NaN
            assert src.block_shapes == [(prepared.TILE, prepared.TILE)] * len(prepared.BANDS)
            np.testing.assert_array_equal(src.read(), ref.read())
            assert src.overviews(1) == ref.overviews(1) == [4]
            with tifffile.TiffFile(tif) as layout:  # directories and metadata before every tile
                first_tile = min(int(o) for page in layout.pages for o in page.dataoffsets if o)
                assert max(page.offset for page in layout.pages) < first_tile
                assert layout.pages.first.tags[writer.GDAL_METADATA_TAG].valueoffset < first_tile
            assert src.tags(prepared.band_index("bathymetry_m"))["STATISTICS_APPROXIMATE"] == "YES"
            assert src.units == ref.units and src.tags(1).keys() == ref.tags(1).keys()
            for key, value in src.tags(1).items():  # block sums in another order: the last digits differ
                assert float(value) == pytest.approx(float(ref.tags(1)[key]), rel=1e-9), key
            with rasterio.open(tif, overview_level=0) as ours, rasterio.open(ref.name, overview_level=0) as gdals:
                mine, theirs = ours.read(), gdals.read()
            # The workers' overview (2 x 2 means of 2 x 2 means) and GDAL's average of 4 x 4 pixels agree
            # wherever all 16 pixels hold data (along the swath edge the finite ones are weighted otherwise).
            full = theirs[prepared.band_index("valid") - 1] == 1
            assert full.mean() > 0.9
            np.testing.assert_allclose(mine[:, full], theirs[:, full], rtol=1e-5, atol=1e-6)
        assert prepared.is_complete(tmp_path / "appended", sid)
        folder = tmp_path / "appended" / sid
        assert sorted(p.name for p in folder.iterdir()) == sorted([prepared.SCENE_FILE, prepared.META_FILE])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_out_that_is_inside_or_around_an_input_is_refused_before_any_work(scenes, client, tmp_path):
    work = Path(shutil.copytree(scenes, tmp_path / "scenes"))
    before = _snapshot(work)
    sid = scene_ids(work)[0]
    cases = [
        (work, work, None, "is also an input of this command"),
        (work / sid, work / sid, None, "is also an input of this command"),
        (work, work / sid, None, "lies inside the input"),
        (work, work / sid / "prep", None, "lies inside the input"),
        (work, work / "prep", None, "lies inside the input"),
        (work / sid, work, None, "holds the input"),
        (work, tmp_path, None, "holds the input"),
        (work, tmp_path / "prep", tmp_path / "prep" / "labels.csv", "holds the input"),
        (work, work / "labels.csv", None, "is a file; give a folder"),
    ]
    for source, out, labels, problem in cases:
        with pytest.raises(OutputError, match=problem):
            run_preprocess(source, out, labels, client=client)
    assert _snapshot(work) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenes"]


def test_a_scene_folder_holding_a_users_file_is_never_replaced(scenes, client, tmp_path):
    out = tmp_path / "prep"
    assert not run_preprocess(scenes, out, client=client).failed
    first, second = scene_ids(scenes)
    (out / first / "notes.txt").write_text("mine")
    report = run_preprocess(scenes, out, client=client, overwrite=True)
    outcome = {o.scene_id: o for o in report.outcomes}
    assert outcome[second].status == "done" and outcome[first].status == "failed"
    assert "notes.txt" in outcome[first].message and "did not write" in outcome[first].message
    assert (out / first / "notes.txt").read_text() == "mine" and prepared.is_complete(out, first)


@pytest.mark.parametrize("case", ["header only", "other scenes", "labelled scene failed"])
def test_labels_that_match_no_finished_scene_still_give_a_table_and_a_summary(scenes, tmp_path, case, xtgeo_cli):
    source = pd.read_csv(scenes / "labels.csv")
    work = Path(shutil.copytree(scenes, tmp_path / "scenes"))
    labels = tmp_path / "labels.csv"
    first = scene_ids(scenes)[0]
    if case == "header only":
        source.iloc[:0].to_csv(labels, index=False)
    elif case == "other scenes":
        source.assign(scene_id="elsewhere").to_csv(labels, index=False)
    else:
        source[source.scene_id == first].to_csv(labels, index=False)
        break_scene(work / first, "truncated")
    code, _, err = xtgeo_cli("preprocess", work, "--out", tmp_path / "prep", "--labels", labels, "--workers", 1)
    assert "Traceback" not in err and "labels: 0 rows written to" in err
    assert code == (1 if case == "labelled scene failed" else 0)
    table = pd.read_parquet(tmp_path / "prep" / prepared.LABELS_FILE)
    assert len(table) == 0 and set(source.columns) <= set(table.columns)


def _run_cli(*args, **kwargs) -> subprocess.CompletedProcess:
    """``xtgeo ARGS`` in a fresh process (its Dask workers' output lands on the same stderr)."""
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", *map(str, args)], capture_output=True,
                          text=True, timeout=600, **kwargs)


def test_a_block_that_fails_in_a_worker_names_the_scene_and_file_without_dask_noise(tmp_path):
    scenes = tmp_path / "scenes"
    make_dataset(scenes, scenes=2, height=3072, width=256, seed=4)  # 6 tiles down VV; open_scene samples 5
    bad, good = scene_ids(scenes)
    corrupt_tile(scenes / bad / "VV_dB.tif", 4)
    done = _run_cli("preprocess", scenes, "--out", tmp_path / "prep", "--workers", 1, "--block-size", 512)
    assert done.returncode == 1
    assert f"failed: {bad}: {scenes / bad / 'VV_dB.tif'}: cannot read the block at row 2048, col 0 (" in done.stderr
    for noise in ("Traceback", "distributed", "Compute Failed", "Exception:"):
        assert noise not in done.stderr, done.stderr
    assert prepared.is_complete(tmp_path / "prep", good) and not (tmp_path / "prep" / bad).exists()


def test_a_full_disk_fails_each_scene_on_one_line_naming_the_file(scenes, tmp_path):
    mount = tmp_path / "small"
    then_list = ["sh", "-c", f'"$@"; echo "exit $?"; ls -A {mount / "prep"}', "sh"]  # what is left on the disk
    done = run_on_small_disk("200k", mount, then_list + xtgeo_command("preprocess", scenes, "--out", mount / "prep",
                                                                      "--workers", 1))
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 2 and all("cannot write (No space left on device)" in line for line in failed), failed
    for noise in ("Traceback", "distributed", "Exception:"):
        assert noise not in done.stderr
    assert done.stdout.splitlines()[-1] == "exit 1"  # and nothing is left: no half-written scene


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--shore-cap-km", "nan"), "--shore-cap-km nan: must be a positive, finite distance in km"),
        (("--shore-cap-km", "inf"), "--shore-cap-km inf: must be"),
        (("--shore-cap-km", "-3"), "--shore-cap-km -3.0: must be"),
        (("--shore-cap-km", "0"), "--shore-cap-km 0.0: must be"),
        (("--scheduler", "not a url"), "--scheduler not a url: cannot reach a Dask scheduler there"),
        (("--scheduler", "tcp://:"), "--scheduler tcp://:: cannot reach a Dask scheduler there"),
    ],
)
def test_bad_options_are_one_line_before_any_work(scenes, tmp_path, xtgeo_cli, args, message):
    code, _, err = xtgeo_cli("preprocess", scenes, "--out", tmp_path / "prep", *args)
    assert code == 1 and err.startswith(f"error: {message}") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "prep").exists() or not any((tmp_path / "prep").iterdir())


def test_a_terminated_run_cleans_up_like_ctrl_c(scenes, tmp_path):
    """SIGTERM (``kill``, ``timeout``) ends a run as Ctrl-C does: exit 130, no temporary left behind."""
    out = tmp_path / "prep"
    command = [sys.executable, "-c", "import cli; cli.main()", "preprocess", str(scenes), "--out", str(out),
               "--workers", "1", "--block-size", "32"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(is_temporary(p) for p in out.iterdir())):  # mid-scene
        assert process.poll() is None and time.monotonic() < deadline, "run ended before it was terminated"
        time.sleep(0.01)
    process.terminate()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in err, err
    assert not any(is_temporary(p) for p in out.iterdir())
