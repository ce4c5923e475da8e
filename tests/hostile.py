"""Hostile and careless inputs for the safety tests: poisoned pickles and the like, made at test time."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np


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
