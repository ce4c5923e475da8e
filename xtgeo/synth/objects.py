"""Where objects go and what they are: the context rules of :mod:`xtgeo.synth` (see its docstring).

Positions are drawn from a pool of candidate sea pixels (uniform over the swath, plus extra ones
near the coast and in harbours), each described by its context: distance to shore, depth, lane
offset, harbour. A label group's zone restricts the pool; inside it, candidates are weighted so
that distances to shore follow the real histogram of that group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from xtgeo.schema import PIXEL_SIZE_M
from xtgeo.scene.shoreline import contour_points
from xtgeo.synth.ancillary import Ancillary
from xtgeo.synth.stats import GROUPS, LabelStats, distance_bins
from xtgeo.synth.terrain import Terrain

#: Vessels are fishing only in this depth band (m) outside the shipping lane.
FISHING_DEPTH_M = (40.0, 200.0)
#: Outside harbours, everything this close to the coast (km) is a non-vessel (rock, mark).
ROCK_ZONE_KM = 0.5
#: Infrastructure lattices: spacing (px) and grid sides for wind farms and oil fields.
TURBINE_SPACING_PX, TURBINE_SIDES = (80, 120), (2, 9)
PLATFORM_SPACING_PX, PLATFORM_SIDES = (150, 300), (2, 4)
#: Fewest nodes a lattice keeps; fewer and it is dropped.
MIN_LATTICE_NODES = 4
#: Objects keep this far (px) from the swath edge and the image border.
EDGE_MARGIN_PX = 24
#: Size of a full xView3 scene (rows, columns); object counts scale with sqrt(area / this).
FULL_SCENE = (29400, 24400)
LENGTH_RANGE_M = (10.0, 300.0)


@dataclass(frozen=True)
class Lane:
    """A straight shipping lane across the whole scene through (row, col) along ``direction``."""

    row: float
    col: float
    direction: tuple[float, float]  # unit (row, col)
    half_width: float  # px

    def ratio(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Perpendicular distance to the lane axis in units of the half width (< 1: inside)."""
        dr, dc = self.direction
        return np.abs((np.asarray(rows) - self.row) * dc - (np.asarray(cols) - self.col) * dr) / self.half_width

    @property
    def heading_deg(self) -> float:
        """Compass heading (clockwise from north / up) along the lane."""
        return float(np.degrees(np.arctan2(self.direction[1], -self.direction[0])) % 360.0)


@dataclass
class Context:
    """Everything that decides labels, queried at scattered pixels."""

    terrain: Terrain
    land: np.ndarray
    ancillary: Ancillary
    shore: cKDTree | None
    lane: Lane

    def shore_km(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Distance (km) from each pixel to the nearest shoreline point; +inf without any shoreline."""
        if self.shore is None:
            return np.full(len(rows), np.inf)
        return self.shore.query(np.column_stack([rows, cols]).astype(np.float64))[0] * (PIXEL_SIZE_M / 1000.0)

    def describe(self, rows: np.ndarray, cols: np.ndarray) -> pd.DataFrame:
        """Context of pixels: sea/valid, distance to shore (km), depth (m), lane ratio, harbour."""
        height, width = self.land.shape
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        inside = (rows >= EDGE_MARGIN_PX) & (rows < height - EDGE_MARGIN_PX) & (cols >= EDGE_MARGIN_PX) & (cols < width - EDGE_MARGIN_PX)
        rc, cc = rows.clip(0, height - 1), cols.clip(0, width - 1)
        ok = inside & ~self.land[rc, cc] & self.terrain.swath.valid(rc, cc, height, width, margin=EDGE_MARGIN_PX)
        return pd.DataFrame({
            "row": rc, "col": cc, "ok": ok, "distance_km": self.shore_km(rc, cc),
            "depth_m": self.ancillary.depth_at(rc, cc, height, width),
            "lane": self.lane.ratio(rc, cc), "harbour": self.terrain.in_harbour(rc, cc),
        })


def make_context(terrain: Terrain, land: np.ndarray, ancillary: Ancillary, contours, rng: np.random.Generator) -> Context:
    """The label context of a scene, with a shipping lane through as much open sea as possible."""
    points = contour_points(contours)
    shore = cKDTree(points) if len(points) else None
    return Context(terrain, land, ancillary, shore, _choose_lane(rng, terrain, land))


def _choose_lane(rng: np.random.Generator, terrain: Terrain, land: np.ndarray) -> Lane:
    height, width = land.shape
    half = float(np.clip(rng.uniform(75, 150), 20, 0.08 * min(height, width)))
    best, best_sea = None, -1.0
    for _ in range(24):
        angle = rng.uniform(0, np.pi)
        lane = Lane(rng.uniform(0.2, 0.8) * height, rng.uniform(0.2, 0.8) * width,
                    (float(np.sin(angle)), float(np.cos(angle))), half)
        t = np.linspace(-2.0, 2.0, 400) * max(height, width)
        r = lane.row + t * lane.direction[0]
        c = lane.col + t * lane.direction[1]
        keep = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        sea = float(np.mean(~land[r[keep].astype(int), c[keep].astype(int)])) if keep.any() else 0.0
        if sea > best_sea:
            best, best_sea = lane, sea
    return best


def _candidates(rng: np.random.Generator, context: Context, count: int) -> pd.DataFrame:
    height, width = context.land.shape
    n = int(np.clip(60 * count, 20000, 300000))
    rows = [rng.integers(0, height, n)]
    cols = [rng.integers(0, width, n)]
    if context.shore is not None:
        shore = context.shore.data[rng.integers(0, len(context.shore.data), n // 2)]
        offset = rng.uniform(-80, 80, (n // 2, 2))
        rows.append((shore[:, 0] + offset[:, 0]).astype(np.int64))
        cols.append((shore[:, 1] + offset[:, 1]).astype(np.int64))
    for harbour in context.terrain.harbours:
        rows.append(rng.integers(harbour.top, harbour.bottom, 500))
        cols.append(rng.integers(harbour.left, harbour.right, 500))
    pool = context.describe(np.concatenate(rows), np.concatenate(cols))
    return pool[pool["ok"]].reset_index(drop=True)


def _zones(pool: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean candidate masks; margins keep objects clear of every rule's threshold."""
    low, high = FISHING_DEPTH_M
    harbour = pool["harbour"].to_numpy()
    distance = pool["distance_km"].to_numpy()
    depth = pool["depth_m"].to_numpy()
    lane = pool["lane"].to_numpy()
    open_sea = ~harbour & (distance >= ROCK_ZONE_KM * 1.1)
    lane_in, lane_out = open_sea & (lane <= 0.9), open_sea & (lane >= 1.1)
    fishing_depth = (depth >= low * 1.12) & (depth <= high * 0.9)
    other_depth = (depth <= low * 0.88) | (depth >= high * 1.1)
    return {
        "harbour": harbour,
        "rock": ~harbour & (distance <= ROCK_ZONE_KM * 0.9),
        "lane": lane_in,
        "fishing_ground": lane_out & fishing_depth,
        "other_sea": lane_out & other_depth,
        "open_sea": lane_in | lane_out,
        "outside_lane": lane_out,
        "shallow": lane_out & (depth <= low * 0.88),
        "deep": lane_out & (depth >= high * 1.1),
    }


class _Placer:
    """Draws positions from zones of the pool, keeping objects apart."""

    def __init__(self, rng: np.random.Generator, pool: pd.DataFrame, stats: LabelStats):
        self.rng, self.pool, self.stats = rng, pool, stats
        self.bins = distance_bins(pool["distance_km"].to_numpy())
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.keep_out: list[float] = []

    def free(self, row: float, col: float, keep_out: float) -> bool:
        if not self.rows:
            return True
        d = np.hypot(np.asarray(self.rows) - row, np.asarray(self.cols) - col)
        return bool(np.all(d >= np.maximum(np.asarray(self.keep_out), keep_out)))

    def add(self, row: int, col: int, keep_out: float) -> None:
        self.rows.append(int(row))
        self.cols.append(int(col))
        self.keep_out.append(float(keep_out))

    def weights(self, index: np.ndarray, group: str) -> np.ndarray:
        """Sampling probabilities of pool candidates so that distance bins follow ``group``'s."""
        bins = self.bins[index]
        target = np.asarray(self.stats.distance_probs[group], dtype=np.float64)
        present = np.bincount(bins, minlength=len(target))
        weight = target[bins] / present[bins]
        if weight.sum() <= 0:
            weight = np.ones(len(index))
        return weight / weight.sum()

    def draw(self, zone: np.ndarray, group: str, count: int, keep_out: np.ndarray) -> list[int]:
        """Up to ``count`` pool indices in ``zone``; distances follow ``group``'s histogram."""
        index = np.flatnonzero(zone)
        if count <= 0 or len(index) == 0:
            return []
        p = self.weights(index, group)
        size = min(np.count_nonzero(p), 8 * count + 16)
        order = self.rng.choice(index, size=size, replace=False, p=p)
        chosen: list[int] = []
        for i in order:
            k = float(keep_out[len(chosen)])
            row, col = self.pool.at[i, "row"], self.pool.at[i, "col"]
            if self.free(row, col, k):
                self.add(row, col, k)
                chosen.append(int(i))
                if len(chosen) == count:
                    break
        return chosen


def _keep_out(length_m: np.ndarray) -> np.ndarray:
    return 12.0 + np.asarray(length_m) / PIXEL_SIZE_M


def _lengths(rng: np.random.Generator, stats: LabelStats, group: str, n: int) -> np.ndarray:
    mean, std = stats.length_log[group]
    return np.clip(np.exp(rng.normal(mean, std, n)), *LENGTH_RANGE_M)


def _lattices(rng: np.random.Generator, context: Context, placer: _Placer, pool: pd.DataFrame, zones, wanted: int) -> list[dict]:
    """Wind-farm and oil-field lattices holding about ``wanted`` nodes."""
    height, width = context.land.shape
    objects: list[dict] = []
    tries = 0
    while len(objects) < wanted and tries < 30:
        tries += 1
        turbines = rng.random() < 0.6
        spacing = rng.uniform(*(TURBINE_SPACING_PX if turbines else PLATFORM_SPACING_PX))
        lo, hi = TURBINE_SIDES if turbines else PLATFORM_SIDES
        fit = int(0.8 * min(height, width) // spacing) + 1
        if fit < 2:
            continue
        first = int(rng.integers(lo, hi + 1))
        second = int(np.clip(np.ceil(max(wanted - len(objects), MIN_LATTICE_NODES) / first), lo, hi))
        sides = np.minimum([first, second], fit)
        zone = zones["shallow" if turbines else "deep"]
        if not zone.any():
            zone = zones["outside_lane"]
        index = np.flatnonzero(zone)
        if len(index) == 0:
            break
        centre = pool.iloc[int(rng.choice(index, p=placer.weights(index, "non_vessel")))]
        angle = rng.uniform(0, np.pi / 2)
        i, j = np.meshgrid(np.arange(sides[0]) - (sides[0] - 1) / 2, np.arange(sides[1]) - (sides[1] - 1) / 2, indexing="ij")
        u, v = i.ravel() * spacing, j.ravel() * spacing
        rows = np.rint(centre["row"] + u * np.cos(angle) - v * np.sin(angle)).astype(np.int64)
        cols = np.rint(centre["col"] + u * np.sin(angle) + v * np.cos(angle)).astype(np.int64)
        nodes = context.describe(rows, cols)
        good = nodes["ok"] & ~nodes["harbour"] & (nodes["distance_km"] >= ROCK_ZONE_KM * 1.1) & (nodes["lane"] >= 1.1)
        nodes = nodes[good]
        keep_out = spacing / 3.0
        nodes = nodes[[placer.free(r, c, 0.9 * spacing) for r, c in zip(nodes["row"], nodes["col"])]]
        if len(nodes) < MIN_LATTICE_NODES:
            continue
        for r, c in zip(nodes["row"], nodes["col"]):
            placer.add(r, c, keep_out)
            objects.append({"row": int(r), "col": int(c), "kind": "turbine" if turbines else "platform"})
    return objects


def _pick(rng: np.random.Generator, shares: dict[str, float]) -> str:
    p = np.asarray(list(shares.values()), dtype=np.float64)
    return str(rng.choice(list(shares), p=p / p.sum()))


def _kind(zones: dict[str, np.ndarray], i: int) -> str:
    for kind in ("harbour", "rock", "lane", "fishing_ground"):
        if zones[kind][i]:
            return kind
    return "open_sea"


def place_objects(rng: np.random.Generator, context: Context, stats: LabelStats) -> pd.DataFrame:
    """Objects of a scene with their label group, kind and look (one row each, sorted by position).

    Columns: row, col, group, kind, length_m, aspect, heading_deg, peak_db, vh_drop_db, seed,
    source, confidence, length_known.
    """
    height, width = context.land.shape
    scale = np.sqrt(height * width / (FULL_SCENE[0] * FULL_SCENE[1]))
    count = max(4, int(round(np.exp(rng.normal(stats.count_log_mean, stats.count_log_std)) * scale)))
    wanted = dict(zip(GROUPS, rng.multinomial(count, [stats.group_probs[g] for g in GROUPS])))
    pool = _candidates(rng, context, count)
    zones = _zones(pool)
    placer = _Placer(rng, pool, stats)

    rocks = int(rng.binomial(wanted["non_vessel"], stats.distance_probs["non_vessel"][0]))
    records = [{**node, "group": "non_vessel"} for node in _lattices(rng, context, placer, pool, zones, wanted["non_vessel"] - rocks)]
    n_lane = {g: int(rng.binomial(wanted[g], share)) for g, share in (("non_fishing", 0.5), ("vessel", 0.3))}
    draws = [
        ("non_vessel", zones["rock"], rocks),
        ("fishing", zones["fishing_ground"], wanted["fishing"]),
        ("non_fishing", zones["lane"], n_lane["non_fishing"]),
        ("non_fishing", zones["other_sea"] | zones["harbour"], wanted["non_fishing"] - n_lane["non_fishing"]),
        ("vessel", zones["lane"], n_lane["vessel"]),
        ("vessel", zones["open_sea"] | zones["harbour"], wanted["vessel"] - n_lane["vessel"]),
        ("unknown", zones["open_sea"] | zones["harbour"] | zones["rock"], wanted["unknown"]),
    ]
    lengths: list[float] = [float(v) for v in _lengths(rng, stats, "non_vessel", len(records))]
    for group, zone, n in draws:
        drawn = _lengths(rng, stats, group, max(n, 0))
        chosen = placer.draw(zone, group, n, _keep_out(drawn))
        for i, length in zip(chosen, drawn):
            records.append({"row": int(pool.at[i, "row"]), "col": int(pool.at[i, "col"]), "kind": _kind(zones, i), "group": group})
            lengths.append(float(length))

    objects = pd.DataFrame(records, columns=["row", "col", "kind", "group"])
    n = len(objects)
    objects["length_m"] = np.asarray(lengths, dtype=np.float64)
    objects["aspect"] = rng.uniform(3.0, 6.0, n)
    lane_heading = context.lane.heading_deg + rng.normal(0.0, 5.0, n) + 180.0 * (rng.random(n) < 0.5)
    objects["heading_deg"] = np.where(objects["kind"] == "lane", lane_heading, rng.uniform(0.0, 360.0, n)) % 360.0
    peak = 2.0 + 12.0 * np.log10(objects["length_m"] / 10.0) + rng.normal(0.0, 2.0, n)
    objects["peak_db"] = np.clip(peak, 0.0, 28.0)
    objects["vh_drop_db"] = rng.uniform(4.0, 9.0, n)
    objects["seed"] = rng.integers(0, 2**31 - 1, n)
    objects["source"] = [_pick(rng, stats.source_probs[g]) for g in objects["group"]]
    objects["confidence"] = [_pick(rng, stats.confidence_probs[g]) for g in objects["group"]]
    objects["length_known"] = rng.random(n) < objects["group"].map(stats.length_known_probs).to_numpy(dtype=np.float64)
    return objects.sort_values(["row", "col"], kind="stable").reset_index(drop=True)
