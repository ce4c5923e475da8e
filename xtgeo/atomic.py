"""Outputs: checked before any work, written to a temporary name beside the destination, renamed
when complete.

The rules every command relies on:

- A reader never sees a half-written output: either the old one (or none) or the finished one.
- Nothing that stands where an output goes is deleted. A file output in place of a folder is an
  error; a folder output replaces an existing folder only when that folder holds nothing but files
  of the names the command itself writes there (``own``); anything else is an error that names it.
- An output is never one of the command's own inputs, nor (for folder outputs) inside or around one
  (:func:`check_output`, called by every command before it starts working).
- A write that fails because of the place (read-only, full disk, a file where a folder should be)
  is an :class:`~xtgeo.errors.OutputError` naming the destination, and its temporary is removed.
- Temporaries are named ``.tmp-<pid>-<random>-<name>``; those whose process is gone (killed) are
  removed by the next write to the same destination, or by :func:`remove_stale_temporaries`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import uuid
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from xtgeo.errors import WRITE_ERRNOS, OutputError, reason

TMP_MARK = ".tmp-"


def temporary_sibling(dest: str | os.PathLike) -> Path:
    """A unique temporary path in the destination's folder, keeping its suffix (drivers need it)."""
    dest = Path(dest)
    return dest.with_name(f"{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}-{dest.name}")


def is_temporary(path: str | os.PathLike) -> bool:
    """True for a name made by :func:`temporary_sibling`."""
    return Path(path).name.startswith(TMP_MARK)


#: ``.tmp-<pid>-<8 hex>-<destination name>``; names of older versions lack the pid.
_TEMPORARY = re.compile(r"^\.tmp-(?:(\d+)-)?[0-9a-f]{8}-(.+)$")


def _writer_pid(path: Path) -> int | None:
    match = _TEMPORARY.match(path.name)
    return int(match.group(1)) if match and match.group(1) else None


def _destination_name(path: Path) -> str | None:
    match = _TEMPORARY.match(path.name)
    return match.group(2) if match else None


def is_stale(path: str | os.PathLike) -> bool:
    """True for a temporary whose writing process is gone (killed), so that no one will finish it.

    The process is looked up on this host by the pid in the name; a pid now used by a process
    started after the temporary was last written is another process. Names without a pid (older
    versions) are stale.
    """
    import psutil

    path = Path(path)
    pid = _writer_pid(path)
    if pid is None:
        return True
    if pid == os.getpid():
        return False
    try:
        started = psutil.Process(pid).create_time()
        modified = path.lstat().st_mtime
    except (psutil.NoSuchProcess, FileNotFoundError):
        return True
    except psutil.Error:
        return False  # a process we may not inspect: assume it is the writer
    return started > modified + 1.0


def remove_stale_temporaries(folder: str | os.PathLike, names: Iterable[str] | None = None) -> list[Path]:
    """Remove the stale temporaries (:func:`is_stale`) in ``folder``, only those of the destination
    ``names`` when given; returns what was removed. Nothing but such temporaries is touched."""
    folder = Path(folder)
    wanted = None if names is None else set(names)
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for path in folder.iterdir():
            if not is_temporary(path) or (wanted is not None and _destination_name(path) not in wanted):
                continue
            if is_stale(path):
                _remove_temporary(path)
                removed.append(path)
    return removed


def _remove_temporary(path: Path) -> None:
    """Remove a temporary; best effort (on a read-only or vanished file system there is nothing to do)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _inside(path: Path, other: Path) -> bool:
    return path == other or path.is_relative_to(other)


def check_output(
    path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = (), *, folder: bool = False,
    flag: str = "",
) -> Path:
    """Fail early (OutputError naming ``path``) unless an output can be written at ``path``.

    A file output (``folder=False``) may not be an existing folder nor the same file as an input;
    a folder output may not be an existing file, nor equal, lie inside or hold an input. The
    nearest existing ancestor must be a folder this process may write to. ``flag`` (e.g.
    ``--json``) is named in the message.
    """
    path = Path(path)
    name = f"{flag} {path}" if flag else str(path)
    if path.is_dir() and not folder:
        raise OutputError(f"{name}: is a folder; give a file name (nothing was written or removed)")
    if path.exists() and not path.is_dir() and folder:
        raise OutputError(f"{name}: is a file; give a folder")
    target = path.resolve()
    for given in inputs:
        if given is None:
            continue
        source = Path(given).resolve()
        if target == source or (path.exists() and Path(given).exists() and os.path.samefile(path, given)):
            raise OutputError(f"{name}: is also an input of this command ({given}); choose another output")
        if folder and _inside(target, source):
            raise OutputError(f"{name}: lies inside the input {given}; choose an output outside the inputs")
        if folder and _inside(source, target):
            raise OutputError(f"{name}: holds the input {given}; choose an output outside the inputs")
    ancestor = next((p for p in [path.absolute(), *path.absolute().parents] if p.exists()), None)
    if ancestor is not None and ancestor != path.absolute() and not ancestor.is_dir():
        raise OutputError(f"{name}: cannot write here ({ancestor} is a file, not a folder)")
    writable_in = ancestor if ancestor != path.absolute() else path.absolute().parent
    if ancestor is None or not os.access(writable_in, os.W_OK | os.X_OK):
        raise OutputError(f"{name}: cannot write here ({writable_in} is not a writable folder)")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"{name}: exists and is not writable")
    return path


def make_folder(path: str | os.PathLike) -> Path:
    """``mkdir -p``; an OutputError naming ``path`` when the place does not allow it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{path}: cannot make this folder ({reason(err)})") from None
    return path


def check_distinct(*paths: str | os.PathLike | None) -> None:
    """Fail (OutputError) if two outputs of one command are the same path."""
    seen: dict[Path, Path] = {}
    for path in paths:
        if path is None:
            continue
        key = Path(path).resolve()
        if key in seen:
            raise OutputError(f"{path}: given for two outputs ({seen[key]} too); give each its own path")
        seen[key] = Path(path)


def _foreign(folder: Path, own: Collection[str]) -> list[Path]:
    """Entries of an existing ``folder`` that are not files of the ``own`` names."""
    return sorted(p for p in folder.iterdir() if p.name not in own or p.is_dir() or p.is_symlink())


def check_replaceable(dest: str | os.PathLike, own: Collection[str] = ()) -> None:
    """Fail (OutputError) if something stands at ``dest`` that an atomic write may not replace:
    a folder, unless it holds only files of the ``own`` names (an output this command made)."""
    dest = Path(dest)
    if not dest.is_dir():
        return
    if dest.is_symlink() or not own:
        raise OutputError(f"{dest}: is a folder; will not replace it with a file (nothing was removed)")
    foreign = _foreign(dest, own)
    if foreign:
        raise OutputError(
            f"{dest}: holds {foreign[0].name!r}, which xtgeo did not write there; will not replace "
            f"this folder (move that out of it or choose another output)"
        )


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, own: Collection[str] = ()) -> Iterator[Path]:
    """Yield a temporary path to write to; on success rename it onto ``dest``, on error remove it.

    Works for files and for folders (the temporary folder is renamed whole); an existing device or
    FIFO (``/dev/null``, ``/dev/stdout``) is written to directly. An existing folder at
    ``dest`` is replaced only when it holds nothing but files named in ``own`` (see the module
    doc); it is checked before the yield and again before the rename. Stale temporaries of the
    same destination are removed first. Write failures caused by the place (full disk, read-only)
    become :class:`~xtgeo.errors.OutputError` naming ``dest``.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_file() and not dest.is_dir():  # /dev/null, /dev/stdout, a FIFO:
        yield dest  # write through it; renaming a file over it would replace the device itself
        return
    check_replaceable(dest, own)
    make_folder(dest.parent)
    remove_stale_temporaries(dest.parent, [dest.name])
    tmp = temporary_sibling(dest)
    try:
        yield tmp
        _rename_into_place(tmp, dest, own)
    except BaseException as err:
        _remove_temporary(tmp)
        if isinstance(err, OSError) and (err.errno in WRITE_ERRNOS or _names(err, tmp)):
            raise OutputError(f"{dest}: cannot write ({reason(err)})") from None
        raise


def write_failure(dest: str | os.PathLike, err: BaseException) -> OutputError:
    """An OutputError naming ``dest`` for a writer's failure (GDAL, pyarrow and the like hide the
    OS error behind their own text, so a nearly full file system is said so)."""
    text = reason(err)
    with contextlib.suppress(OSError):
        free = shutil.disk_usage(Path(dest).absolute().parent).free
        if free < 2**20:
            text = f"no space left on device: {free} bytes free; {text}"
    return OutputError(f"{dest}: cannot write ({text})")


def _names(err: OSError, tmp: Path) -> bool:
    """True when the OS error is about the temporary itself (or a file inside a temporary folder)."""
    return any(f is not None and _inside(Path(os.fsdecode(f)), tmp) for f in (err.filename, err.filename2))


def _rename_into_place(tmp: Path, dest: Path, own: Collection[str]) -> None:
    """``os.replace``, except that an existing folder of ``own`` files is first moved aside, then
    its files (and only they) are removed once the new output is in place."""
    if not (dest.is_dir() and not dest.is_symlink()):
        os.replace(tmp, dest)
        return
    check_replaceable(dest, own)
    old = temporary_sibling(dest)
    os.replace(dest, old)
    try:
        os.replace(tmp, dest)
    except BaseException:
        os.replace(old, dest)
        raise
    for name in own:
        (old / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # a file that appeared meanwhile keeps its folder
        old.rmdir()


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float (not JSON) replaced by None (``null``), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def write_json(dest: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented, valid JSON (NaN as ``null``: :func:`json_safe`), atomically."""
    dest = Path(dest)
    with atomic_path(dest) as tmp:
        tmp.write_text(json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")
    return dest
