"""Where objects go and what they are: the context rules of :mod:`xtgeo.synth` (see its docstring).

Objects are the labelled xView3 objects plus unlabelled coastal clutter (rule 3), all drawn alike.
Positions are drawn from a pool of candidate sea pixels (uniform over the swath, plus extra ones
near the coast and in harbours), each described by its context: distance to shore, depth, lane
offset, harbour, distance to the nearest harbour. A label group's zone restricts the pool; inside
it, candidates are weighted so that distances to shore follow the real histogram of that group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from xtgeo.scene.shoreline import contour_points
from xtgeo.synth.ancillary import Ancillary
from xtgeo.synth.geo import PIXEL_SIZE_M
from xtgeo.synth.stats import DISTANCE_EDGES_KM, GROUPS, LabelStats, distance_bins
from xtgeo.synth.terrain import Terrain

#: Vessels are fishing only in this depth band (m) outside the shipping lane.
FISHING_DEPTH_M = (40.0, 200.0)
#: Outside harbours, every labelled object this close to the coast (km) is a non-vessel (rock, mark).
ROCK_ZONE_KM = 0.5
#: Outer edge (km) of the coastal band that starts at ROCK_ZONE_KM: the xView3 close-to-shore distance.
COASTAL_BAND_KM = 2.0
#: In the coastal band nothing lies closer than this (km) to a harbour: 750 px > 512·√2 px, so no
#: 512 × 512 px window ever holds both a harbour and an object whose label it decides.
APPROACH_CLEAR_KM = 7.5
#: In the coastal band a target is a labelled vessel iff a harbour lies within this distance (km).
PORT_REACH_KM = 10.0
#: Coastal-band targets at least this far (km) from every harbour are unlabelled clutter
#: (PORT_REACH_KM plus the 10 % margin every rule keeps).
REMOTE_COAST_KM = 1.1 * PORT_REACH_KM
#: Targets in the coastal band all take their look (length, brightness) from this group, vessels at
#: anchor and clutter alike, so that only the distant harbour tells them apart.
COASTAL_LOOK = "vessel"
#: Kind of the unlabelled targets of rule 3 (rocks awash, reefs, wrecks, sea-clutter spikes).
CLUTTER = "clutter"
#: Share of each group's offshore objects (beyond the coastal band) that sail in the shipping lane.
LANE_SHARES = {"non_fishing": 0.5, "vessel": 0.3}
#: Distance-histogram bins that lie inside the coastal band's outer edge (rocks and band).
NEAR_BINS = int(np.searchsorted(DISTANCE_EDGES_KM, COASTAL_BAND_KM))
#: The distance-histogram bin of the coastal band (ROCK_ZONE_KM to COASTAL_BAND_KM).
BAND_BIN = int(np.searchsorted(DISTANCE_EDGES_KM, ROCK_ZONE_KM))
#: Label groups of vessels whose is_vessel is known.
VESSEL_GROUPS = ("fishing", "non_fishing", "vessel")
#: Infrastructure lattices: spacing (px) and grid sides for wind farms and oil fields.
TURBINE_SPACING_PX, TURBINE_SIDES = (80, 120), (2, 9)
PLATFORM_SPACING_PX, PLATFORM_SIDES = (150, 300), (2, 4)
#: Fewest objects a scene holds (small scenes are topped up with non-vessels near the coast).
MIN_OBJECTS = 4
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

    def harbour_km(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Distance (km) from each pixel to the nearest harbour structure; +inf without harbours."""
        return self.terrain.harbour_distance_px(rows, cols) * (PIXEL_SIZE_M / 1000.0)

    def describe(self, rows: np.ndarray, cols: np.ndarray) -> pd.DataFrame:
        """Context of pixels: sea/valid, distance to shore (km), depth (m), lane ratio, harbour,
        distance to the nearest harbour (km)."""
        height, width = self.land.shape
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        margin = EDGE_MARGIN_PX
        inside = (rows >= margin) & (rows < height - margin) & (cols >= margin) & (cols < width - margin)
        rc, cc = rows.clip(0, height - 1), cols.clip(0, width - 1)
        ok = inside & ~self.land[rc, cc] & self.terrain.swath.valid(rc, cc, height, width, margin=EDGE_MARGIN_PX)
        return pd.DataFrame({
            "row": rc, "col": cc, "ok": ok, "distance_km": self.shore_km(rc, cc),
            "depth_m": self.ancillary.depth_at(rc, cc, height, width),
            "lane": self.lane.ratio(rc, cc), "harbour": self.terrain.in_harbour(rc, cc),
            "harbour_km": self.harbour_km(rc, cc),
        })


def make_context(terrain: Terrain, land: np.ndarray, ancillary: Ancillary, contours,
                 rng: np.random.Generator) -> Context:
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


def label_zones(pool: pd.DataFrame) -> dict[str, np.ndarray]:
    """Where each rule places objects: boolean masks over pixels described by :meth:`Context.describe`
    (e.g. ``anchorage``: the labelled vessels of rule 3, ``remote_coast``: its unlabelled clutter);
    margins keep objects clear of every rule's threshold."""
    low, high = FISHING_DEPTH_M
    harbour = pool["harbour"].to_numpy()
    distance = pool["distance_km"].to_numpy()
    depth = pool["depth_m"].to_numpy()
    lane = pool["lane"].to_numpy()
    port = pool["harbour_km"].to_numpy()
    band = ~harbour & (distance >= ROCK_ZONE_KM * 1.1) & (distance <= COASTAL_BAND_KM * 0.9)
    open_sea = ~harbour & (distance >= COASTAL_BAND_KM * 1.1)
    lane_in, lane_out = open_sea & (lane <= 0.9), open_sea & (lane >= 1.1)
    fishing_depth = (depth >= low * 1.12) & (depth <= high * 0.9)
    other_depth = (depth <= low * 0.88) | (depth >= high * 1.1)
    return {
        "harbour": harbour,
        "rock": ~harbour & (distance <= ROCK_ZONE_KM * 0.9),
        "band": band,
        "anchorage": band & (port >= APPROACH_CLEAR_KM) & (port <= PORT_REACH_KM * 0.9),
        "remote_coast": band & (port >= REMOTE_COAST_KM),
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

    def __init__(self, rng: np.random.Generator, pool: pd.DataFrame):
        self.rng, self.pool = rng, pool
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

    def weights(self, index: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Sampling probabilities of pool candidates so that distance bins follow the ``target`` histogram."""
        bins = self.bins[index]
        target = np.asarray(target, dtype=np.float64)
        present = np.bincount(bins, minlength=len(target))
        weight = target[bins] / present[bins]
        if weight.sum() <= 0:
            weight = np.ones(len(index))
        return weight / weight.sum()

    def draw(self, zone: np.ndarray, target: np.ndarray, count: int, keep_out: np.ndarray) -> list[int]:
        """Up to ``count`` pool indices in ``zone``; distances follow the ``target`` histogram."""
        index = np.flatnonzero(zone)
        if count <= 0 or len(index) == 0:
            return []
        p = self.weights(index, target)
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


def _lattices(rng: np.random.Generator, context: Context, placer: _Placer, pool: pd.DataFrame, zones, stats: LabelStats,
              wanted: int) -> list[dict]:
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
        centre = pool.iloc[int(rng.choice(index, p=placer.weights(index, stats.distance_probs["non_vessel"])))]
        angle = rng.uniform(0, np.pi / 2)
        i, j = np.meshgrid(np.arange(sides[0]) - (sides[0] - 1) / 2, np.arange(sides[1]) - (sides[1] - 1) / 2,
                           indexing="ij")
        u, v = i.ravel() * spacing, j.ravel() * spacing
        rows = np.rint(centre["row"] + u * np.cos(angle) - v * np.sin(angle)).astype(np.int64)
        cols = np.rint(centre["col"] + u * np.sin(angle) + v * np.cos(angle)).astype(np.int64)
        nodes = context.describe(rows, cols)
        offshore = (nodes["distance_km"] >= COASTAL_BAND_KM * 1.1) & (nodes["lane"] >= 1.1)
        good = nodes["ok"] & ~nodes["harbour"] & offshore
        nodes = nodes[good]
        keep_out = spacing / 3.0
        nodes = nodes[[placer.free(r, c, 0.9 * spacing) for r, c in zip(nodes["row"], nodes["col"])]]
        if len(nodes) < MIN_LATTICE_NODES:
            continue
        for r, c in zip(nodes["row"], nodes["col"]):
            placer.add(r, c, keep_out)
            objects.append({"row": int(r), "col": int(c), "kind": "turbine" if turbines else "platform"})
    return objects


def _outside_lane(probs: tuple[float, ...], lane_share: float) -> np.ndarray:
    """A group's distance histogram without its lane objects, ``lane_share`` of its offshore ones."""
    p = np.array(probs, dtype=np.float64)
    p[NEAR_BINS:] *= 1.0 - lane_share
    return p / p.sum()


def _pick(rng: np.random.Generator, shares: dict[str, float]) -> str:
    p = np.asarray(list(shares.values()), dtype=np.float64)
    return str(rng.choice(list(shares), p=p / p.sum()))


def _kind(zones: dict[str, np.ndarray], i: int) -> str:
    for kind in ("harbour", "rock", "anchorage", "lane", "fishing_ground"):
        if zones[kind][i]:
            return kind
    return "open_sea"


def place_objects(rng: np.random.Generator, context: Context, stats: LabelStats) -> pd.DataFrame:
    """Objects of a scene with their label group, kind and look (one row each, sorted by position).

    Columns: row, col, group, kind, labelled, length_m, aspect, heading_deg, peak_db, vh_drop_db,
    seed, source, confidence, length_known. Clutter (kind :data:`CLUTTER`, rule 3) is drawn in the
    image but is no xView3 object: ``labelled`` False, no group, source or confidence.
    """
    height, width = context.land.shape
    scale = np.sqrt(height * width / (FULL_SCENE[0] * FULL_SCENE[1]))
    count = max(MIN_OBJECTS, int(round(np.exp(rng.normal(stats.count_log_mean, stats.count_log_std)) * scale)))
    wanted = dict(zip(GROUPS, rng.multinomial(count, [stats.group_probs[g] for g in GROUPS])))
    pool = _candidates(rng, context, count)
    zones = label_zones(pool)
    placer = _Placer(rng, pool)
    probs = stats.distance_probs

    # the coastal band holds no labelled non-vessel (rule 3): rocks take the real non-vessels' share
    # within 2 km of land; lattices take the rest, and those with no room
    near = sum(probs["non_vessel"][:NEAR_BINS])
    rocks = int(rng.binomial(wanted["non_vessel"], near)) if zones["rock"].any() else 0
    lattices = _lattices(rng, context, placer, pool, zones, stats, wanted["non_vessel"] - rocks)
    records = [{**node, "group": "non_vessel"} for node in lattices]
    # the lane lies beyond the coastal band: it takes a share of each group's offshore objects only
    n_lane = {g: int(rng.binomial(wanted[g], share * sum(probs[g][NEAR_BINS:]))) for g, share in LANE_SHARES.items()}
    rest = {g: _outside_lane(probs[g], share) for g, share in LANE_SHARES.items()}
    draws = [
        ("non_vessel", zones["rock"], rocks, probs["non_vessel"]),
        ("fishing", zones["fishing_ground"], wanted["fishing"], probs["fishing"]),
        ("non_fishing", zones["lane"], n_lane["non_fishing"], probs["non_fishing"]),
        ("non_fishing", zones["other_sea"] | zones["harbour"] | zones["anchorage"],
         wanted["non_fishing"] - n_lane["non_fishing"],
         rest["non_fishing"]),
        ("vessel", zones["lane"], n_lane["vessel"], probs["vessel"]),
        ("vessel", zones["open_sea"] | zones["harbour"] | zones["anchorage"], wanted["vessel"] - n_lane["vessel"],
         rest["vessel"]),
        ("unknown", zones["open_sea"] | zones["harbour"] | zones["rock"] | zones["anchorage"], wanted["unknown"],
         probs["unknown"]),
    ]
    lengths: list[float] = [float(v) for v in _lengths(rng, stats, "non_vessel", len(records))]
    band = zones["band"]

    def place(group: str, zone: np.ndarray, n: int, target) -> None:
        drawn = _lengths(rng, stats, group, max(n, 0))
        # a candidate in the coastal band gets the common coastal look; keep-outs fit either length
        alike = _lengths(rng, stats, COASTAL_LOOK, len(drawn)) if (zone & band).any() else drawn
        chosen = placer.draw(zone, target, n, _keep_out(np.maximum(drawn, alike)))
        for i, own, coastal in zip(chosen, drawn, alike):
            records.append({"row": int(pool.at[i, "row"]), "col": int(pool.at[i, "col"]), "kind": _kind(zones, i),
                            "group": group})
            lengths.append(float(coastal if band[i] else own))

    for draw in draws:
        place(*draw)
    # a small scene is mostly coastal band, where a vessel needs a harbour kilometres away
    place("non_vessel", zones["rock"], MIN_OBJECTS - len(records), probs["non_vessel"])
    # as many clutter targets, on average, as the real labels hold vessels in the coastal band
    band_vessels = sum(stats.group_probs[g] * probs[g][BAND_BIN] for g in VESSEL_GROUPS)
    clutter = _lengths(rng, stats, COASTAL_LOOK, int(rng.binomial(count, band_vessels)))
    chosen = placer.draw(zones["remote_coast"], probs[COASTAL_LOOK], len(clutter), _keep_out(clutter))
    for i, length in zip(chosen, clutter):
        records.append({"row": int(pool.at[i, "row"]), "col": int(pool.at[i, "col"]), "kind": CLUTTER, "group": None})
        lengths.append(float(length))

    objects = pd.DataFrame(records, columns=["row", "col", "kind", "group"])
    n = len(objects)
    objects["labelled"] = objects["kind"] != CLUTTER
    objects["length_m"] = np.asarray(lengths, dtype=np.float64)
    objects["aspect"] = rng.uniform(3.0, 6.0, n)
    lane_heading = context.lane.heading_deg + rng.normal(0.0, 5.0, n) + 180.0 * (rng.random(n) < 0.5)
    objects["heading_deg"] = np.where(objects["kind"] == "lane", lane_heading, rng.uniform(0.0, 360.0, n)) % 360.0
    peak = 2.0 + 12.0 * np.log10(objects["length_m"] / 10.0) + rng.normal(0.0, 2.0, n)
    objects["peak_db"] = np.clip(peak, 0.0, 28.0)
    objects["vh_drop_db"] = rng.uniform(4.0, 9.0, n)
    objects["seed"] = rng.integers(0, 2**31 - 1, n)
    tagged = list(zip(objects["labelled"], objects["group"]))
    objects["source"] = [_pick(rng, stats.source_probs[g]) if ok else None for ok, g in tagged]
    objects["confidence"] = [_pick(rng, stats.confidence_probs[g]) if ok else None for ok, g in tagged]
    known = objects["group"].map(stats.length_known_probs).fillna(0.0).to_numpy(dtype=np.float64)
    objects["length_known"] = rng.random(n) < known
    return objects.sort_values(["row", "col"], kind="stable").reset_index(drop=True)
