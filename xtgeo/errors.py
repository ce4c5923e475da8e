"""Exception types that the CLI turns into one-line errors with a non-zero exit, and the helpers
that turn a library's exception (rasterio, the OS, pickle) into one of them, naming the file."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class XtgeoError(Exception):
    """Base class for every error that is the user's input, not a bug: shown as one line."""


class SceneError(XtgeoError):
    """A scene folder or GeoTIFF that cannot be used; the message names the file and the problem."""


class LabelError(XtgeoError):
    """A label or prediction file that breaks the xView3 schema; names the file, row and column."""


class ConfigError(XtgeoError):
    """A configuration with an unknown key, a wrong type or a bad value; names the key."""


class OutputError(XtgeoError):
    """An output that may not or cannot be written (a folder or an input in its place, a read-only
    place, a full disk); names the path."""


class XtgeoWarning(UserWarning):
    """Input that is possible but suspicious (the user may mean it): shown as one ``warning:`` line."""


def one_line(err: BaseException) -> str:
    """An XtgeoError's message as one line. torch's DataLoader and ``torch.multiprocessing`` re-raise
    a worker's error with the worker's traceback in the message; its last line is the error itself."""
    lines = str(err).strip().splitlines()
    if len(lines) <= 1:
        return lines[0] if lines else type(err).__name__
    last = lines[-1]
    if last.startswith("xtgeo.errors.") and ": " in last:
        return last.split(": ", 1)[1]
    return " ".join(" ".join(lines).split())


#: Messages that say only "look at the exception before me" (rasterio wraps GDAL's error so).
_SEE_PREVIOUS = ("see previous exception", "read failed.", "write failed.")


def reason(err: BaseException) -> str:
    """One line saying what went wrong, without the path: an OSError's ``strerror``, the GDAL
    message behind rasterio's "Read failed. See previous exception", else the first line."""
    seen: set[int] = set()
    while id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.strerror and not _is_rasterio(err):
            return err.strerror
        text = " ".join(str(err).split())
        inner = err.__cause__ or err.__context__
        if text and not (inner is not None and any(s in text.lower() for s in _SEE_PREVIOUS)):
            return text
        if inner is None:
            return text or type(err).__name__
        err = inner
    return type(err).__name__


def _is_rasterio(err: BaseException) -> bool:
    return type(err).__module__.startswith("rasterio")


#: errno values that mean "this place cannot take the output" rather than "the input is bad".
WRITE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EISDIR,
     errno.ENOTDIR, errno.EEXIST, errno.ENOTEMPTY, errno.ENAMETOOLONG, errno.EXDEV}
)


@contextlib.contextmanager
def file_errors(
    path: str | os.PathLike, what: str = "cannot read", error: type[XtgeoError] = SceneError
) -> Iterator[None]:
    """Turn an OS or rasterio error raised inside into ``error("<path>: <what> (<reason>)")``, so that
    the error (in this process or a Dask worker) names the file."""
    from rasterio.errors import RasterioError

    try:
        yield
    except (RasterioError, OSError) as err:
        raise error(f"{path}: {what} ({reason(err)})") from None


def worker_task(function: Callable[P, R]) -> Callable[P, R]:
    """For functions that Dask runs in workers: an XtgeoError leaves without the exceptions chained to
    it. Dask pickles the chain, and a library's exception in it (rasterio's) may not come back, which
    turns the error into a bare ``Exception`` holding only its repr."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except XtgeoError as err:
            err.__context__ = err.__cause__ = None
            raise

    return run


def error_text(err: BaseException) -> str:
    """One line for a job that failed (a scene, a task): an XtgeoError's message (it names the file),
    else the exception's type and :func:`reason` (which looks behind rasterio's "Read failed")."""
    return one_line(err) if isinstance(err, XtgeoError) else f"{type(err).__name__}: {reason(err)}"
