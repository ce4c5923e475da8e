"""Outputs never delete what stands in their place, never overwrite an input, fail on one line
naming the path when the place cannot take them, and clean only their own stale temporaries."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.hostile import run_on_small_disk
from xtgeo.atomic import (
    atomic_path,
    check_distinct,
    check_output,
    is_temporary,
    remove_stale_temporaries,
    temporary_sibling,
)
from xtgeo.errors import OutputError


def _tree(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_where_a_file_goes_is_never_deleted(tmp_path):
    folder = tmp_path / "score.json"
    (folder / "inner").mkdir(parents=True)
    (folder / "inner" / "precious.txt").write_text("keep me")
    for own in ((), ("precious.txt",)):
        with pytest.raises(OutputError, match="score.json: "), atomic_path(folder, own=own) as tmp:
            tmp.write_text("{}")
    assert _tree(tmp_path) == {"score.json/inner/precious.txt": "keep me"}
    link = tmp_path / "link.json"
    link.symlink_to(folder)
    with pytest.raises(OutputError, match="is a folder"), atomic_path(link) as tmp:
        tmp.write_text("{}")
    assert _tree(folder) == {"inner/precious.txt": "keep me"}


def test_a_folder_output_replaces_only_a_folder_of_its_own_files(tmp_path):
    dest = tmp_path / "scene"
    dest.mkdir()
    (dest / "scene.tif").write_text("old")
    with atomic_path(dest, own=("scene.tif", "meta.json")) as tmp:
        tmp.mkdir()
        (tmp / "scene.tif").write_text("new")
    assert _tree(tmp_path) == {"scene/scene.tif": "new"}
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="holds 'notes.txt', which xtgeo did not write"):
        with atomic_path(dest, own=("scene.tif", "meta.json")) as tmp:
            tmp.mkdir()
    assert _tree(tmp_path) == {"scene/notes.txt": "mine", "scene/scene.tif": "new"}


def test_outputs_that_are_inputs_or_hold_them_are_refused(tmp_path, monkeypatch):
    labels = tmp_path / "labels.csv"
    labels.write_text("a,b\n")
    (tmp_path / "link.csv").symlink_to(labels)
    os.link(labels, tmp_path / "hard.csv")
    scenes = tmp_path / "scenes"
    (scenes / "s1").mkdir(parents=True)
    cases = [
        (dict(path=labels, inputs=[labels]), "is also an input"),
        (dict(path=tmp_path / "link.csv", inputs=[labels]), "is also an input"),
        (dict(path=tmp_path / "hard.csv", inputs=[labels]), "is also an input"),
        (dict(path=tmp_path / "." / "labels.csv", inputs=["labels.csv"]), None),  # relative input: elsewhere
        (dict(path=scenes, inputs=[scenes], folder=True), "is also an input"),
        (dict(path=scenes / "s1" / "out", inputs=[scenes], folder=True), "lies inside the input"),
        (dict(path=tmp_path, inputs=[scenes], folder=True), "holds the input"),
        (dict(path=scenes, folder=False), "is a folder"),
        (dict(path=labels, folder=True), "is a file; give a folder"),
        (dict(path=labels / "x.json"), "is a file, not a folder"),
    ]
    for kwargs, problem in cases:
        if problem is None:
            monkeypatch.chdir(scenes)
            check_output(**kwargs)
            continue
        with pytest.raises(OutputError, match=problem):
            check_output(**kwargs)
    with pytest.raises(OutputError, match="given for two outputs"):
        check_distinct(tmp_path / "a.json", None, tmp_path / "." / "a.json")
    assert labels.read_text() == "a,b\n"


def test_stale_temporaries_of_the_destination_are_removed_and_nothing_else(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = [tmp_path / f".tmp-{dead_pid}-0000abcd-det.csv", tmp_path / ".tmp-deadbeef-det.csv"]
    (tmp_path / f".tmp-{dead_pid}-0000abcd-folder.csv").mkdir()
    kept = [temporary_sibling(tmp_path / "det.csv"),  # this process's own: still being written
            tmp_path / f".tmp-{dead_pid}-0000abcd-other.csv",  # another destination's
            tmp_path / "det.csv.tmp-1", tmp_path / "notes.txt"]  # not temporaries at all
    for path in stale + kept:
        path.write_text("x")
    with atomic_path(tmp_path / "det.csv") as tmp:
        tmp.write_text("new")
    assert all(not p.exists() for p in stale)
    assert all(p.exists() for p in kept) and (tmp_path / "det.csv").read_text() == "new"
    assert (tmp_path / f".tmp-{dead_pid}-0000abcd-folder.csv").exists()  # another destination
    removed = remove_stale_temporaries(tmp_path)
    assert {p.name for p in removed} == {f".tmp-{dead_pid}-0000abcd-other.csv", f".tmp-{dead_pid}-0000abcd-folder.csv"}
    assert sorted(p.name for p in tmp_path.iterdir() if is_temporary(p)) == [kept[0].name]


@pytest.mark.parametrize("read_only", [False, True], ids=["full-disk", "read-only"])
def test_a_full_or_read_only_disk_is_one_line_naming_the_path(tmp_path, read_only):
    mount = tmp_path / "small"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from xtgeo.atomic import atomic_path\n"
        "from xtgeo.errors import OutputError\n"
        f"dest = Path({str(mount / 'out.bin')!r})\n"
        "try:\n"
        "    with atomic_path(dest) as tmp:\n"
        "        tmp.write_bytes(bytes(1 << 20))\n"
        "except OutputError as err:\n"
        "    print(err)\n"
        "print(sorted(p.name for p in dest.parent.iterdir()))\n"
    )
    done = run_on_small_disk("64k", mount, [sys.executable, "-c", script], read_only=read_only)
    reason = "Read-only file system" if read_only else "No space left on device"
    assert done.stdout.splitlines() == [f"{mount / 'out.bin'}: cannot write ({reason})", "[]"], done.stderr


def test_a_device_or_fifo_is_written_through_never_replaced(tmp_path):
    """``--json /dev/stdout`` or a named pipe: renaming a file over it would replace the device itself."""
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    with atomic_path(fifo) as tmp:
        assert tmp == fifo
        tmp.write_text('{"aggregate": 0.5}\n')
    reader.join(timeout=10)
    assert received == ['{"aggregate": 0.5}\n'] and stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]
