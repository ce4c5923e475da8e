"""Sliding-window tiling of a whole scene, smooth blending weights, and full-scene output maps.

A :class:`TileGrid` covers an (H, W) scene with equal-sized tiles that overlap by ``overlap``
pixels; the last tile of each row/column is moved back to end exactly at the scene edge, so the
edges are covered by full tiles. Each tile's outputs are weighted by a raised-cosine window that
ramps over the overlap on its inner sides (flat at scene edges). The windows are separable and the
grid is a product of row and column positions, so the normalisation (sum of all windows) is
separable too: the normalised weights are precomputed per axis and the blended maps are built by
plain accumulation, without a weight-sum map. Maps are kept in float16 (no float32 stack); the
overlap is at most half a tile, so a pixel sums at most 3 × 3 contributions.
Imports only numpy and torch (runs on a GPU machine without the geospatial stack).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from xtgeo.models.heads import XVIEW3_MAPS as HEADS  # the maps predict blends, one per model head

MAP_DTYPE = torch.float16


@dataclass(frozen=True)
class Tile:
    """One tile: its top-left pixel, size, and its position (i, j) in the grid."""

    row: int
    col: int
    height: int
    width: int
    i: int
    j: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices of the tile in the scene."""
        return slice(self.row, self.row + self.height), slice(self.col, self.col + self.width)


def axis_starts(size: int, length: int, stride: int) -> list[int]:
    """Start offsets of windows of ``length`` every ``stride`` px covering ``[0, size)``, last flush."""
    starts = list(range(0, max(size - length, 0) + 1, stride))
    if starts[-1] + length < size:
        starts.append(size - length)
    return starts


def valid_tiling(tile_size: int, overlap: int) -> bool:
    """Whether tiles of ``tile_size`` can overlap by ``overlap``: at least 2 px, overlap 0 to half a tile."""
    return tile_size >= 2 and 0 <= 2 * overlap <= tile_size


def ramp(overlap: int) -> np.ndarray:
    """Raised-cosine ramp of ``overlap`` values rising from just above 0 to just below 1."""
    t = (np.arange(overlap, dtype=np.float64) + 0.5) / overlap
    return 0.5 - 0.5 * np.cos(np.pi * t)


def axis_weights(size: int, starts: list[int], length: int, overlap: int) -> list[np.ndarray]:
    """Per-window 1-D weights, normalised so that at every position of ``[0, size)`` they sum to 1."""
    raw = []
    for start in starts:
        w = np.ones(length, dtype=np.float64)
        n = min(overlap, length // 2)  # scenes smaller than a tile
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
class TileGrid:
    """Overlapping tiles covering an (H, W) scene, and their normalised blending weights."""

    height: int
    width: int
    tile_size: int
    overlap: int
    row_starts: list[int] = field(init=False, repr=False)
    col_starts: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.height < 1 or self.width < 1:
            raise ValueError(f"scene size must be positive, got {self.height} x {self.width}")
        if not valid_tiling(self.tile_size, self.overlap):
            raise ValueError(f"need 0 <= overlap <= tile_size / 2, got tile {self.tile_size}, overlap {self.overlap}")
        stride = self.tile_size - self.overlap
        object.__setattr__(self, "row_starts", axis_starts(self.height, self.tile_height, stride))
        object.__setattr__(self, "col_starts", axis_starts(self.width, self.tile_width, stride))

    @property
    def tile_height(self) -> int:
        return min(self.tile_size, self.height)

    @property
    def tile_width(self) -> int:
        return min(self.tile_size, self.width)

    def __len__(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    def __iter__(self) -> Iterator[Tile]:
        for i, row in enumerate(self.row_starts):
            for j, col in enumerate(self.col_starts):
                yield Tile(row, col, self.tile_height, self.tile_width, i, j)

    def row_weights(self) -> list[np.ndarray]:
        return axis_weights(self.height, self.row_starts, self.tile_height, self.overlap)

    def col_weights(self) -> list[np.ndarray]:
        return axis_weights(self.width, self.col_starts, self.tile_width, self.overlap)


class SceneMaps:
    """Full-scene float16 maps of every head, filled tile by tile with blending weights.

    ``center``, ``vessel`` and ``fishing`` hold probabilities, ``length`` metres. The maps live on
    ``device`` (the model's device), so that post-processing need not move them.
    """

    def __init__(self, grid: TileGrid, device: torch.device | str = "cpu", heads: tuple[str, ...] = HEADS):
        self.grid = grid
        self.device = torch.device(device)
        self.maps = {h: torch.zeros(grid.height, grid.width, dtype=MAP_DTYPE, device=self.device) for h in heads}
        self._row_w = [torch.from_numpy(w).to(self.device) for w in grid.row_weights()]
        self._col_w = [torch.from_numpy(w).to(self.device) for w in grid.col_weights()]
        self.tiles_added = 0

    def weight(self, tile: Tile) -> torch.Tensor:
        """The tile's normalised blending weight, (h, w) float32 on the maps' device."""
        return self._row_w[tile.i][:, None] * self._col_w[tile.j][None, :]

    def add(self, tile: Tile, outputs: Mapping[str, torch.Tensor]) -> None:
        """Blend one tile's (h, w) outputs (already probabilities / metres) into the maps."""
        weight = self.weight(tile)
        rows, cols = tile.slices
        for head, target in self.maps.items():
            value = outputs[head].to(self.device, torch.float32)
            target[rows, cols] += (value * weight).to(MAP_DTYPE)
        self.tiles_added += 1

    def __getitem__(self, head: str) -> torch.Tensor:
        return self.maps[head]
