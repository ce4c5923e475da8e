"""Synthetic scenes, checked on the real files that ``xtgeo.synth`` writes."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.warp import transform as warp_transform
from scipy import ndimage, stats

from tests.oracles import distance_to_land_km
from tests.paths import REAL_LABELS
from xtgeo.atomic import is_temporary
from xtgeo.made import MANIFEST
from xtgeo.scene.raw import ANCILLARY_NAMES
from xtgeo.scene.shoreline import read_shoreline
from xtgeo.schema import LABEL_COLUMNS, UNKNOWN_SHORE_DISTANCE_KM
from xtgeo.synth import (
    APPROACH_CLEAR_KM,
    COASTAL_BAND_KM,
    FISHING_DEPTH_M,
    PORT_REACH_KM,
    REMOTE_COAST_KM,
    ROCK_ZONE_KM,
    make_dataset,
    make_scene,
)
from xtgeo.synth.objects import label_zones
from xtgeo.synth.stats import XVIEW3_VALIDATION, fit_label_stats
from xtgeo.synth.terrain import HARBOUR_WALL_PX


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """One scene made in-process, so tests can see its hidden context (land, lane, harbours, clutter).

    Seed 13 at 2048 x 2048 has both outcomes of rule 3 (10 vessels at anchor, 5 clutter targets)."""
    return make_scene(tmp_path_factory.mktemp("one"), height=2048, width=2048, seed=13)


@pytest.fixture(scope="module")
def land_km(scene) -> np.ndarray:
    """Exact distance (km) from every pixel of ``scene`` to land, computed directly."""
    return distance_to_land_km(scene.context.land)


@pytest.fixture(scope="module")
def labels(synth_dataset) -> pd.DataFrame:
    return pd.read_csv(synth_dataset / "labels.csv")


def test_layout_and_ids(synth_dataset, labels):
    assert tuple(labels.columns) == LABEL_COLUMNS
    ids = labels["scene_id"].unique()
    assert len(ids) == 2 and all(re.fullmatch(r"[0-9a-f]{16}[a-z]", i) for i in ids)
    for scene_id in ids:
        names = {p.name for p in (synth_dataset / scene_id).iterdir()}
        assert names == {"VV_dB.tif", "VH_dB.tif"} | {f"{n}.tif" for n in ANCILLARY_NAMES}
        assert (synth_dataset / "shoreline" / f"{scene_id}_shoreline.npy").is_file()
    assert not any(is_temporary(p) for p in synth_dataset.rglob("*"))


def test_sar_rasters_are_utm_10m_float_with_nodata_swath(synth_dataset, labels):
    for scene_id in labels["scene_id"].unique():
        folder = synth_dataset / scene_id
        with rasterio.open(folder / "VV_dB.tif") as vv, rasterio.open(folder / "VH_dB.tif") as vh:
            assert vv.crs.to_epsg() // 100 in (326, 327)
            assert vv.res == (10.0, 10.0) and vv.dtypes[0] == "float32" and vv.nodata == -32768
            assert vv.profile["tiled"] and vv.compression is not None
            assert (vh.crs, vh.transform, vh.shape) == (vv.crs, vv.transform, vv.shape)
            a, b = vv.read(1), vh.read(1)
        nodata = a == -32768
        assert np.array_equal(nodata, b == -32768)
        assert 0.005 < nodata.mean() < 0.2  # a slanted wedge of nodata
        cut = nodata.sum(axis=1)
        assert cut[0] != cut[-1] and (nodata[:, 0].all() or nodata[:, -1].all())
        sea = ~nodata & (a < -10)
        assert np.median(b[sea]) < np.median(a[sea]) - 3  # VH darker than VV


def test_ancillary_grids_cover_the_scene_at_500m(synth_dataset, labels):
    scene_dir = synth_dataset / labels["scene_id"].iloc[0]
    with rasterio.open(scene_dir / "VV_dB.tif") as vv:
        bounds, crs = vv.bounds, vv.crs
    for name in ANCILLARY_NAMES:
        with rasterio.open(scene_dir / f"{name}.tif") as src:
            assert src.crs == crs
            assert np.allclose(tuple(src.bounds), tuple(bounds), atol=1e-6)
            assert 450 <= src.res[0] <= 550 and 450 <= src.res[1] <= 550
    with rasterio.open(scene_dir / "owiMask.tif") as m, rasterio.open(scene_dir / "bathymetry.tif") as b:
        mask, elevation = m.read(1), b.read(1)
    assert set(np.unique(mask[mask != -32768])) <= {0.0, 1.0}
    assert (elevation[mask == 0] < 0).all()  # sea is below sea level


def test_sar_looks_like_speckled_sea_and_brighter_land(scene):
    with rasterio.open(scene.folder / "VV_dB.tif") as src:
        vv = src.read(1)
    land = scene.context.land
    valid = vv != -32768
    sea = valid & ~land
    assert np.median(vv[valid & land]) > np.median(vv[sea]) + 5
    intensity = np.where(valid, 10 ** (vv / 10), 0.0)
    local_mean = ndimage.uniform_filter(intensity, 31)
    objects = np.zeros_like(land)
    objects[scene.objects["row"], scene.objects["col"]] = True  # labelled or clutter
    clean = ndimage.binary_erosion(sea, iterations=20) & ~ndimage.binary_dilation(objects, iterations=30)
    ratio = intensity[clean] / local_mean[clean]
    # gamma speckle with 4.4 looks: intensity coefficient of variation 1/sqrt(4.4) = 0.48
    assert 0.42 < ratio.std() / ratio.mean() < 0.54


def test_each_label_is_a_bright_object(synth_dataset, labels):
    for scene_id, rows in labels.groupby("scene_id"):
        with rasterio.open(synth_dataset / scene_id / "VV_dB.tif") as src:
            vv = src.read(1)
        for r, c in zip(rows["detect_scene_row"], rows["detect_scene_column"]):
            around = vv[max(r - 40, 0) : r + 41, max(c - 40, 0) : c + 41]
            assert vv[r, c] > np.median(around[around != -32768]) + 10
        for r, c, top, left, bottom, right in rows[["detect_scene_row", "detect_scene_column", "top", "left", "bottom",
                                                    "right"]].astype(int).itertuples(index=False):
            assert vv[r, c] == vv[top:bottom, left:right].max()  # the peak of its own box


def test_lat_lon_round_trip_through_the_transform(synth_dataset, labels):
    for scene_id, rows in labels.groupby("scene_id"):
        with rasterio.open(synth_dataset / scene_id / "VV_dB.tif") as src:
            xs, ys = warp_transform("EPSG:4326", src.crs, rows["detect_lon"].tolist(), rows["detect_lat"].tolist())
            cols, rws = ~src.transform @ (np.asarray(xs), np.asarray(ys))
        assert np.allclose(cols, rows["detect_scene_column"] + 0.5, atol=1e-3)
        assert np.allclose(rws, rows["detect_scene_row"] + 0.5, atol=1e-3)
        expected = [f"{scene_id}_{a:024.20f}_{b:024.20f}" for a, b in zip(rows["detect_lat"], rows["detect_lon"])]
        assert rows["detect_id"].tolist() == expected


def test_boxes_hold_their_pixel(labels):
    assert (labels["top"] <= labels["detect_scene_row"]).all() and (labels["detect_scene_row"] < labels["bottom"]).all()
    column = labels["detect_scene_column"]
    assert (labels["left"] <= column).all() and (column < labels["right"]).all()


def test_shoreline_points_lie_on_the_land_sea_boundary(scene):
    land = scene.context.land
    points = np.concatenate(read_shoreline(scene.folder.parent / "shoreline" / f"{scene.scene_id}_shoreline.npy"))
    assert len(points) > 100
    r, c = points[:, 0], points[:, 1]
    assert land[r, c].all()
    padded = np.pad(land, 1, mode="edge")
    touches_sea = ~padded[r, c + 1] | ~padded[r + 2, c + 1] | ~padded[r + 1, c] | ~padded[r + 1, c + 2]
    assert touches_sea.all()
    interior = land.copy()
    interior[1:-1, 1:-1] &= ~(~land[:-2, 1:-1] | ~land[2:, 1:-1] | ~land[1:-1, :-2] | ~land[1:-1, 2:])
    boundary = np.argwhere(land & ~interior)[:, None]
    assert len(set(map(tuple, points))) >= 0.99 * len(boundary)


def test_distances_agree_with_a_direct_computation(scene, land_km):
    edt = land_km
    labels = scene.labels
    direct = edt[labels["detect_scene_row"], labels["detect_scene_column"]]
    known = labels["distance_from_shore_km"] != UNKNOWN_SHORE_DISTANCE_KM
    assert known.any()
    assert np.allclose(labels.loc[known, "distance_from_shore_km"], direct[known], atol=1e-6)
    assert (direct[~known] > 10.0).all()


def test_context_rules_decide_the_labels(scene):
    context, labels = scene.context, scene.labels
    rows, cols = labels["detect_scene_row"].to_numpy(), labels["detect_scene_column"].to_numpy()
    where = context.describe(rows, cols)
    with rasterio.open(scene.folder / "bathymetry.tif") as src:
        depth = -src.read(1)[(rows * src.height) // context.land.shape[0], (cols * src.width) // context.land.shape[1]]
    vessel = labels["is_vessel"].astype("boolean")
    fishing = labels["is_fishing"].astype("boolean")
    assert vessel.eq(True).sum() > 3 and vessel.eq(False).sum() > 3
    rock = ~where["harbour"] & (where["distance_km"] < ROCK_ZONE_KM)
    assert not vessel[rock].fillna(False).any()  # near the coast outside harbours: never a vessel
    assert vessel[where["harbour"]].fillna(True).all()  # in a harbour: always a vessel
    in_band = (depth >= FISHING_DEPTH_M[0]) & (depth <= FISHING_DEPTH_M[1])
    offshore = where["distance_km"] > COASTAL_BAND_KM
    fishing_rule = (~where["harbour"] & offshore & (where["lane"] > 1) & in_band).to_numpy()
    known = fishing.notna().to_numpy()
    assert known.any()
    assert np.array_equal(fishing[known].to_numpy(dtype=bool), fishing_rule[known])
    # away from the coast, non-vessels are lattice nodes: a neighbour node 0.8-3 km away, no vessel near
    lattice = np.column_stack([rows, cols])[vessel.eq(False).to_numpy() & offshore.to_numpy()]
    vessels = np.column_stack([rows, cols])[vessel.eq(True).to_numpy()]
    for node in lattice:
        spacing = np.sort(np.hypot(*(lattice - node).T))[1]
        assert 79 <= spacing <= 301
        assert np.hypot(*(vessels - node).T).min() >= 79 / 3


def _harbour_boxes(scene) -> np.ndarray:
    """Pixels of every harbour structure (basin and breakwaters), from the scene's harbours."""
    boxes = np.zeros(scene.context.land.shape, dtype=bool)
    for h in scene.context.terrain.harbours:
        wall = HARBOUR_WALL_PX
        boxes[h.top - wall : h.bottom + wall, h.left - wall : h.right + wall] = True
    return boxes


def _in_band(scene, land_km: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Pixels 0.5-2 km from land outside every harbour structure: rule 3's coastal band."""
    shore_km = land_km[rows, cols]
    return ~_harbour_boxes(scene)[rows, cols] & (shore_km > ROCK_ZONE_KM) & (shore_km <= COASTAL_BAND_KM)


def test_coastal_band_labels_and_clutter_are_decided_by_harbours_beyond_a_regions_reach(scene, land_km):
    labels, context, clutter = scene.labels, scene.context, scene.clutter
    rows, cols = labels["detect_scene_row"].to_numpy(), labels["detect_scene_column"].to_numpy()
    band = _in_band(scene, land_km, rows, cols)
    clutter_rows, clutter_cols = clutter["row"].to_numpy(), clutter["col"].to_numpy()
    assert band.sum() >= 5 and len(clutter) >= 5  # both outcomes occur here
    assert _in_band(scene, land_km, clutter_rows, clutter_cols).all()
    # clutter is drawn but in no label
    assert len(labels) + len(clutter) == len(scene.objects)
    offsets = (rows[None, :] - clutter_rows[:, None], cols[None, :] - clutter_cols[:, None])
    nearest_label = np.hypot(*offsets).min(axis=1)
    assert (nearest_label > 10).all()
    # every labelled band object is at anchor (a vessel, or is_vessel unknown; never fishing), a harbour
    # 7.5-9 km away; every clutter target is 11 km or more from every harbour pixel
    assert labels["is_vessel"].astype("boolean")[band].fillna(True).all()
    assert not labels["is_fishing"].astype("boolean")[band].fillna(False).any()
    boxes = _harbour_boxes(scene)
    harbour_km = ndimage.distance_transform_edt(~boxes) / 100.0
    anchored_km, clutter_km = harbour_km[rows[band], cols[band]], harbour_km[clutter_rows, clutter_cols]
    assert (anchored_km >= APPROACH_CLEAR_KM).all() and (anchored_km <= PORT_REACH_KM).all()
    assert (clutter_km >= REMOTE_COAST_KM).all() and (clutter_km * 100 > 512 * np.sqrt(2)).all()
    # whether a band target is labelled is never decided inside its own region: no 512 x 512 window
    # holding a labelled band object or a clutter target holds any harbour pixel
    for r, c in zip(np.concatenate([rows[band], clutter_rows]), np.concatenate([cols[band], clutter_cols])):
        assert not boxes[max(r - 511, 0) : r + 512, max(c - 511, 0) : c + 512].any()
    # the evidence is in the image: breakwaters built on open sea are much brighter than the sea
    with rasterio.open(scene.folder / "VV_dB.tif") as src:
        vv = src.read(1)
    height, width = context.land.shape
    breakwater = context.land & ~(context.terrain.relief(0, height, 0, width) > 0)
    open_sea = ~context.land & ~boxes & (vv != -32768)
    assert breakwater.sum() > 100 and np.median(vv[breakwater]) > np.median(vv[open_sea]) + 5


def test_moving_harbours_turns_clutter_into_vessels_and_back(scene, land_km):
    labels, context, clutter = scene.labels, scene.context, scene.clutter
    rows, cols = labels["detect_scene_row"].to_numpy(), labels["detect_scene_column"].to_numpy()
    band = _in_band(scene, land_km, rows, cols)
    assert label_zones(context.describe(rows[band], cols[band]))["anchorage"].all()
    assert label_zones(context.describe(clutter["row"], clutter["col"]))["remote_coast"].all()
    # without harbours, the vessels at anchor would be clutter
    harbourless = replace(context, terrain=replace(context.terrain, harbours=()))
    zones = label_zones(harbourless.describe(rows[band], cols[band]))
    assert zones["remote_coast"].all() and not zones["anchorage"].any()
    # a harbour moved to 8.5 km of each clutter target turns it into a vessel at anchor
    height = context.land.shape[0]
    h = context.terrain.harbours[0]
    size = h.bottom - h.top
    for r, c in zip(clutter["row"], clutter["col"]):
        top = r - 850 - size if r > height // 2 else r + 850  # 8.5 km up or down the scene, inside it
        moved = replace(h, top=top, bottom=top + size, left=c - 50, right=c - 50 + h.right - h.left)
        assert 0 <= moved.top and moved.bottom <= height
        near = replace(context, terrain=replace(context.terrain, harbours=(moved,)))
        zones = label_zones(near.describe([r], [c]))
        assert zones["anchorage"].all() and not zones["remote_coast"].any()


def test_clutter_is_drawn_like_the_vessels_at_anchor(scene, land_km):
    """Same bright compact targets in VV and VH: only the distant harbour tells them apart."""
    labels, clutter = scene.labels, scene.clutter
    rows, cols = labels["detect_scene_row"].to_numpy(), labels["detect_scene_column"].to_numpy()
    band = _in_band(scene, land_km, rows, cols)
    anchored = (rows[band], cols[band])
    targets = (clutter["row"].to_numpy(), clutter["col"].to_numpy())
    for name in ("VV_dB.tif", "VH_dB.tif"):
        with rasterio.open(scene.folder / name) as src:
            image = src.read(1)

        def peaks(where):
            contrast = []
            for r, c in zip(*where):
                around = image[r - 40 : r + 41, c - 40 : c + 41]
                assert image[r, c] == image[r - 3 : r + 4, c - 3 : c + 4].max()  # a point target, brightest here
                contrast.append(image[r, c] - np.median(around[around != -32768]))
            return image[where], np.asarray(contrast)

        (anchored_db, anchored_contrast), (clutter_db, clutter_contrast) = peaks(anchored), peaks(targets)
        assert (anchored_contrast > 10).all() and (clutter_contrast > 10).all()
        assert stats.ks_2samp(anchored_db, clutter_db).pvalue > 0.05  # one peak distribution (a few per scene)
    # and sizes alike: the same length distribution (the coastal look), none of them labelled
    anchored_length = scene.objects.loc[scene.objects["labelled"], ["row", "col", "length_m"]].set_index(["row", "col"])
    lengths = anchored_length.loc[list(zip(*anchored)), "length_m"]
    assert stats.ks_2samp(lengths, clutter["length_m"]).pvalue > 0.05


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    outs = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        make_dataset(tmp_path / name, scenes=1, height=600, width=1100, seed=seed)  # 2 x 3 tiles
        assert (tmp_path / name / MANIFEST).is_file()  # what synth made: file times, so not compared
        files = sorted(p for p in (tmp_path / name).rglob("*") if p.is_file() and p.name != MANIFEST)
        outs.append({p.relative_to(tmp_path / name): p.read_bytes() for p in files})
    assert outs[0] == outs[1]
    assert len(outs[0]) == 9  # 7 rasters, labels.csv and the shoreline
    assert set(outs[0]) != set(outs[2])


def test_failure_leaves_no_half_written_scene(tmp_path, monkeypatch):
    import xtgeo.synth.make as make

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(make, "write_ancillary", broken)
    with pytest.raises(OSError):
        make_dataset(tmp_path, scenes=1, height=300, width=300, seed=1)
    assert [p.name for p in tmp_path.iterdir()] == []


@pytest.mark.skipif(not REAL_LABELS.is_file(), reason="real xView3 labels not present")
def test_embedded_statistics_are_those_fitted_from_the_real_labels():
    assert fit_label_stats(REAL_LABELS) == XVIEW3_VALIDATION


def test_cli_writes_a_dataset_and_rejects_bad_sizes(tmp_path, capsys):
    from cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["synth", str(tmp_path / "out"), "--scenes", "1", "--height", "300", "--width", "320", "--seed", "2",
              "--quicklook"])
    assert exit_info.value.code == 0
    capsys.readouterr()
    labels = pd.read_csv(tmp_path / "out" / "labels.csv")
    png = tmp_path / "out" / "quicklook" / f"{labels['scene_id'].iloc[0]}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", str(tmp_path / "bad"), "--height", "10"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "height" in err[0]
    assert not (tmp_path / "bad").exists()


def test_quicklook_draws_each_class(synth_dataset, labels, tmp_path):
    from PIL import Image

    from xtgeo.plots import object_classes, quicklook

    table = pd.DataFrame({"is_vessel": [True, True, False, None, True], "is_fishing": [True, False, None, None, None]})
    assert object_classes(table).tolist() == ["fishing vessel", "vessel", "non-vessel", "unknown", "vessel"]
    scene_id = labels["scene_id"].iloc[0]
    out = quicklook(synth_dataset / scene_id, labels[labels["scene_id"] == scene_id], tmp_path / "q.png", max_side=400)
    image = np.asarray(Image.open(out).convert("RGB")).astype(int)
    plain = np.asarray(Image.open(quicklook(synth_dataset / scene_id, None, tmp_path / "p.png",
                                            max_side=400)).convert("RGB")).astype(int)
    assert image.shape == plain.shape and np.abs(image - plain).sum() > 0  # markers and legend drawn
    red = (image[..., 0] > 200) & (image[..., 1] < 90) & (image[..., 2] < 90)
    assert red.any() == bool((labels.loc[labels["scene_id"] == scene_id, "is_vessel"] == False).any())  # noqa: E712


def _files(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_non_empty_folder_is_refused_unless_overwrite_which_replaces_only_what_synth_made(tmp_path):
    from xtgeo.errors import OutputError

    out = tmp_path / "data"
    first = make_dataset(out, scenes=2, height=256, width=256, seed=1)
    (out / "notes.txt").write_text("mine")
    (out / "shoreline" / "mine_shoreline.npy").write_text("mine too")
    before = _files(out)
    with pytest.raises(OutputError, match="is not empty; .* pass --overwrite"):
        make_dataset(out, scenes=1, height=256, width=256, seed=2)
    assert _files(out) == before
    second = make_dataset(out, scenes=1, height=256, width=256, seed=2, overwrite=True)
    after = _files(out)
    assert after["notes.txt"] == b"mine" and after["shoreline/mine_shoreline.npy"] == b"mine too"
    old_ids, new_id = set(first["scene_id"]), second["scene_id"].iloc[0]
    assert not any(name.startswith(tuple(old_ids)) for name in after)  # the earlier synth scenes are gone...
    assert pd.read_csv(out / "labels.csv")["scene_id"].unique().tolist() == [new_id]  # ...and their labels
    assert sum(name.startswith(f"{new_id}/") for name in after) == 7


@pytest.mark.parametrize("where", ["scene folder", "labels", "shoreline"])
def test_overwrite_never_replaces_a_file_synth_did_not_write(tmp_path, where):
    from xtgeo.errors import OutputError
    from xtgeo.synth.make import scene_id_for, scene_seeds

    out = tmp_path / "data"
    scene_id = scene_id_for(scene_seeds(3, 1)[0])
    path = {"scene folder": out / scene_id / "my_extra.txt", "labels": out / "labels.csv",
            "shoreline": out / "shoreline" / f"{scene_id}_shoreline.npy"}[where]
    path.parent.mkdir(parents=True)
    path.write_text("the user's")
    with pytest.raises(OutputError, match=f"{path}: was not written by xtgeo synth"):
        make_dataset(out, scenes=1, height=256, width=256, seed=3, overwrite=True)
    assert _files(out) == {path.relative_to(out).as_posix(): b"the user's"}


def test_overwrite_keeps_a_file_the_user_changed_since_synth_wrote_it(tmp_path):
    import os

    from xtgeo.errors import OutputError

    out = tmp_path / "data"
    first = make_dataset(out, scenes=2, height=256, width=256, seed=1)
    edited, replaced = sorted(first["scene_id"].unique())
    (out / edited / "VV_dB.tif").write_bytes((out / edited / "VV_dB.tif").read_bytes() + b"user's edit")
    os.utime(out / replaced / "owiMask.tif", ns=(0, 0))  # same size, other time: replaced by the user
    make_dataset(out, scenes=1, height=256, width=256, seed=5, overwrite=True)  # other scenes: kept
    after = _files(out)
    assert after[f"{edited}/VV_dB.tif"].endswith(b"user's edit") and f"{replaced}/owiMask.tif" in after
    assert f"{edited}/VH_dB.tif" not in after  # synth's own, unchanged: replaced
    with pytest.raises(OutputError, match=r"(VV_dB|owiMask)\.tif: was not written by xtgeo synth \(or was changed"):
        make_dataset(out, scenes=2, height=256, width=256, seed=1, overwrite=True)  # would land on the user's
    assert _files(out) == after


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(seed=-1), "seed -1: must be from 0 to 2\\*\\*63 - 1"),
        (dict(seed=2**64), "seed 18446744073709551616"),
        (dict(height=10_000_000, width=10_000_000), "no Sentinel-1 scene is larger than 100,000 pixels"),
        (dict(height=99_000, width=99_000), "needs about .* GiB of memory"),
        (dict(height=-5), "at least 256 pixels"),
        (dict(scenes=0), "need at least one scene"),
    ],
    ids=["negative-seed", "huge-seed", "huge-side", "too-much-memory", "negative-side", "no-scene"],
)
def test_impossible_requests_fail_before_any_work(tmp_path, options, message):
    from xtgeo.errors import XtgeoError

    args = dict(scenes=1, height=256, width=256, seed=0) | options
    if "needs about" in message:
        import psutil

        if 99_000**2 * 2.5 < psutil.virtual_memory().available:
            pytest.skip("this machine has the memory for it")
    with pytest.raises(XtgeoError, match=message):
        make_dataset(tmp_path / "out", **args)
    assert not (tmp_path / "out").exists()
