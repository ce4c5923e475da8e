"""Overlapping inference windows over a whole scene, smooth blending weights, full-scene output maps.

A :class:`WindowGrid` covers an (H, W) scene with equal-sized windows that overlap by ``overlap``
pixels; the last window of each row/column is moved back to end exactly at the scene edge, so the
edges are covered by full windows. Each window's outputs are weighted by a raised-cosine taper that
ramps over the overlap on its inner sides (flat at scene edges). The windows are separable and the
grid is a product of row and column positions, so the normalisation (sum of all windows) is
separable too: the normalised weights are precomputed per axis and the blended maps are built by
plain accumulation, without a weight-sum map. Maps are kept in float16 (no float32 stack); the
overlap is at most half a window, so a pixel sums at most 3 × 3 contributions.

Words: a *window* is the piece of a scene the model sees whole (``--window-size``); a *tile* is
GeoTIFF storage (:data:`xtgeo.scene.prepared.TILE`).
Imports only numpy and torch (runs on a GPU machine without the geospatial stack).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from xtgeo.tasks.xview3 import HEAD_NAMES  # the maps predict blends, one per model head

MAP_DTYPE = torch.float16


@dataclass(frozen=True)
class GridWindow:
    """One window: its top-left pixel, size, and its position (i, j) in the grid."""

    row: int
    col: int
    height: int
    width: int
    i: int
    j: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices of the window in the scene."""
        return slice(self.row, self.row + self.height), slice(self.col, self.col + self.width)


def axis_starts(size: int, length: int, stride: int) -> list[int]:
    """Start offsets of windows of ``length`` every ``stride`` px covering ``[0, size)``, last flush."""
    starts = list(range(0, max(size - length, 0) + 1, stride))
    if starts[-1] + length < size:
        starts.append(size - length)
    return starts


def valid_overlap(window_size: int, overlap: int) -> bool:
    """Whether windows of ``window_size`` can overlap by ``overlap``: at least 2 px, overlap 0 to half a window."""
    return window_size >= 2 and 0 <= 2 * overlap <= window_size


def ramp(overlap: int) -> np.ndarray:
    """Raised-cosine ramp of ``overlap`` values rising from just above 0 to just below 1."""
    t = (np.arange(overlap, dtype=np.float64) + 0.5) / overlap
    return 0.5 - 0.5 * np.cos(np.pi * t)


def axis_weights(size: int, starts: list[int], length: int, overlap: int) -> list[np.ndarray]:
    """Per-window 1-D weights, normalised so that at every position of ``[0, size)`` they sum to 1."""
    raw = []
    for start in starts:
        w = np.ones(length, dtype=np.float64)
        n = min(overlap, length // 2)  # scenes smaller than a window
        if n > 0 and start > 0:
            w[:n] = ramp(n)
        if n > 0 and start + length < size:
            w[length - n:] = ramp(n)[::-1]
        raw.append(w)
    total = np.zeros(size, dtype=np.float64)
    for start, w in zip(starts, raw):
        total[start:start + length] += w
    return [(w / total[s:s + length]).astype(np.float32) for s, w in zip(starts, raw)]


@dataclass(frozen=True)
class WindowGrid:
    """Overlapping windows covering an (H, W) scene, and their normalised blending weights."""

    height: int
    width: int
    window_size: int
    overlap: int
    row_starts: list[int] = field(init=False, repr=False)
    col_starts: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.height < 1 or self.width < 1:
            raise ValueError(f"scene size must be positive, got {self.height} x {self.width}")
        if not valid_overlap(self.window_size, self.overlap):
            raise ValueError(f"need 0 <= overlap <= window_size / 2, got {self.window_size}, overlap {self.overlap}")
        stride = self.window_size - self.overlap
        object.__setattr__(self, "row_starts", axis_starts(self.height, self.window_height, stride))
        object.__setattr__(self, "col_starts", axis_starts(self.width, self.window_width, stride))

    @property
    def window_height(self) -> int:
        return min(self.window_size, self.height)

    @property
    def window_width(self) -> int:
        return min(self.window_size, self.width)

    def __len__(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    def __iter__(self) -> Iterator[GridWindow]:
        for i, row in enumerate(self.row_starts):
            for j, col in enumerate(self.col_starts):
                yield GridWindow(row, col, self.window_height, self.window_width, i, j)

    def row_weights(self) -> list[np.ndarray]:
        return axis_weights(self.height, self.row_starts, self.window_height, self.overlap)

    def col_weights(self) -> list[np.ndarray]:
        return axis_weights(self.width, self.col_starts, self.window_width, self.overlap)


class SceneMaps:
    """Full-scene float16 maps of every head, filled window by window with blending weights.

    ``center``, ``vessel`` and ``fishing`` hold probabilities, ``length`` metres. The maps live on
    ``device`` (the model's device), so that post-processing need not move them. With
    ``track_valid``, :attr:`valid` (bool) marks the pixels that held data (nodata, and windows
    skipped for having none, stay False).
    """

    def __init__(self, grid: WindowGrid, device: torch.device | str = "cpu", heads: tuple[str, ...] = HEAD_NAMES,
                 track_valid: bool = False):
        self.grid = grid
        self.device = torch.device(device)
        self.maps = {h: torch.zeros(grid.height, grid.width, dtype=MAP_DTYPE, device=self.device) for h in heads}
        self.valid = torch.zeros(grid.height, grid.width, dtype=torch.bool, device=self.device) if track_valid else None
        self._row_w = [torch.from_numpy(w).to(self.device) for w in grid.row_weights()]
        self._col_w = [torch.from_numpy(w).to(self.device) for w in grid.col_weights()]
        self.windows_added = 0

    def mark_valid(self, window: GridWindow, valid: torch.Tensor) -> None:
        """Record the window's validity mask (h, w) in :attr:`valid` (when tracked)."""
        if self.valid is not None:
            self.valid[window.slices] |= valid.to(self.device)

    def weight(self, window: GridWindow) -> torch.Tensor:
        """The window's normalised blending weight, (h, w) float32 on the maps' device."""
        return self._row_w[window.i][:, None] * self._col_w[window.j][None, :]

    def add(self, window: GridWindow, outputs: Mapping[str, torch.Tensor]) -> None:
        """Blend one window's (h, w) outputs (already probabilities / metres) into the maps."""
        weight = self.weight(window)
        rows, cols = window.slices
        for head, target in self.maps.items():
            value = outputs[head].to(self.device, torch.float32)
            target[rows, cols] += (value * weight).to(MAP_DTYPE)
        self.windows_added += 1

    def __getitem__(self, head: str) -> torch.Tensor:
        return self.maps[head]
