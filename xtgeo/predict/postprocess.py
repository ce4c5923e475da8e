"""Full-scene maps → detections: centre-map peaks, then per-detection class scores and length.

Peaks follow :func:`skimage.feature.peak_local_max` (``min_distance=nms_radius_px``,
``threshold_abs=center_threshold``, ``exclude_border=False``): a pixel is a peak when it is above
the threshold and the maximum of its (2r+1)² window; peaks of equal height closer than r (plateaus)
are thinned greedily. The window maximum is a max-pool run where the maps live (GPU or CPU), in
row bands, so the whole-scene map is never copied or expanded to float32 at once.
Imports numpy, scipy and torch (and xtgeo's config and task spec) only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree

from xtgeo.config import PostprocessConfig
from xtgeo.tasks.xview3 import HEADS, PEAK_HEAD


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


def above_threshold(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Which centre scores a detection threshold keeps (compared in float32, as :func:`local_peaks` does)."""
    return np.asarray(scores, dtype=np.float32) > np.float32(threshold)


def decide(scores: Mapping[str, np.ndarray], config: PostprocessConfig) -> dict[str, np.ndarray]:
    """The decisions of the ``threshold`` heads (by head name: is it a vessel, a fishing vessel) from
    their probabilities at the peaks (by head name), each against its ``postprocess`` threshold in
    float32; a head ``within`` another is True only where that one is."""
    decided: dict[str, np.ndarray] = {}
    for head in (h for h in HEADS if h.decoding == "threshold"):
        threshold = np.float32(getattr(config, head.threshold_key))
        decided[head.name] = np.asarray(scores[head.name], dtype=np.float32) >= threshold
        if head.within is not None:
            decided[head.name] &= decided[head.within]
    return decided


def detections_from_maps(maps: Mapping[str, torch.Tensor], config: PostprocessConfig) -> dict[str, np.ndarray]:
    """Detections from the full-scene map of every head, decoded as :mod:`xtgeo.tasks.xview3` says:
    ``detect_scene_row, detect_scene_column`` and ``score`` (the peaks of the centre map), the
    class probabilities at the peaks (``vessel_score, fishing_score``), the class decisions
    (``is_vessel, is_fishing``) and the length (``vessel_length_m``), as arrays.

    ``config`` has the thresholds of :class:`xtgeo.config.PostprocessConfig` (probabilities, pixels).
    """
    peaks = maps[PEAK_HEAD.name]
    points, scores = find_peaks(peaks, getattr(config, PEAK_HEAD.threshold_key), config.nms_radius_px)
    index = torch.from_numpy(points).to(peaks.device)
    found: dict[str, np.ndarray] = {"detect_scene_row": points[:, 0], "detect_scene_column": points[:, 1],
                                    "score": scores}
    at_peaks = {head.name: maps[head.name][index[:, 0], index[:, 1]].float().cpu().numpy()
                for head in HEADS if head.decoding != "peaks"}
    decided = decide(at_peaks, config)
    for head in HEADS:
        if head.decoding == "threshold":
            found[head.score_column] = at_peaks[head.name]
            found[head.label_column] = decided[head.name]
        elif head.decoding == "value":
            found[head.label_column] = np.maximum(at_peaks[head.name], 0.0)
    return found
