"""The xView3 label schema: column names, the score-relevant subset, and parsing helpers."""

from __future__ import annotations

#: The 16 xView3 label columns, in the official order.
LABEL_COLUMNS: tuple[str, ...] = (
    "detect_lat",
    "detect_lon",
    "vessel_length_m",
    "source",
    "detect_scene_row",
    "detect_scene_column",
    "is_vessel",
    "is_fishing",
    "distance_from_shore_km",
    "scene_id",
    "confidence",
    "top",
    "left",
    "bottom",
    "right",
    "detect_id",
)

#: Columns a ground-truth file needs for scoring.
SCORE_LABEL_COLUMNS: tuple[str, ...] = (
    "scene_id",
    "detect_scene_row",
    "detect_scene_column",
    "is_vessel",
    "is_fishing",
    "vessel_length_m",
    "distance_from_shore_km",
    "confidence",
)

#: Columns a prediction (submission) file needs.
PREDICTION_COLUMNS: tuple[str, ...] = (
    "detect_scene_row",
    "detect_scene_column",
    "scene_id",
    "is_vessel",
    "is_fishing",
    "vessel_length_m",
)

CONFIDENCE_LEVELS: tuple[str, ...] = ("HIGH", "MEDIUM", "LOW")

#: The official sentinel for an unknown distance to shore.
UNKNOWN_SHORE_DISTANCE_KM = 9999.99

#: Pixel spacing of xView3 VV/VH rasters, metres.
PIXEL_SIZE_M = 10.0
