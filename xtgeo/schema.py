"""The xView3 label schema: column names, the score-relevant subset, and parsing helpers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from xtgeo.errors import LabelError

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


# --- reading and validating xView3 CSVs ---------------------------------------------------------

#: Columns holding True/False/blank.
BOOLEAN_COLUMNS: tuple[str, ...] = ("is_vessel", "is_fishing")
#: Columns that must be numeric; blank allowed unless listed in REQUIRED_VALUE_COLUMNS.
NUMERIC_COLUMNS: tuple[str, ...] = (
    "detect_lat",
    "detect_lon",
    "vessel_length_m",
    "detect_scene_row",
    "detect_scene_column",
    "distance_from_shore_km",
    "top",
    "left",
    "bottom",
    "right",
)
#: Columns whose value may never be blank or NaN.
REQUIRED_VALUE_COLUMNS: tuple[str, ...] = ("scene_id", "detect_scene_row", "detect_scene_column")

_TRUE_TEXT = frozenset({"true", "1", "1.0"})
_FALSE_TEXT = frozenset({"false", "0", "0.0"})
_BLANK_TEXT = frozenset({"", "nan", "na", "n/a", "null", "none"})


def read_labels(path: str | os.PathLike) -> pd.DataFrame:
    """Read an xView3 label CSV (the 16 columns, or only :data:`SCORE_LABEL_COLUMNS`).

    Extra columns are kept. Every schema column present is validated (see :func:`validate_table`);
    a header without rows gives an empty frame. Raises :class:`LabelError` naming file, row, column.
    """
    return _read_table(path, SCORE_LABEL_COLUMNS)


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """Read an xView3 prediction (submission) CSV: at least :data:`PREDICTION_COLUMNS`.

    A header without rows gives an empty frame (it scores 0). Raises :class:`LabelError`.
    """
    return _read_table(path, PREDICTION_COLUMNS)


def _read_table(path: str | os.PathLike, required: tuple[str, ...]) -> pd.DataFrame:
    """A validated table: numbers parsed by pandas' C parser when every cell is plainly valid
    (several times faster on big files), else through the text path, which names the bad cell."""
    try:
        typed = _read_csv_typed(path)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError):  # EmptyDataError is a ValueError
        typed = None
    return validate_table(_read_csv_text(path) if typed is None else typed, required, Path(path).name)


#: Blank spellings the C parser turns into NaN in numeric columns (others take the text path).
_BLANK_SPELLINGS = sorted({spelling for text in _BLANK_TEXT for spelling in (text, text.upper(), text.title())}
                          | {"NaN", "N/A"})


def _read_csv_typed(path: str | os.PathLike) -> pd.DataFrame | None:
    """The CSV with :data:`NUMERIC_COLUMNS` parsed as numbers (int64 when all whole, as
    ``pd.to_numeric`` gives) and other columns as stripped text; None when a numeric cell is not a
    plain number or blank spelling, a required numeric cell is blank, or a column name repeats:
    the text path then reports the cell."""
    header = pd.read_csv(path, nrows=0, index_col=False).columns
    if header.duplicated().any():
        return None
    numeric = [column for column in header if column in NUMERIC_COLUMNS]
    frame = pd.read_csv(path, index_col=False, keep_default_na=False, na_values={c: _BLANK_SPELLINGS for c in numeric},
                        dtype={c: str for c in header if c not in numeric})
    if not all(_is_number_column(frame[c]) for c in numeric):
        return None
    if frame[[c for c in numeric if c in REQUIRED_VALUE_COLUMNS]].isna().any(axis=None):
        return None
    for column in header.difference(numeric):
        frame[column] = frame[column].str.strip()
    return frame


def _is_number_column(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def validate_table(text: pd.DataFrame, required: tuple[str, ...], source: str) -> pd.DataFrame:
    """Validate a frame of CSV text cells and convert the schema columns to typed columns.

    ``scene_id``/``confidence`` become strings, numeric columns numbers (rows and columns must not
    be blank), ``is_vessel``/``is_fishing`` nullable booleans (True/False/1/0/blank, any case),
    ``confidence`` one of HIGH/MEDIUM/LOW. ``source`` names the file in error messages.
    """
    missing = [column for column in required if column not in text.columns]
    if missing:
        raise LabelError(f"{source}: missing column(s) {', '.join(missing)}")
    table = text.copy()
    for column in table.columns:
        if column in NUMERIC_COLUMNS and _is_number_column(table[column]):  # parsed already
            missing = table[column].isna()
            if column in REQUIRED_VALUE_COLUMNS and missing.any():
                raise _where(source, column, missing, table[column], "is blank or NaN; a value is required")
            continue
        if column in REQUIRED_VALUE_COLUMNS:
            _check_not_blank(table[column], source, column)
        if column in NUMERIC_COLUMNS:
            table[column] = _numeric(table[column], source, column)
        elif column in BOOLEAN_COLUMNS:
            table[column] = _boolean(table[column], source, column)
        elif column == "confidence":
            _check_confidence(table[column], source)
    return table


def _read_csv_text(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV with every cell as stripped text (no type guessing), or raise LabelError."""
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"{path}: no such file")
    try:
        text = pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False)
    except pd.errors.EmptyDataError:
        raise LabelError(f"{path}: empty file (no header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise LabelError(f"{path}: not a readable CSV ({str(err).splitlines()[0]})") from None
    return text.apply(lambda column: column.str.strip())


def _where(source: str, column: str, mask: pd.Series, values: pd.Series, problem: str) -> LabelError:
    """An error naming the first offending row (1-based data row and file line) and its value."""
    first = int(np.flatnonzero(mask.to_numpy())[0])
    count = int(mask.sum())
    more = f" ({count - 1} more row(s) like it)" if count > 1 else ""
    return LabelError(
        f"{source}: row {first + 1} (line {first + 2}), column {column}: "
        f"{values.iloc[first]!r} {problem}{more}"
    )


def _check_not_blank(values: pd.Series, source: str, column: str) -> None:
    blank = values.str.lower().isin(_BLANK_TEXT)
    if blank.any():
        raise _where(source, column, blank, values, "is blank or NaN; a value is required")


def _numeric(values: pd.Series, source: str, column: str) -> pd.Series:
    blank = values.str.lower().isin(_BLANK_TEXT)
    numbers = pd.to_numeric(values.where(~blank), errors="coerce")
    bad = numbers.isna() & ~blank
    if bad.any():
        raise _where(source, column, bad, values, "is not a number")
    return numbers


def _boolean(values: pd.Series, source: str, column: str) -> pd.Series:
    lower = values.str.lower()
    known = lower.isin(_TRUE_TEXT) | lower.isin(_FALSE_TEXT) | lower.isin(_BLANK_TEXT)
    if not known.all():
        raise _where(source, column, ~known, values, "is not a boolean (True/False/blank)")
    parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
    parsed[lower.isin(_TRUE_TEXT)] = True
    parsed[lower.isin(_FALSE_TEXT)] = False
    return parsed


def _check_confidence(values: pd.Series, source: str) -> None:
    bad = ~values.isin(CONFIDENCE_LEVELS)
    if bad.any():
        raise _where(source, "confidence", bad, values, f"is not one of {'/'.join(CONFIDENCE_LEVELS)}")
