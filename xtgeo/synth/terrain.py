"""Land, coast, islands, harbours and the swath edge of a synthetic scene.

Land is where a smooth "relief" field is positive. The relief (in km) is a ramp rising inland
along a random direction plus smooth noise at three scales (coast bays and headlands down to
~100 m wiggles) plus Gaussian islands; its zero level sets the land fraction. Harbours are
rectangular basins on the coast: sea inside, a breakwater wall around, one gap facing the sea.
Everything is a function of pixel position, so any window of a huge scene is made on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xtgeo.synth.fields import GridField, random_field
from xtgeo.synth.geo import PIXEL_SIZE_M

#: Breakwater thickness, pixels.
HARBOUR_WALL_PX = 3
#: Rows per strip when a full-scene mask is built.
STRIP_ROWS = 512


@dataclass(frozen=True)
class Harbour:
    """A harbour basin (sea) ``[top, bottom) × [left, right)`` walled on all sides but ``opening``."""

    top: int
    left: int
    bottom: int
    right: int
    opening: str  # "top", "bottom", "left" or "right"

    def contains(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """True for pixels inside the basin."""
        rows, cols = np.asarray(rows), np.asarray(cols)
        return (rows >= self.top) & (rows < self.bottom) & (cols >= self.left) & (cols < self.right)

    def distance_px(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Distance (px) from pixels to the nearest pixel of the harbour, breakwaters included."""
        w = HARBOUR_WALL_PX
        rows, cols = np.asarray(rows, dtype=np.float64), np.asarray(cols, dtype=np.float64)
        dr = np.maximum(np.maximum(self.top - w - rows, rows - (self.bottom + w - 1)), 0.0)
        dc = np.maximum(np.maximum(self.left - w - cols, cols - (self.right + w - 1)), 0.0)
        return np.hypot(dr, dc)

    def paint(self, land: np.ndarray, r0: int, c0: int) -> None:
        """Carve the basin and build the walls into a land window whose corner is (r0, c0)."""
        w = HARBOUR_WALL_PX
        outer = np.zeros((self.bottom - self.top + 2 * w, self.right - self.left + 2 * w), dtype=np.int8)
        outer[:] = 1
        outer[w:-w, w:-w] = 0
        gap_r = slice(w + (self.bottom - self.top) // 3, w + 2 * (self.bottom - self.top) // 3)
        gap_c = slice(w + (self.right - self.left) // 3, w + 2 * (self.right - self.left) // 3)
        gap = {"top": (slice(0, w), gap_c), "bottom": (slice(-w, None), gap_c),
               "left": (gap_r, slice(0, w)), "right": (gap_r, slice(-w, None))}[self.opening]
        outer[gap] = 0
        top, left = self.top - w - r0, self.left - w - c0
        rs = slice(max(top, 0), min(top + outer.shape[0], land.shape[0]))
        cs = slice(max(left, 0), min(left + outer.shape[1], land.shape[1]))
        if rs.start < rs.stop and cs.start < cs.stop:
            land[rs, cs] = outer[rs.start - top : rs.stop - top, cs.start - left : cs.stop - left] == 1


@dataclass(frozen=True)
class SwathEdge:
    """The slanted nodata wedge of a GRD scene: ``top``/``bottom`` columns cut off on ``side``."""

    side: str  # "left" or "right"
    top: float
    bottom: float

    def cut(self, rows: np.ndarray, height: int) -> np.ndarray:
        """Width of the nodata wedge (columns) at each row."""
        return self.top + (self.bottom - self.top) * (np.asarray(rows, dtype=np.float64) + 0.5) / height

    def valid(self, rows: np.ndarray, cols: np.ndarray, height: int, width: int, margin: float = 0.0) -> np.ndarray:
        """True for pixels inside the swath, at least ``margin`` pixels from its edge (broadcasts)."""
        cut = self.cut(rows, height)
        cols = np.asarray(cols, dtype=np.float64)
        if self.side == "left":
            return cols + 0.5 >= cut + margin
        return cols + 0.5 <= width - cut - margin


@dataclass(frozen=True)
class Terrain:
    """Land relief, harbours and swath of one scene (see the module docstring)."""

    height: int
    width: int
    inland: tuple[float, float]  # unit (row, col) direction of rising relief
    noise: tuple[GridField, ...]
    amplitudes_km: tuple[float, ...]
    threshold_km: float
    islands: np.ndarray  # (n, 4): row, col, radius px, lift km
    harbours: tuple[Harbour, ...]
    swath: SwathEdge

    def relief(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Relief (km, float32) of a window; land where positive (before harbours)."""
        rows = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
        cols = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5
        km = PIXEL_SIZE_M / 1000.0
        value = (rows * (self.inland[0] * km) + cols * (self.inland[1] * km)) - np.float32(self.threshold_km)
        for field, amplitude in zip(self.noise, self.amplitudes_km):
            value = value + np.float32(amplitude) * field.window(r0, r1, c0, c1)
        for row, col, radius, lift in self.islands:
            reach = int(4 * radius)
            rs = slice(max(int(row) - reach - r0, 0), max(min(int(row) + reach - r0, r1 - r0), 0))
            cs = slice(max(int(col) - reach - c0, 0), max(min(int(col) + reach - c0, c1 - c0), 0))
            if rs.start < rs.stop and cs.start < cs.stop:
                d2 = (rows[rs] - row) ** 2 + (cols[:, cs] - col) ** 2
                value[rs, cs] += np.float32(lift) * np.exp(-d2 / np.float32(2 * radius**2))
        return value

    def relief_at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Relief (km) at scattered pixels, without islands and harbours."""
        km = PIXEL_SIZE_M / 1000.0
        inland = (np.asarray(rows) + 0.5) * (self.inland[0] * km) + (np.asarray(cols) + 0.5) * (self.inland[1] * km)
        value = inland - self.threshold_km
        for field, amplitude in zip(self.noise, self.amplitudes_km):
            value = value + amplitude * field.at(rows, cols)
        return value

    def land(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Boolean land mask of a window, harbours included."""
        land = self.relief(r0, r1, c0, c1) > 0
        for harbour in self.harbours:
            harbour.paint(land, r0, c0)
        return land

    def land_mask(self, on_strip=None) -> np.ndarray:
        """The full-scene land mask, built strip by strip (``on_strip(rows_done)`` reports progress)."""
        mask = np.empty((self.height, self.width), dtype=bool)
        for r0 in range(0, self.height, STRIP_ROWS):
            r1 = min(r0 + STRIP_ROWS, self.height)
            mask[r0:r1] = self.land(r0, r1, 0, self.width)
            if on_strip is not None:
                on_strip(r1 - r0)
        return mask

    def valid(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Boolean swath (not nodata) mask of a window."""
        rows = np.arange(r0, r1)[:, None]
        return self.swath.valid(rows, np.arange(c0, c1)[None, :], self.height, self.width)

    def in_harbour(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """True for pixels inside any harbour basin."""
        inside = np.zeros(np.shape(rows), dtype=bool)
        for harbour in self.harbours:
            inside |= harbour.contains(rows, cols)
        return inside

    def harbour_distance_px(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Distance (px) from pixels to the nearest harbour structure; +inf without harbours."""
        nearest = np.full(np.shape(rows), np.inf)
        for harbour in self.harbours:
            nearest = np.minimum(nearest, harbour.distance_px(rows, cols))
        return nearest


def _coarse_relief(terrain: Terrain, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relief (no islands) sampled every ``step`` pixels, with the sample rows and columns."""
    rows = np.arange(step // 2, terrain.height, step)
    cols = np.arange(step // 2, terrain.width, step)
    r, c = np.meshgrid(rows, cols, indexing="ij")
    return terrain.relief_at(r, c), rows, cols


def _islands(rng: np.random.Generator, terrain: Terrain, coarse, scene_km2: float) -> np.ndarray:
    grid, rows, cols = coarse
    sea = np.argwhere(grid < -0.5)
    count = min(int(rng.poisson(1.0 + scene_km2 / 3000.0)), len(sea))
    islands = []
    for i in rng.choice(len(sea), size=count, replace=False) if count else []:
        r, c = sea[i]
        radius = float(rng.uniform(15, 120))
        lift = -float(grid[r, c]) + radius * PIXEL_SIZE_M / 1000.0 * 0.7
        islands.append((float(rows[r]), float(cols[c]), radius, lift))
    return np.asarray(islands, dtype=np.float64).reshape(-1, 4)


def _harbours(rng: np.random.Generator, terrain: Terrain, coarse, coast_km: float) -> tuple[Harbour, ...]:
    grid, rows, cols = coarse
    step = rows[1] - rows[0] if len(rows) > 1 else terrain.height
    gr, gc = np.gradient(grid)
    margin = 250
    near = np.argwhere(np.abs(grid) < 0.15 * (step * PIXEL_SIZE_M / 1000.0) + 0.05)
    near = near[(rows[near[:, 0]] > margin) & (rows[near[:, 0]] < terrain.height - margin)
                & (cols[near[:, 1]] > margin) & (cols[near[:, 1]] < terrain.width - margin)]
    wanted = min(1 + int(rng.poisson(coast_km / 40.0)), 6)
    harbours: list[Harbour] = []
    for i in rng.permutation(len(near)):
        if len(harbours) == wanted:
            break
        r, c = near[i]
        row, col = int(rows[r]), int(cols[c])
        if not terrain.swath.valid(row, col, terrain.height, terrain.width, margin=margin):
            continue
        h, w = (int(v) for v in rng.integers(50, 140, size=2))
        box = Harbour(row - h // 2, col - w // 2, row - h // 2 + h, col - w // 2 + w, "top")
        if any(_overlap(box, other, 60) for other in harbours):
            continue
        sea_r, sea_c = -gr[r, c], -gc[r, c]
        opening = ("bottom" if sea_r > 0 else "top") if abs(sea_r) >= abs(sea_c) else ("right" if sea_c > 0 else "left")
        harbours.append(Harbour(box.top, box.left, box.bottom, box.right, opening))
    return tuple(harbours)


def _overlap(a: Harbour, b: Harbour, pad: int) -> bool:
    return not (a.bottom + pad < b.top or b.bottom + pad < a.top or a.right + pad < b.left or b.right + pad < a.left)


def make_terrain(rng: np.random.Generator, height: int, width: int) -> Terrain:
    """A random coastal terrain for a ``height`` × ``width`` scene (land on 8–30% of it)."""
    angle = rng.uniform(0, 2 * np.pi)
    size_km = max(height, width) * PIXEL_SIZE_M / 1000.0
    side = "left" if rng.random() < 0.5 else "right"
    swath = SwathEdge(side, float(rng.uniform(0.0, 0.06) * width), float(rng.uniform(0.03, 0.12) * width))
    noise = (
        random_field(rng, height, width, step=max(height, width) / 5.0),
        random_field(rng, height, width, step=40.0),
        random_field(rng, height, width, step=8.0),
    )
    base = Terrain(height, width, (float(np.sin(angle)), float(np.cos(angle))), noise,
                   (0.12 * size_km, 0.5, 0.08), 0.0, np.empty((0, 4)), (), swath)
    coarse_step = max(8, int(max(height, width) // 400))
    grid, rows, cols = _coarse_relief(base, coarse_step)
    land_fraction = rng.uniform(0.08, 0.3)
    threshold = float(np.quantile(grid, 1.0 - land_fraction))
    base = Terrain(**{**base.__dict__, "threshold_km": threshold})
    coarse = (grid - threshold, rows, cols)
    coast_km = float(np.count_nonzero(np.diff(coarse[0] > 0, axis=1))) * coarse_step * PIXEL_SIZE_M / 1000.0
    scene_km2 = height * width * (PIXEL_SIZE_M / 1000.0) ** 2
    islands = _islands(rng, base, coarse, scene_km2)
    harbours = _harbours(rng, base, coarse, coast_km)
    return Terrain(**{**base.__dict__, "islands": islands, "harbours": harbours})
