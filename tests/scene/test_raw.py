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
    assert "VH_dB.tif" in message and "unreadable" in message
