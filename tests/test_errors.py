"""One-line error texts for a failed job (a scene, a task)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rasterio.transform

from xtgeo.errors import SceneError, error_text


def test_error_text_says_why_a_read_failed_behind_rasterios_wrapper(tmp_path):
    path = tmp_path / "VV_dB.tif"
    profile = dict(driver="GTiff", height=512, width=512, count=1, dtype="float32", tiled=True, blockxsize=256,
                   blockysize=256, compress="deflate", crs="EPSG:4326",
                   transform=rasterio.transform.from_origin(0, 1, 1 / 512, 1 / 512))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.random.default_rng(0).normal(size=(1, 512, 512)).astype("float32"))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # the last tiles cut off
    with pytest.raises(Exception) as caught, rasterio.open(path) as src:
        src.read(1)
    assert "see previous exception" in str(caught.value).lower()  # what rasterio says on its own
    text = error_text(caught.value)
    assert text.startswith(f"{type(caught.value).__name__}: ")
    assert "see previous exception" not in text.lower() and "\n" not in text
    assert error_text(SceneError(f"{path}: not a GeoTIFF")) == f"{path}: not a GeoTIFF"
