"""Label statistics of real xView3 scenes, fitted from an xView3 label CSV.

:data:`XVIEW3_VALIDATION` holds the figures fitted from the real xView3 validation labels
(19,224 rows, 50 scenes; ``../shared/data/xview3_validation_labels.csv``) so that the generator
needs no data file; :func:`fit_label_stats` recomputes them from any label CSV.

Objects fall in five *groups*: ``fishing`` and ``non_fishing`` (vessels whose fishing status is
known), ``vessel`` (vessels of unknown fishing status), ``non_vessel`` and ``unknown``
(``is_vessel`` missing). Per group we keep the source, the confidence, whether a length is given,
the log-normal length, and the distance-to-shore histogram (bins :data:`DISTANCE_EDGES_KM`, plus
one last bin for the unknown sentinel, which real labels use beyond ~10 km).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xtgeo.schema import CONFIDENCE_LEVELS, UNKNOWN_SHORE_DISTANCE_KM

GROUPS: tuple[str, ...] = ("fishing", "non_fishing", "vessel", "non_vessel", "unknown")
SOURCES: tuple[str, ...] = ("ais/manual", "manual", "ais")
#: Known-distance bin edges (km); the histogram has one more bin: distance unknown (sentinel).
DISTANCE_EDGES_KM: tuple[float, ...] = (0.0, 0.5, 2.0, 5.0, 10.0)
#: Real labels give a distance to shore only up to this distance; beyond it, the sentinel.
KNOWN_DISTANCE_MAX_KM = 10.0


@dataclass(frozen=True)
class LabelStats:
    """Distributions of xView3 label attributes (see the module docstring for the groups)."""

    count_log_mean: float  #: per-scene object count, log-normal
    count_log_std: float
    group_probs: dict[str, float]
    source_probs: dict[str, dict[str, float]]  #: group -> source -> p
    confidence_probs: dict[str, dict[str, float]]  #: group -> level -> p
    length_known_probs: dict[str, float]  #: group -> P(vessel_length_m given)
    length_log: dict[str, tuple[float, float]]  #: group -> (mean, std) of log(length m)
    distance_probs: dict[str, tuple[float, ...]]  #: group -> p per distance bin (+ unknown)


XVIEW3_VALIDATION = LabelStats(
    count_log_mean=5.8241,
    count_log_std=0.5292,
    group_probs={
        "fishing": 0.05,
        "non_fishing": 0.1524,
        "vessel": 0.4196,
        "non_vessel": 0.3718,
        "unknown": 0.0062,
    },
    source_probs={
        "fishing": {"ais/manual": 0.9792, "manual": 0.0, "ais": 0.0208},
        "non_fishing": {"ais/manual": 0.9942, "manual": 0.0, "ais": 0.0058},
        "vessel": {"ais/manual": 0.2041, "manual": 0.7959, "ais": 0.0},
        "non_vessel": {"ais/manual": 0.7727, "manual": 0.222, "ais": 0.0053},
        "unknown": {"ais/manual": 0.0336, "manual": 0.1261, "ais": 0.8403},
    },
    confidence_probs={
        "fishing": {"HIGH": 0.9709, "MEDIUM": 0.0291, "LOW": 0.0},
        "non_fishing": {"HIGH": 0.9788, "MEDIUM": 0.0212, "LOW": 0.0},
        "vessel": {"HIGH": 0.0, "MEDIUM": 0.589, "LOW": 0.411},
        "non_vessel": {"HIGH": 0.758, "MEDIUM": 0.242, "LOW": 0.0},
        "unknown": {"HIGH": 0.0, "MEDIUM": 0.0, "LOW": 1.0},
    },
    length_known_probs={
        "fishing": 1.0,
        "non_fishing": 0.9901,
        "vessel": 0.3019,
        "non_vessel": 0.0958,
        "unknown": 0.1597,
    },
    length_log={
        "fishing": (3.1714, 0.4204),
        "non_fishing": (4.3517, 0.6785),
        "vessel": (3.4088, 0.7323),
        "non_vessel": (3.3958, 0.5887),
        "unknown": (3.3414, 0.6489),
    },
    distance_probs={
        "fishing": (0.0021, 0.0239, 0.0812, 0.1103, 0.7825),
        "non_fishing": (0.0154, 0.0399, 0.1058, 0.13, 0.7089),
        "vessel": (0.2921, 0.2399, 0.1286, 0.0614, 0.2781),
        "non_vessel": (0.1049, 0.1298, 0.0832, 0.0988, 0.5832),
        "unknown": (0.0672, 0.0588, 0.1513, 0.1092, 0.6134),
    },
)


def label_groups(labels: pd.DataFrame) -> pd.Series:
    """The group (see module docstring) of each row of an xView3 label table."""
    vessel = labels["is_vessel"].map({True: "v", False: "n", "True": "v", "False": "n"})
    fishing = labels["is_fishing"].map({True: "f", False: "o", "True": "f", "False": "o"})
    group = pd.Series("unknown", index=labels.index)
    group[vessel == "n"] = "non_vessel"
    group[vessel == "v"] = "vessel"
    group[(vessel == "v") & (fishing == "f")] = "fishing"
    group[(vessel == "v") & (fishing == "o")] = "non_fishing"
    return group


def distance_bins(distance_km: np.ndarray) -> np.ndarray:
    """Histogram bin index of each distance; the last bin is unknown (sentinel, NaN or beyond)."""
    d = np.asarray(distance_km, dtype=np.float64)
    unknown = ~np.isfinite(d) | (d >= UNKNOWN_SHORE_DISTANCE_KM - 0.01) | (d > KNOWN_DISTANCE_MAX_KM)
    index = np.clip(np.searchsorted(DISTANCE_EDGES_KM, d, side="right") - 1, 0, len(DISTANCE_EDGES_KM) - 2)
    return np.where(unknown, len(DISTANCE_EDGES_KM) - 1, index)


def _shares(values: pd.Series, levels: tuple[str, ...]) -> dict[str, float]:
    counts = values.value_counts()
    total = max(int(counts.sum()), 1)
    return {level: round(float(counts.get(level, 0)) / total, 4) for level in levels}


def fit_label_stats(path: str | os.PathLike) -> LabelStats:
    """Fit :class:`LabelStats` from an xView3 label CSV (the 16 official columns)."""
    labels = pd.read_csv(path)
    group = label_groups(labels)
    per_scene = np.log(labels.groupby("scene_id").size().to_numpy(dtype=np.float64))
    bins = distance_bins(labels["distance_from_shore_km"].to_numpy())
    n_bins = len(DISTANCE_EDGES_KM)
    source_probs, confidence_probs, length_known, length_log, distance_probs = {}, {}, {}, {}, {}
    for name in GROUPS:
        rows = labels[group == name]
        lengths = np.log(rows["vessel_length_m"].dropna().to_numpy(dtype=np.float64))
        source_probs[name] = _shares(rows["source"], SOURCES)
        confidence_probs[name] = _shares(rows["confidence"], CONFIDENCE_LEVELS)
        length_known[name] = round(float(rows["vessel_length_m"].notna().mean()), 4)
        length_log[name] = (round(float(lengths.mean()), 4), round(float(lengths.std()), 4))
        hist = np.bincount(bins[(group == name).to_numpy()], minlength=n_bins) / max(len(rows), 1)
        distance_probs[name] = tuple(round(float(p), 4) for p in hist)
    return LabelStats(
        count_log_mean=round(float(per_scene.mean()), 4),
        count_log_std=round(float(per_scene.std()), 4),
        group_probs=_shares(group, GROUPS),
        source_probs=source_probs,
        confidence_probs=confidence_probs,
        length_known_probs=length_known,
        length_log=length_log,
        distance_probs=distance_probs,
    )
