"""The xView3 label schema: column names, the score-relevant subset, and parsing helpers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from xtgeo.errors import LabelError, reason

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
#: No Sentinel-1 scene has a side this long (pixels): a row or column beyond it is an error.
MAX_SCENE_SIDE_PX = 100_000
#: Allowed range (inclusive) of each numeric column's values; every value must also be finite.
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "detect_lat": (-90.0, 90.0),
    "detect_lon": (-180.0, 180.0),
    "vessel_length_m": (0.0, np.inf),
    "detect_scene_row": (0.0, MAX_SCENE_SIDE_PX),
    "detect_scene_column": (0.0, MAX_SCENE_SIDE_PX),
    "distance_from_shore_km": (0.0, np.inf),
}

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
    if typed is not None:
        try:
            return validate_table(typed, required, Path(path).name)
        except LabelError:
            pass  # a bad value: the text path names the cell as it is written
    return validate_table(_read_csv_text(path), required, Path(path).name)


#: Blank spellings the C parser turns into NaN in numeric columns (others take the text path).
_BLANK_SPELLINGS = sorted({spelling for text in _BLANK_TEXT for spelling in (text, text.upper(), text.title())}
                          | {"NaN", "N/A"})


def _read_csv_typed(path: str | os.PathLike) -> pd.DataFrame | None:
    """The CSV with :data:`NUMERIC_COLUMNS` parsed as numbers (int64 when all whole, as
    ``pd.to_numeric`` gives) and other columns as stripped categorical text; None when a numeric
    cell is not a plain number or blank spelling, a required numeric cell is blank, or a column name
    repeats: the text path then reports the cell."""
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
        frame[column] = _stripped_categorical(frame[column])
    return frame


def _stripped_categorical(values: pd.Series) -> pd.Series:
    """A text column as a categorical one with its values stripped (each distinct value once)."""
    codes, distinct = pd.factorize(values)
    stripped = distinct.str.strip()
    if not stripped.is_unique:  # " a" and "a": one category
        codes, stripped = pd.factorize(stripped[codes])
    return pd.Series(pd.Categorical.from_codes(codes, stripped), index=values.index, name=values.name)


def _text_of(values: pd.Series) -> pd.Series:
    """A categorical text column as a plain ``str`` column (other columns as they are)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values
    return pd.Series(values.cat.categories.array.take(values.cat.codes.to_numpy()), index=values.index,
                     name=values.name)


def _per_value(values: pd.Series, test) -> pd.Series:
    """``test(values)`` (text → one bool per row), evaluated once per distinct value when ``values``
    is categorical (as the fast CSV path reads text columns)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return test(values)
    per_value = np.asarray(test(pd.Series(values.cat.categories.array)), dtype=bool)
    return pd.Series(per_value[values.cat.codes.to_numpy()], index=values.index)


def _is_number_column(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def read_labels_parquet(path: str | os.PathLike) -> pd.DataFrame:
    """Read a label table that ``xtgeo preprocess`` wrote (``labels.parquet``), validated as a CSV
    is (:func:`validate_table`): a corrupt file, a missing column or a bad value is a LabelError."""
    import pyarrow as pa  # only here: the CSV readers do without it

    path = Path(path)
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as err:
        raise LabelError(f"{path}: not a readable Parquet label table ({reason(err)})") from None
    text = frame.astype(object).where(frame.notna(), "").astype(str)
    return validate_table(text, SCORE_LABEL_COLUMNS, str(path))


def validate_table(text: pd.DataFrame, required: tuple[str, ...], source: str) -> pd.DataFrame:
    """Validate a frame of CSV text cells and convert the schema columns to typed columns.

    ``scene_id``/``confidence`` become strings, numeric columns numbers (rows and columns must not
    be blank), ``is_vessel``/``is_fishing`` nullable booleans (True/False/1/0/blank, any case),
    ``confidence`` one of HIGH/MEDIUM/LOW. ``source`` names the file in error messages. Text columns
    may also come categorical (checked once per distinct value; returned as ``str`` columns).
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
            _check_range(table[column], ~missing, table[column], source, column)
            continue
        if column in REQUIRED_VALUE_COLUMNS:
            _check_not_blank(table[column], source, column)
        if column == "scene_id":
            _check_scene_id(table[column], source)
        if column in NUMERIC_COLUMNS:
            table[column] = _numeric(table[column], source, column)
        elif column in BOOLEAN_COLUMNS:
            table[column] = _boolean(table[column], source, column)
        elif column == "confidence":
            _check_confidence(table[column], source)
        table[column] = _text_of(table[column])
    return table


def check_inside_scenes(table: pd.DataFrame, shapes: dict[str, tuple[int, int]], source: str) -> None:
    """LabelError naming the first row whose (row, col) lies outside its scene, for the scenes whose
    (height, width) ``shapes`` are known."""
    height = table["scene_id"].map(lambda s: shapes.get(s, (np.inf, np.inf))[0]).astype(float)
    width = table["scene_id"].map(lambda s: shapes.get(s, (np.inf, np.inf))[1]).astype(float)
    for column, size in (("detect_scene_row", height), ("detect_scene_column", width)):
        outside = table[column].astype(float) > size - 1
        if outside.any():
            first = int(np.flatnonzero(outside.to_numpy())[0])
            scene = table["scene_id"].iloc[first]
            raise _where(source, column, outside, table[column],
                         f"lies outside scene {scene} ({shapes[scene][0]} x {shapes[scene][1]} pixels)")


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
    """An error naming the first offending row (1-based data row, and its line in a CSV) and its value
    (as written in a text table, as ``str`` gives it in a typed one)."""
    first = int(np.flatnonzero(mask.to_numpy())[0])
    count = int(mask.sum())
    more = f" ({count - 1} more row(s) like it)" if count > 1 else ""
    line = f" (line {first + 2})" if source.lower().endswith(".csv") else ""
    return LabelError(f"{source}: row {first + 1}{line}, column {column}: {str(values.iloc[first])!r} {problem}{more}")


def _check_not_blank(values: pd.Series, source: str, column: str) -> None:
    blank = _per_value(values, lambda text: text.str.lower().isin(_BLANK_TEXT))
    if blank.any():
        raise _where(source, column, blank, values, "is blank or NaN; a value is required")


def _check_scene_id(values: pd.Series, source: str) -> None:
    """A scene id names files (``<scene_id>_shoreline.npy``, ``PREP_DIR/<scene_id>/``): no path in it."""
    bad = _per_value(values, lambda text: text.str.contains(r"[/\\\x00]", regex=True) | text.isin([".", ".."]))
    if bad.any():
        raise _where(source, "scene_id", bad, values, "is not a scene id (it would name a path)")


def _numeric(values: pd.Series, source: str, column: str) -> pd.Series:
    blank = values.str.lower().isin(_BLANK_TEXT)
    numbers = pd.to_numeric(values.where(~blank), errors="coerce")
    bad = numbers.isna() & ~blank
    if bad.any():
        raise _where(source, column, bad, values, "is not a number")
    _check_range(numbers, ~blank, values, source, column)
    return numbers


def _check_range(numbers: pd.Series, given: pd.Series, shown: pd.Series, source: str, column: str) -> None:
    """The ``given`` values of a numeric column must be finite and within :data:`VALUE_RANGES`."""
    infinite = given & ~np.isfinite(numbers.to_numpy(dtype=np.float64, na_value=0.0))
    if infinite.any():
        raise _where(source, column, infinite, shown, "is not a finite number")
    low, high = VALUE_RANGES.get(column, (-np.inf, np.inf))
    outside = given & ((numbers < low) | (numbers > high))
    if outside.any():
        span = f"at least {low:g}" if high == np.inf else f"from {low:g} to {high:g}"
        raise _where(source, column, outside, shown, f"is out of range (must be {span})")


def _boolean(values: pd.Series, source: str, column: str) -> pd.Series:
    true = _per_value(values, lambda text: text.str.lower().isin(_TRUE_TEXT))
    false = _per_value(values, lambda text: text.str.lower().isin(_FALSE_TEXT))
    known = true | false | _per_value(values, lambda text: text.str.lower().isin(_BLANK_TEXT))
    if not known.all():
        raise _where(source, column, ~known, values, "is not a boolean (True/False/blank)")
    parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
    parsed[true] = True
    parsed[false] = False
    return parsed


def _check_confidence(values: pd.Series, source: str) -> None:
    bad = ~_per_value(values, lambda text: text.isin(CONFIDENCE_LEVELS))
    if bad.any():
        raise _where(source, "confidence", bad, values, f"is not one of {'/'.join(CONFIDENCE_LEVELS)}")
