"""Hostile and careless inputs for the safety tests: poisoned pickles and the like, made at test time."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.paths import REPO


class RunsCode:
    """An object whose unpickling calls ``function(*args)``: the classic poisoned pickle."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def object_array(*items) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        array[i] = item
    return array


def payloads(marker: Path) -> dict[str, RunsCode]:
    """Ways a pickle can run code; each creates ``marker``."""
    return {
        "os.system": RunsCode(os.system, f"touch {marker}"),
        "eval": RunsCode(eval, f"open({str(marker)!r}, 'w').close()"),
        "exec": RunsCode(exec, f"open({str(marker)!r}, 'w').close()"),
        "pathlib": RunsCode(Path.touch, marker),
    }


def poison_shoreline(path: Path, marker: Path, how: str = "os.system") -> Path:
    """An official-looking shoreline file (object array of contours) with a payload among them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, object_array(np.array([[1, 2], [3, 4]], dtype=np.int32), payloads(marker)[how]), allow_pickle=True)
    return path


def poisoned_shorelines(folder: Path, marker: Path) -> dict[str, Path]:
    """Shoreline files that would create ``marker`` if they were unpickled freely, by name."""
    files = {how: poison_shoreline(folder / f"{how}_shoreline.npy", marker, how) for how in payloads(marker)}
    # hidden one level down: an object array inside the object array
    files["nested"] = folder / "nested_shoreline.npy"
    inner = object_array(payloads(marker)["os.system"])
    np.save(files["nested"], object_array(np.zeros((1, 2), np.int32), inner), allow_pickle=True)
    # a bare pickle with a .npy name (no numpy header at all)
    files["bare pickle"] = folder / "bare_shoreline.npy"
    files["bare pickle"].write_bytes(pickle.dumps(payloads(marker)["eval"]))
    return files


def run_on_small_disk(size: str, mount: Path, argv: list[str], read_only: bool = False,
                      full: bool = False) -> subprocess.CompletedProcess:
    """Run ``argv`` with a tmpfs of ``size`` (e.g. ``"64k"``) mounted at ``mount`` (read-only, or already
    full, if asked), in a user and mount namespace of its own (``unshare -rm``: no root needed,
    nothing changes outside it). Skips the test where the system does not allow such namespaces."""
    mount.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    fill = 'head -c 1G /dev/zero > "$1/.fill" 2>/dev/null; ' if full else ""
    script = f'mount -t tmpfs -o {options} tmpfs "$1" || exit 99; {fill}shift; exec "$@"'
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) here to mount a small file system")
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", str(mount), *argv],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=600)
    if done.returncode == 99 or "unshare failed" in done.stderr:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.strip()}")
    return done


def xtgeo_command(*args: object) -> list[str]:
    """The ``xtgeo`` command line, run by this Python on this checkout."""
    return [sys.executable, "-c", "import cli; cli.main()", *map(str, args)]


def corrupt_tile(tif: Path, tile_row: int, tile_col: int = 0) -> None:
    """Overwrite the middle of one compressed tile of a tiled GeoTIFF with noise: the file still opens
    and every other tile reads, but that one fails to decode (as a damaged download would)."""
    import tifffile

    with tifffile.TiffFile(tif) as tiff:
        page = tiff.pages.first
        across = -(-page.imagewidth // page.tilewidth)
        index = tile_row * across + tile_col
        offset, count = page.dataoffsets[index], page.databytecounts[index]
    with open(tif, "r+b") as f:
        f.seek(offset + 8)
        f.write(np.random.default_rng(0).integers(0, 256, count - 16, dtype=np.uint8).tobytes())
