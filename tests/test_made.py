"""What a command made: removed on request, never a file reached through a link out of the folder."""

from __future__ import annotations

import json

from xtgeo.made import MANIFEST, record_made, remove_made


def test_remove_made_removes_own_files_but_never_follows_a_linked_folder(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / "own").mkdir(parents=True)
    elsewhere.mkdir()
    own, theirs = out / "own" / "a.txt", elsewhere / "b.txt"
    own.write_text("made")
    theirs.write_text("the user's")
    record_made(out, "xtgeo synth", [own])
    (out / "linked").symlink_to(elsewhere, target_is_directory=True)
    manifest = json.loads((out / MANIFEST).read_text())  # a record naming the user's file through the link
    stat = theirs.stat()
    manifest["files"]["linked/b.txt"] = [stat.st_size, stat.st_mtime_ns]
    (out / MANIFEST).write_text(json.dumps(manifest))

    remove_made(out, "xtgeo synth")
    assert not own.exists() and theirs.read_text() == "the user's"
    assert not (out / MANIFEST).exists()
