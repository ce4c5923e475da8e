"""Opening scenes, and every bad-scene case made from real synth output."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from xtgeo.errors import SceneError
from xtgeo.scene.raw import ANCILLARY_NAMES, open_scene


@pytest.fixture
def folder(synth_dataset, tmp_path) -> Path:
    """A private copy of one synthetic scene folder (the shared dataset stays untouched)."""
    source = sorted(p for p in synth_dataset.iterdir() if p.is_dir() and p.name != "shoreline")[0]
    return Path(shutil.copytree(source, tmp_path / source.name))


def rewrite(path: Path, data=None, **changes) -> None:
    """Rewrite a GeoTIFF in place with changed data and/or profile keys."""
    with rasterio.open(path) as src:
        profile, values = src.profile, src.read()
    profile.update(changes)
    values = values if data is None else data
    profile.update(count=values.shape[0], height=values.shape[1], width=values.shape[2])
    with rasterio.open(path, "w", **profile) as out:
        out.write(values)


def error_of(path, **kwargs) -> str:
    with pytest.raises(SceneError) as info:
        open_scene(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_folder_opens_with_grid_and_ancillary(folder):
    scene = open_scene(folder, require_ancillary=True)
    with rasterio.open(folder / "VV_dB.tif") as src:
        assert (scene.height, scene.width, scene.crs, scene.transform) == (src.height, src.width, src.crs,
                                                                           src.transform)
    assert scene.scene_id == folder.name and scene.root == folder
    assert scene.vv.path == folder / "VV_dB.tif" and scene.vh.path == folder / "VH_dB.tif" and scene.vv.index == 1
    assert set(scene.ancillary) == set(ANCILLARY_NAMES) and scene.nodata == -32768


def test_vv_file_path_opens_its_folder(folder):
    scene = open_scene(folder / "VV_dB.tif")
    assert scene.scene_id == folder.name and scene.vh.path == folder / "VH_dB.tif"


def test_single_two_band_geotiff(folder, tmp_path):
    with rasterio.open(folder / "VV_dB.tif") as vv, rasterio.open(folder / "VH_dB.tif") as vh:
        profile, data = vv.profile, np.stack([vv.read(1), vh.read(1)])
    path = tmp_path / "my_scene.tif"
    with rasterio.open(path, "w", **{**profile, "count": 2}) as out:
        out.write(data)
    scene = open_scene(path)
    assert scene.scene_id == "my_scene" and scene.ancillary == {}
    assert (scene.vv, scene.vh) == (type(scene.vv)(path, 1), type(scene.vv)(path, 2))
    rewrite(path, data=data[:1])
    assert "band" in error_of(path)


def test_missing_vh(folder):
    (folder / "VH_dB.tif").unlink()
    assert "VH_dB.tif" in error_of(folder)
    assert "VH_dB.tif" in error_of(folder / "VV_dB.tif")


def test_missing_path(tmp_path):
    assert "nope" in error_of(tmp_path / "nope")


def test_missing_ancillary_only_when_required(folder):
    (folder / "bathymetry.tif").unlink()
    assert "bathymetry" not in open_scene(folder).ancillary
    assert "bathymetry.tif" in error_of(folder, require_ancillary=True)


def test_mismatched_shape(folder):
    with rasterio.open(folder / "VH_dB.tif") as src:
        data = src.read()[:, :-8]
    rewrite(folder / "VH_dB.tif", data=data)
    message = error_of(folder)
    assert "VH_dB.tif" in message and "shape" in message


def test_mismatched_crs(folder):
    with rasterio.open(folder / "VV_dB.tif") as src:
        other = f"EPSG:{src.crs.to_epsg() + 1}"
    rewrite(folder / "VH_dB.tif", crs=other)
    message = error_of(folder)
    assert "VH_dB.tif" in message and "CRS" in message


def test_mismatched_transform(folder):
    with rasterio.open(folder / "VH_dB.tif") as src:
        shifted = src.transform @ Affine.translation(3, 0)
    rewrite(folder / "VH_dB.tif", transform=shifted)
    message = error_of(folder)
    assert "VH_dB.tif" in message and "transform" in message


def test_non_projected_crs(folder):
    for name in ("VV_dB.tif", "VH_dB.tif"):
        rewrite(folder / name, crs="EPSG:4326", transform=Affine(1e-4, 0, 10, 0, -1e-4, 50))
    message = error_of(folder)
    assert "VV_dB.tif" in message and "not projected" in message


def test_all_nodata(folder):
    with rasterio.open(folder / "VV_dB.tif") as src:
        shape = (1, src.height, src.width)
    rewrite(folder / "VV_dB.tif", data=np.full(shape, -32768, dtype=np.float32))
    message = error_of(folder)
    assert "VV_dB.tif" in message and "nodata" in message
    assert open_scene(folder, check_data=False).height == shape[1]


def test_truncated_file(folder):
    path = folder / "VV_dB.tif"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    message = error_of(folder)
    assert "VV_dB.tif" in message and ("truncated" in message or "unreadable" in message)


def test_unreadable_file(folder):
    (folder / "VH_dB.tif").write_text("not a GeoTIFF\n")
    message = error_of(folder)
    assert "VH_dB.tif" in message and "not a readable GeoTIFF" in message


# --- garbage that opens: the values must mean what the xView3 format says ----------------------

def test_a_png_or_jpeg_renamed_tif_is_called_what_it_is(folder, tmp_path):
    from PIL import Image

    for kind, driver in (("PNG", "PNG"), ("JPEG", "JPEG")):
        Image.fromarray(np.zeros((64, 64), np.uint8)).save(folder / "VV_dB.tif", format=kind)
        message = error_of(folder)
        assert message == f"{folder / 'VV_dB.tif'}: is a {driver} file, not a GeoTIFF"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda a, p: (np.clip(a + 40, 0, 255).astype("uint8"), {"dtype": "uint8", "nodata": 0}),
         "VV band is uint8; Sentinel-1 VV must be float dB"),
        (lambda a, p: (a.astype("int16"), {"dtype": "int16"}), "VV band is int16"),
        (lambda a, p: (np.repeat(a, 3, 0), {}), "has 3 bands; VV_dB.tif holds one band, VV in dB"),
        (lambda a, p: (a, {"crs": None}), "has no CRS (not georeferenced)"),
        (lambda a, p: (a, {"transform": Affine(10.0, 0, p["transform"].c, 0, -30.0, p["transform"].f)}),
         "pixels are 10 x 30 m; they must be square"),
    ],
    ids=["uint8", "int16", "3-bands", "no-crs", "not-square"],
)
def test_vv_that_is_not_one_band_of_float_db_on_a_10_m_grid_is_refused(folder, change, problem):
    with rasterio.open(folder / "VV_dB.tif") as src:
        data, profile = src.read(), src.profile
    values, changes = change(data, profile)
    if "crs" in changes or "transform" in changes:  # VH must keep matching VV, so that VV's own problem shows
        rewrite(folder / "VH_dB.tif", **changes)
    rewrite(folder / "VV_dB.tif", data=values, **changes)
    message = error_of(folder)
    assert message.startswith(f"{folder / 'VV_dB.tif'}: ") and problem in message


@pytest.mark.parametrize("size", [30.0, 1.0])
def test_pixels_far_from_10_m_give_a_warning(folder, size):
    from xtgeo.errors import XtgeoWarning

    with rasterio.open(folder / "VV_dB.tif") as src:
        t = src.transform
    for name in ("VV_dB.tif", "VH_dB.tif"):
        rewrite(folder / name, transform=Affine(size, 0, t.c, 0, -size, t.f))
    with pytest.warns(XtgeoWarning, match=f"VV_dB.tif: pixels are {size:g} m; xView3 scenes, and the models"):
        assert open_scene(folder).pixel_size_m == size


def test_xview3_nodata_never_counts_as_data_whatever_nodata_is_declared(folder):
    """VV/VH that declare NaN as nodata but hold −32768 where there is no data: those pixels are not valid."""
    from xtgeo.scene.raw import valid_pixels

    for name in ("VV_dB.tif", "VH_dB.tif"):
        with rasterio.open(folder / name) as src:
            data = src.read()
        data[:, :40, :] = -32768
        rewrite(folder / name, data=data, nodata=float("nan"))
    scene = open_scene(folder)
    assert np.isnan(scene.nodata)
    with rasterio.open(scene.vv.path) as vv, rasterio.open(scene.vh.path) as vh:
        valid = valid_pixels(vv.read(1), vh.read(1), scene.nodata)
    assert not valid[:40].any() and valid[40:].any()
    for name in ("VV_dB.tif", "VH_dB.tif"):  # only −32768 and NaN: no data at all
        with rasterio.open(folder / name) as src:
            shape = (1, src.height, src.width)
        rewrite(folder / name, data=np.full(shape, -32768, np.float32), nodata=float("nan"))
    assert "VV holds only nodata" in error_of(folder)


def test_linear_power_instead_of_db_is_a_warning(folder):
    from xtgeo.errors import XtgeoWarning

    with rasterio.open(folder / "VV_dB.tif") as src:
        data = src.read()
    rewrite(folder / "VV_dB.tif", data=np.where(data == -32768, data, 10 ** (data / 10)).astype(np.float32))
    with pytest.warns(XtgeoWarning, match="linear power or amplitude rather than dB"):
        open_scene(folder)


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        ("owiMask", lambda a: np.where(a == 1, 7, a), "owiMask holds 7; its classes are 0 sea, 1 land, 2 ice"),
        ("owiMask", lambda a: np.where(a >= 0, a + 0.5, a), "owiMask holds 0.5, 1.5"),
        ("owiMask", lambda a: np.full_like(a, np.nan), "owiMask holds only nodata or NaN"),
        ("owiMask", lambda a: np.full_like(a, -32768), "owiMask holds only nodata or NaN"),
    ],
    ids=["class-7", "fractions", "all-nan", "all-nodata"],
)
def test_an_owi_mask_without_its_classes_is_refused(folder, name, change, problem):
    with rasterio.open(folder / f"{name}.tif") as src:
        data = src.read()
    rewrite(folder / f"{name}.tif", data=change(data))
    message = error_of(folder, require_ancillary=True)
    assert message.startswith(f"{folder / (name + '.tif')}: ") and problem in message
    open_scene(folder)  # predict does not read the ancillary rasters


@pytest.mark.parametrize("name", ["bathymetry", "owiMask", "owiWindSpeed"])
def test_ancillary_that_does_not_overlap_the_scene_is_refused(folder, name):
    with rasterio.open(folder / f"{name}.tif") as src:
        t = src.transform
    rewrite(folder / f"{name}.tif", transform=Affine(t.a, t.b, t.c + 500_000, t.d, t.e, t.f))  # 500 km east
    message = error_of(folder, require_ancillary=True)
    assert message.startswith(f"{folder / (name + '.tif')}: does not overlap the scene")
