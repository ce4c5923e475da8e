"""Full-scene maps → detections: centre-map peaks, then per-detection class scores and length.

Peaks follow :func:`skimage.feature.peak_local_max` (``min_distance=nms_radius_px``,
``threshold_abs=center_threshold``, ``exclude_border=False``): a pixel is a peak when it is above
the threshold and the maximum of its (2r+1)² window; peaks of equal height closer than r (plateaus)
are thinned greedily. The window maximum is a max-pool run where the maps live (GPU or CPU), in
row bands, so the whole-scene map is never copied or expanded to float32 at once.
Imports numpy, scipy and torch only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree

if TYPE_CHECKING:
    from xtgeo.config import PostprocessConfig

def local_peaks(center: torch.Tensor, threshold: float, radius: int, band_rows: int = 2048) -> np.ndarray:
    """(row, col) int64 of pixels above ``threshold`` that are the maximum of their (2r+1)² window."""
    height = center.shape[0]
    found = []
    for top in range(0, height, band_rows):
        lo, hi = max(top - radius, 0), min(top + band_rows + radius, height)
        band = center[lo:hi]
        if not float(band.max()) > threshold:
            continue
        band = band.float()[None, None]
        pooled = F.max_pool2d(band, 2 * radius + 1, stride=1, padding=radius) if radius else band
        peak = ((band == pooled) & (band > threshold))[0, 0, top - lo: top - lo + band_rows]
        found.append(peak.nonzero().cpu().numpy() + [top, 0])
    return np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)


def thin_ties(points: np.ndarray, scores: np.ndarray, radius: int) -> np.ndarray:
    """Indices kept, strongest first (ties in row-major order), dropping any within ``radius`` of a kept one."""
    order = np.lexsort((points[:, 1], points[:, 0], -scores))
    points = points[order]
    if radius == 0 or len(points) < 2:
        return order
    keep = np.ones(len(points), dtype=bool)
    pairs = cKDTree(points).query_pairs(radius, p=np.inf, output_type="ndarray")
    for first, second in pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]:
        if keep[first]:
            keep[second] = False
    return order[keep]


def find_peaks(center: torch.Tensor, threshold: float, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of an (H, W) centre map: (row, col) int64 (N, 2) strongest first, and their scores."""
    points = local_peaks(center, threshold, radius)
    if len(points) == 0:
        return points, np.zeros(0, dtype=np.float32)
    index = torch.from_numpy(points).to(center.device)
    scores = center[index[:, 0], index[:, 1]].float().cpu().numpy()
    keep = thin_ties(points, scores, radius)
    return points[keep], scores[keep]


def detections_from_maps(maps: Mapping[str, torch.Tensor], config: PostprocessConfig) -> dict[str, np.ndarray]:
    """Detections (arrays ``detect_scene_row, detect_scene_column, score, vessel_score, fishing_score,
    is_vessel, is_fishing, vessel_length_m``) from full-scene ``center, vessel, fishing, length`` maps.

    ``config`` has the thresholds of :class:`xtgeo.config.PostprocessConfig` (probabilities, pixels).
    """
    points, scores = find_peaks(maps["center"], config.center_threshold, config.nms_radius_px)
    index = torch.from_numpy(points).to(maps["center"].device)

    def at_peaks(head: str) -> np.ndarray:
        return maps[head][index[:, 0], index[:, 1]].float().cpu().numpy()

    vessel, fishing = at_peaks("vessel"), at_peaks("fishing")
    is_vessel = vessel >= config.vessel_threshold
    return {
        "detect_scene_row": points[:, 0],
        "detect_scene_column": points[:, 1],
        "score": scores,
        "vessel_score": vessel,
        "fishing_score": fishing,
        "is_vessel": is_vessel,
        "is_fishing": is_vessel & (fishing >= config.fishing_threshold),
        "vessel_length_m": np.maximum(at_peaks("length"), 0.0),
    }
