"""Smooth random fields on coarse grids, sampled at scene pixels by bilinear interpolation.

A field is stored at a few nodes (cheap for a full 29,400 × 24,400 scene) and evaluated window
by window, so every window of a large scene sees the same continuous values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class GridField:
    """Values at nodes ``(offset + i) * step`` pixels along rows and columns (pixel centres at +0.5)."""

    values: np.ndarray
    step_rows: float
    step_cols: float
    offset: float = 0.0

    def _axis(self, coords: np.ndarray, step: float, size: int) -> tuple[np.ndarray, np.ndarray]:
        position = np.clip((coords + 0.5) / step - self.offset, 0, size - 1)
        index = np.minimum(np.floor(position).astype(np.int64), size - 2)
        return index, (position - index).astype(np.float32)

    def window(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Field values (float32) at the pixels of rows ``r0:r1`` and columns ``c0:c1``."""
        gh, gw = self.values.shape
        ri, rw = self._axis(np.arange(r0, r1), self.step_rows, gh)
        ci, cw = self._axis(np.arange(c0, c1), self.step_cols, gw)
        low = int(ri.min())
        rows = self.values[low : int(ri.max()) + 2].astype(np.float32)
        across = rows[:, ci] * (1 - cw) + rows[:, ci + 1] * cw
        ri = ri - low
        return across[ri] * (1 - rw)[:, None] + across[ri + 1] * rw[:, None]

    def at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Field values at scattered pixels."""
        gh, gw = self.values.shape
        ri, rw = self._axis(np.asarray(rows, dtype=np.float64), self.step_rows, gh)
        ci, cw = self._axis(np.asarray(cols, dtype=np.float64), self.step_cols, gw)
        v = self.values
        top = v[ri, ci] * (1 - cw) + v[ri, ci + 1] * cw
        bottom = v[ri + 1, ci] * (1 - cw) + v[ri + 1, ci + 1] * cw
        return (top * (1 - rw) + bottom * rw).astype(np.float32)


def random_field(
    rng: np.random.Generator, height: int, width: int, step: float, smooth: float = 1.0
) -> GridField:
    """A zero-mean, unit-std smooth random field with nodes every ``step`` pixels."""
    shape = (int(np.ceil(height / step)) + 2, int(np.ceil(width / step)) + 2)
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), smooth, mode="reflect")
    noise = (noise - noise.mean()) / max(float(noise.std()), 1e-6)
    return GridField(noise.astype(np.float32), float(step), float(step))


def cell_grid(values: np.ndarray, height: int, width: int) -> GridField:
    """A field whose nodes are the centres of the cells of a coarse raster covering the scene."""
    gh, gw = values.shape
    return GridField(np.asarray(values, dtype=np.float32), height / gh, width / gw, offset=0.5)
