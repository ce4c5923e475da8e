"""Which files in an output folder a command made, so that a rerun replaces those and nothing else.

A command that writes many files into one folder (``xtgeo synth OUT``, ``xtgeo demo --out DIR``)
records them in ``<folder>/.xtgeo-made.json``, each with its size and modification time. Asked to
start over (``--overwrite``, a demo rerun), it first checks that no file it is about to write would
land on a file that is not its own, unchanged; then it removes exactly its own unchanged files (and
the folders that this leaves empty). A file that the user added, or replaced or edited since, is
never touched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from xtgeo.atomic import atomic_path
from xtgeo.errors import OutputError

MANIFEST = ".xtgeo-made.json"


def _record(folder: str | os.PathLike, command: str) -> dict | None:
    """``command``'s record in ``folder`` (relative path → [size, mtime_ns]); None without one."""
    try:
        record = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("command") != command or not isinstance(record.get("files"), dict):
        return None
    return {name: stamp for name, stamp in record["files"].items() if _is_relative(name)}


def _is_relative(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def _stamp(path: Path) -> list[int]:
    stat = path.lstat()
    return [stat.st_size, stat.st_mtime_ns]


def is_made_by(folder: str | os.PathLike, command: str) -> bool:
    """True when ``folder`` holds ``command``'s record of what it made there."""
    return _record(folder, command) is not None


def _is_own(folder: Path, record: dict, path: Path) -> bool:
    """``path`` is a file ``command`` recorded and nobody has changed since, inside ``folder`` itself
    (not reached through a link: a record never reaches outside the folder)."""
    stamp = record.get(path.relative_to(folder).as_posix())
    return (stamp is not None and path.is_file() and not path.is_symlink()
            and path.resolve().is_relative_to(folder.resolve()) and _stamp(path) == stamp)


def record_made(folder: str | os.PathLike, command: str, paths: Iterable[str | os.PathLike] = ()) -> None:
    """Add ``paths`` (files inside ``folder``, as they are now) to ``command``'s record of what it made
    there (with none, start the record)."""
    folder = Path(folder)
    record = _record(folder, command) or {}
    record.update({Path(p).relative_to(folder).as_posix(): _stamp(Path(p)) for p in paths})
    with atomic_path(folder / MANIFEST) as tmp:
        tmp.write_text(json.dumps({"command": command, "files": dict(sorted(record.items()))}, indent=1) + "\n")


def check_nothing_foreign(folder: str | os.PathLike, command: str, planned: Iterable[str | os.PathLike]) -> None:
    """OutputError naming the first file at a ``planned`` output (a file, or anything in a planned
    folder) that is not ``command``'s own, unchanged: writing there would replace the user's data."""
    folder = Path(folder)
    record = _record(folder, command) or {}
    for path in map(Path, planned):
        if not (path.exists() or path.is_symlink()):
            continue
        is_folder = path.is_dir() and not path.is_symlink()
        inside = sorted(p for p in path.rglob("*") if not p.is_dir()) if is_folder else [path]
        for item in inside:
            if not _is_own(folder, record, item):
                raise OutputError(f"{item}: was not written by xtgeo {command} (or was changed since); will not "
                                  f"replace it (move it away or choose another folder)")


def remove_made(folder: str | os.PathLike, command: str) -> None:
    """Remove ``command``'s own unchanged files in ``folder`` and its record, then the folders that
    leaves empty; nothing else."""
    folder = Path(folder)
    record = _record(folder, command)
    if record is None:
        return
    parents: set[Path] = set()
    for name in record:
        path = folder / name
        if _is_own(folder, record, path):
            path.unlink()
            parents.update(p for p in path.parents if p != folder and p.is_relative_to(folder))
    for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        try:
            parent.rmdir()
        except OSError:
            pass  # not empty: it holds something else
    (folder / MANIFEST).unlink(missing_ok=True)


def files_under(folder: str | os.PathLike) -> set[Path]:
    """Every file (not folder) under ``folder``."""
    return {p for p in Path(folder).rglob("*") if not p.is_dir()}
