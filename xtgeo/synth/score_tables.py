"""Random xView3-like label and prediction tables (and shorelines) for tests and benchmarks.

Labels mix scattered objects with tight clusters (harbours, fleets), as the real labels do, so the
matcher meets both isolated pairs and crowded components.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xtgeo.schema import CONFIDENCE_LEVELS, PREDICTION_COLUMNS, SCORE_LABEL_COLUMNS, UNKNOWN_SHORE_DISTANCE_KM

SCENE_SHAPE = (29_400, 24_400)


def random_labels(
    rng: np.random.Generator,
    n_scenes: int,
    per_scene: int,
    shape: tuple[int, int] = SCENE_SHAPE,
    clustered: float = 0.3,
    cluster_px: float = 15.0,
) -> pd.DataFrame:
    """Integer-pixel labels with the score columns; ``clustered`` of them in groups ``cluster_px`` wide."""
    n = n_scenes * per_scene
    scene = np.repeat([f"scene{k:04d}v" for k in range(n_scenes)], per_scene)
    rc = rng.random((n, 2)) * np.array(shape)
    in_cluster = rng.random(n) < clustered
    anchor = np.flatnonzero(~in_cluster)
    if len(anchor):
        # cluster members sit around a scattered label of the same scene
        same_scene = np.arange(n) // per_scene * per_scene
        near = same_scene + rng.integers(0, per_scene, n)
        rc[in_cluster] = rc[near[in_cluster]] + rng.normal(0, cluster_px, (in_cluster.sum(), 2))
    rc = np.clip(np.round(rc), 0, np.array(shape) - 1).astype(np.int64)
    # real labels never share a pixel: move duplicates to a free random pixel
    def pixel_key(rows: np.ndarray) -> np.ndarray:  # one number per (scene, pixel)
        return (rows // per_scene) * shape[0] * shape[1] + rc[rows, 0] * shape[1] + rc[rows, 1]

    key = pixel_key(np.arange(n))
    while True:
        _, first = np.unique(key, return_index=True)
        duplicate = np.setdiff1d(np.arange(n), first)
        if not len(duplicate):
            break
        rc[duplicate] = (rng.random((len(duplicate), 2)) * np.array(shape)).astype(np.int64)
        key[duplicate] = pixel_key(duplicate)
    is_vessel = rng.choice(np.array([True, False, None]), n, p=[0.62, 0.37, 0.01])
    fishing_if_vessel = rng.choice(np.array([True, False, None]), n, p=[0.05, 0.15, 0.8])
    is_fishing = np.where(is_vessel == True, fishing_if_vessel, None)  # noqa: E712  (an object array: == True)
    length = np.where(rng.random(n) < 0.4, rng.gamma(2.0, 40.0, n) + 5.0, np.nan)
    shore = np.where(rng.random(n) < 0.3, rng.random(n) * 4.0, UNKNOWN_SHORE_DISTANCE_KM)
    table = pd.DataFrame(
        {
            "scene_id": scene,
            "detect_scene_row": rc[:, 0],
            "detect_scene_column": rc[:, 1],
            "is_vessel": pd.array(is_vessel, dtype="boolean"),
            "is_fishing": pd.array(is_fishing, dtype="boolean"),
            "vessel_length_m": length,
            "distance_from_shore_km": shore,
            "confidence": rng.choice(np.array(CONFIDENCE_LEVELS), n, p=[0.48, 0.34, 0.18]),
        }
    )
    return table[list(SCORE_LABEL_COLUMNS)]


def noisy_predictions(
    rng: np.random.Generator,
    labels: pd.DataFrame,
    recall: float = 0.85,
    jitter_px: float = 6.0,
    flip: float = 0.1,
    integer: bool = True,
) -> pd.DataFrame:
    """Predictions: found labels moved by ``jitter_px`` with some classes flipped, plus false alarms
    in the same scenes so that there are as many predictions as labels."""
    found = labels[rng.random(len(labels)) < recall]
    n_false = len(labels) - len(found)
    false_rows = labels.iloc[rng.integers(0, len(labels), n_false)]
    rc = np.concatenate(
        [
            found[["detect_scene_row", "detect_scene_column"]].to_numpy(float) + rng.normal(0, jitter_px,
                                                                                            (len(found), 2)),
            rng.random((n_false, 2)) * np.array(SCENE_SHAPE),
        ]
    )
    rc = np.maximum(np.round(rc) if integer else rc, 0.0)  # a prediction is a pixel of the scene
    scene = np.concatenate([found["scene_id"].to_numpy(), false_rows["scene_id"].to_numpy()])
    n = len(rc)

    def guess(truth: pd.Series) -> np.ndarray:
        known = truth.fillna(False).to_numpy(bool)
        padded = np.concatenate([known, rng.random(n_false) < 0.5])
        return padded ^ (rng.random(n) < flip)

    length = np.concatenate([found["vessel_length_m"].fillna(60.0).to_numpy(), rng.gamma(2.0, 40.0, n_false)])
    table = pd.DataFrame(
        {
            "detect_scene_row": rc[:, 0],
            "detect_scene_column": rc[:, 1],
            "scene_id": scene,
            "is_vessel": guess(found["is_vessel"]),
            "is_fishing": guess(found["is_fishing"]),
            "vessel_length_m": length * rng.normal(1.0, 0.15, n),
        }
    )
    return table.sample(frac=1.0,
                        random_state=int(rng.integers(1 << 31)))[list(PREDICTION_COLUMNS)].reset_index(drop=True)


def random_shoreline(rng: np.random.Generator, shape: tuple[int, int] = SCENE_SHAPE,
                     points: int = 3000) -> list[np.ndarray]:
    """A wandering coastline (one contour of integer (row, col) points) crossing the scene."""
    cols = np.linspace(0, shape[1] - 1, points)
    rows = shape[0] * 0.5 + np.cumsum(rng.normal(0, 20.0, points))
    contour = np.column_stack([np.clip(rows, 0, shape[0] - 1), cols])
    return [np.round(contour).astype(np.int32)]
