"""The demo's folder handling: a rerun replaces what the demo made, nothing else; foreign folders
are never touched."""

import pytest

from pipelines.demo import COMMAND, fresh_demo_folder
from xtgeo.errors import XtgeoError
from xtgeo.made import files_under, record_made


def test_rerun_replaces_what_the_demo_made_and_keeps_the_rest(tmp_path):
    out = tmp_path / "demo"
    fresh_demo_folder(out)
    made = [out / "run" / "checkpoints" / "last.pt", out / "detections.csv"]
    for path in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("made by the demo")
    record_made(out, COMMAND, made)
    (out / "run" / "my notes.txt").write_text("keep me")  # put there by the user afterwards
    fresh_demo_folder(out)
    assert {p.relative_to(out).as_posix() for p in files_under(out)} == {".xtgeo-made.json", "run/my notes.txt"}
    assert (out / "run" / "my notes.txt").read_text() == "keep me"
    assert not (out / "run" / "checkpoints").exists()  # emptied, so removed


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_foreign_non_empty_folder_is_refused_and_left_alone(tmp_path, what):
    precious = tmp_path / "precious"
    if what == "folder":
        (precious / "inner").mkdir(parents=True)
    else:
        precious.write_text("keep me")
    with pytest.raises(XtgeoError, match="not made by `xtgeo demo`"):
        fresh_demo_folder(tmp_path)
    assert precious.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious"]


def test_an_empty_folder_is_taken_and_a_file_is_refused(tmp_path):
    fresh_demo_folder(tmp_path / "empty")
    assert (tmp_path / "empty" / ".xtgeo-made.json").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(XtgeoError, match="is a file"):
        fresh_demo_folder(tmp_path / "file")
