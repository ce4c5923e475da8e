"""Shoreline ``.npy`` files are pickles: reading one never runs code, and anything that is not an
object array of (N, 2) integer contours is a one-line error naming the file."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hostile import object_array, poisoned_shorelines
from xtgeo.errors import SceneError
from xtgeo.scene.shoreline import read_shoreline, write_shoreline


def test_the_poisoned_files_do_run_code_when_loaded_naively(tmp_path):
    """The control: what the reader refuses below would have run with ``np.load(allow_pickle=True)``."""
    for name, path in poisoned_shorelines(tmp_path / "shore", tmp_path / "marker").items():
        (tmp_path / "marker").unlink(missing_ok=True)
        try:
            np.load(path, allow_pickle=True)
        except Exception:  # noqa: BLE001 - some payloads return None, which numpy then rejects
            pass
        assert (tmp_path / "marker").exists(), name


def test_poisoned_files_cannot_run_code(tmp_path):
    marker = tmp_path / "marker"
    for name, path in poisoned_shorelines(tmp_path / "shore", marker).items():
        with pytest.raises(SceneError) as err:
            read_shoreline(path)
        message = str(err.value)
        assert message.startswith(f"{path}: not an official shoreline file"), name
        assert "\n" not in message
        assert not marker.exists(), f"{name} ran code"


def test_official_format_round_trips(tmp_path):
    contours = [np.array([[0, 1], [2, 3], [4, 5]], dtype=np.int32), np.zeros((0, 2), dtype=np.int64),
                np.array([[7, 8]], dtype=np.int64)]
    ours = write_shoreline(tmp_path / "a_shoreline.npy", contours)
    official = tmp_path / "b_shoreline.npy"  # as the xView3 files were made: np.save of an object array
    np.save(official, object_array(*contours), allow_pickle=True)
    for path in (ours, official):
        back = read_shoreline(path)
        assert len(back) == len(contours)
        for got, want in zip(back, contours):
            np.testing.assert_array_equal(got, want.reshape(-1, 2))
    assert read_shoreline(write_shoreline(tmp_path / "none_shoreline.npy", [])) == []


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.write_bytes(b""), "not an official shoreline file"),
        (lambda p: p.write_text("detect_lat,detect_lon\n1,2\n"), "magic string"),
        (lambda p: np.save(p, np.zeros((5, 2), dtype=np.int32)), "holds a int32 array"),
        (lambda p: np.save(p, object_array("a", "b"), allow_pickle=True), "contour 0 is a str"),
        (lambda p: np.save(p, object_array(np.zeros((3, 3), np.int32)), allow_pickle=True),
         "contour 0 is a int32 array of shape (3, 3)"),
        (lambda p: np.save(p, object_array(np.zeros((3, 2), np.float64)), allow_pickle=True),
         "contour 0 is a float64 array"),
        (lambda p: np.save(p, object_array({"a": 1}), allow_pickle=True), "contour 0 is a dict"),
    ],
    ids=["empty", "csv", "int-array", "strings", "3-columns", "floats", "dict"],
)
def test_files_that_are_not_shorelines_are_one_line_errors(tmp_path, make, problem):
    path = tmp_path / "x_shoreline.npy"
    make(path)
    with pytest.raises(SceneError, match=str(path)) as err:
        read_shoreline(path)
    assert problem in str(err.value)
    assert "\n" not in str(err.value)


def test_truncated_file_is_a_one_line_error(tmp_path):
    path = write_shoreline(tmp_path / "t_shoreline.npy", [np.arange(200, dtype=np.int32).reshape(-1, 2)] * 3)
    data = path.read_bytes()
    for keep in (10, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:keep])
        with pytest.raises(SceneError, match=f"{path}: not an official shoreline file"):
            read_shoreline(path)
