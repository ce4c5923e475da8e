"""The demo's folder handling: reruns start afresh, foreign folders are never touched."""

import pytest

from pipelines.demo import MARKER, fresh_demo_folder
from xtgeo.errors import XtgeoError


def test_rerun_replaces_a_folder_the_demo_made(tmp_path):
    out = tmp_path / "demo"
    fresh_demo_folder(out)
    (out / "run").mkdir()
    fresh_demo_folder(out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER]


def test_a_foreign_non_empty_folder_is_refused_and_left_alone(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(XtgeoError, match="not made by `xtgeo demo`"):
        fresh_demo_folder(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    assert not (tmp_path / MARKER).exists()


def test_an_empty_folder_is_taken(tmp_path):
    fresh_demo_folder(tmp_path)
    assert (tmp_path / MARKER).is_file()
