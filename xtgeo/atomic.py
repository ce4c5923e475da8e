"""Atomic outputs: write to a temporary name beside the destination, rename when complete.

A reader never sees a half-written file: either the old file (or none) or the finished one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

TMP_MARK = ".tmp-"


def temporary_sibling(dest: str | os.PathLike) -> Path:
    """A unique temporary path in the destination's folder, keeping its suffix (drivers need it)."""
    dest = Path(dest)
    return dest.with_name(f"{TMP_MARK}{uuid.uuid4().hex[:8]}-{dest.name}")


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write to; on success rename it onto ``dest``, on error remove it.

    Works for files and for folders (the temporary folder is renamed whole).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(dest)
    try:
        yield tmp
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def is_temporary(path: str | os.PathLike) -> bool:
    """True for a name made by :func:`temporary_sibling` (left behind only by a killed process)."""
    return Path(path).name.startswith(TMP_MARK)
