"""The blended centre probability of a scene as a GeoTIFF on the scene's grid (``--heatmap``).

One band of uint8 percent (0-100: the probability × 100, rounded), 255 as nodata where the scene
has no data, tiled and ZSTD-compressed, with the band's description, unit and scale (0.01: GDAL
and QGIS can show it as a probability). Written in strips of tile rows straight from the maps'
device, so that the host never holds more than a strip.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import rasterio
import torch

from xtgeo.atomic import atomic_path

#: Value of pixels without data.
NODATA = 255
#: Stored value per unit of probability.
PERCENT = 100
#: GeoTIFF tile side, pixels (rows are written a strip of tiles at a time).
TILE = 512
BAND_DESCRIPTION = "center_probability_percent"


def heatmap_profile(height: int, width: int, crs: Any, transform: Any) -> dict[str, Any]:
    """rasterio profile of a heatmap GeoTIFF."""
    return {
        "driver": "GTiff", "height": height, "width": width, "count": 1, "dtype": "uint8", "nodata": NODATA,
        "crs": crs, "transform": transform, "tiled": True, "blockxsize": TILE, "blockysize": TILE,
        "compress": "zstd", "num_threads": "all_cpus", "bigtiff": "if_safer",
    }


def write_heatmap(path: str | os.PathLike, center: torch.Tensor, valid: torch.Tensor, crs: Any, transform: Any) -> Path:
    """Write the centre probability map (H, W) as a heatmap GeoTIFF, nodata where ``valid`` (H, W,
    bool) is False; atomically. Returns the path."""
    if center.shape != valid.shape:
        raise ValueError(f"centre map {tuple(center.shape)} and validity {tuple(valid.shape)} differ in shape")
    height, width = center.shape
    path = Path(path)
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **heatmap_profile(height, width, crs, transform)) as dst:
            dst.set_band_description(1, BAND_DESCRIPTION)
            dst.set_band_unit(1, "%")
            dst.scales = (1.0 / PERCENT,)
            for row in range(0, height, TILE):
                rows = slice(row, min(row + TILE, height))
                strip = (center[rows].float() * PERCENT).round_().clamp_(0, PERCENT).to(torch.uint8)
                strip.masked_fill_(~valid[rows], NODATA)
                dst.write(strip.cpu().numpy(), 1, window=((rows.start, rows.stop), (0, width)))
    return path
