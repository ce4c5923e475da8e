"""Training checkpoints and where a run keeps them: written atomically, read with
``torch.load(weights_only=True)``.

A run folder holds ``checkpoints/last.pt``, ``checkpoints/step_NNNNNN.pt`` (:func:`checkpoint_path`)
and, once validation has scores, ``checkpoints/best.pt`` (:func:`best_checkpoint_path`).

A checkpoint is a dict of tensors and plain Python values only (``model``, ``optimizer``,
``scheduler``, ``step``, ``rng``, ``config``, ``xtgeo_version``; ``best``: the best validation so
far, ``{"metric", "value", "step"}``; ``calibration``: the thresholds calibrated at its step, see
:mod:`xtgeo.train.calibrate`), so loading one can never run code.
"""

from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xtgeo.atomic import atomic_path, write_failure
from xtgeo.errors import XtgeoError

CHECKPOINT_DIR = "checkpoints"
LAST = "last.pt"
BEST = "best.pt"
#: Config overrides for a model whose weights come from a checkpoint: no pretrained backbone file is
#: read (a resumed run or a prediction needs neither the file nor the folder it was in).
WEIGHTS_FROM_CHECKPOINT = ("model.region_encoder.pretrained_file=null",)
#: Checkpoint entry of a threshold calibration (:mod:`xtgeo.train.calibrate`) and the thresholds it sets,
#: named as in the config's ``postprocess`` section.
CALIBRATION = "calibration"
THRESHOLD_KEYS = ("center_threshold", "vessel_threshold", "fishing_threshold")
CONFIG_FILE = "config.yaml"


def checkpoint_path(run_dir: str | Path, step: int | None = None) -> Path:
    """``RUN_DIR/checkpoints/last.pt``, or the checkpoint of ``step``."""
    return Path(run_dir) / CHECKPOINT_DIR / (LAST if step is None else f"step_{step:06d}.pt")


def best_checkpoint_path(run_dir: str | Path) -> Path:
    """``RUN_DIR/checkpoints/best.pt``: the checkpoint with the best validation aggregate so far."""
    return Path(run_dir) / CHECKPOINT_DIR / BEST


def save_checkpoint(path: str | Path, **parts: Any) -> Path:
    """Write ``parts`` as one checkpoint file at ``path`` (temp file, then rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        try:
            torch.save(parts, tmp)
        except RuntimeError as err:  # torch's writer hides the OS error (a full disk) behind its own
            raise write_failure(path, err) from None
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; missing or unreadable files raise XtgeoError."""
    path = Path(path)
    if not path.is_file():
        raise XtgeoError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise XtgeoError(f"{path}: not a readable checkpoint ({first})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise XtgeoError(f"{path}: not an xtgeo checkpoint (no model weights)")
    return ckpt


def load_weights(module: torch.nn.Module, state: Any, path: str | Path) -> None:
    """``module.load_state_dict(state)``; XtgeoError naming ``path`` and, briefly, what does not fit
    (missing, unexpected and differently shaped tensors) when the weights are another model's."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise XtgeoError(f"{path}: its model weights are not a dict of tensors")
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or reshaped:
        parts = [f"{len(missing)} tensor(s) missing (e.g. {missing[0]})" if missing else "",
                 f"{len(unexpected)} unexpected (e.g. {unexpected[0]})" if unexpected else "",
                 f"{len(reshaped)} of another shape (e.g. {reshaped[0]}: {_shape(state[reshaped[0]])} in the "
                 f"file, {_shape(own[reshaped[0]])} in the model)" if reshaped else ""]
        raise XtgeoError(f"{path}: weights do not fit the model its config describes: "
                         f"{'; '.join(p for p in parts if p)}")
    module.load_state_dict(state)


def _shape(tensor: torch.Tensor) -> str:
    return " x ".join(map(str, tensor.shape)) or "scalar"


def rng_state() -> dict[str, torch.Tensor]:
    """The torch (CPU and CUDA), NumPy and Python random states, as tensors."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
        "numpy_extra": torch.tensor([pos, has_gauss], dtype=torch.int64),
        "numpy_gauss": torch.tensor([cached], dtype=torch.float64),
        "python": torch.tensor(random.getstate()[1], dtype=torch.int64),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    """Restore the states saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    pos, has_gauss = (int(v) for v in state["numpy_extra"])
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss,
                         float(state["numpy_gauss"][0])))
    random.setstate((3, tuple(int(v) for v in state["python"]), None))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


def calibrated_thresholds(checkpoint: dict[str, Any]) -> dict[str, float]:
    """The calibrated thresholds a checkpoint carries (``checkpoint["calibration"]["thresholds"]``); {} if none."""
    entry = checkpoint.get(CALIBRATION)
    thresholds = entry.get("thresholds") if isinstance(entry, dict) else None
    if not isinstance(thresholds, dict):
        return {}
    return {key: float(thresholds[key]) for key in THRESHOLD_KEYS if key in thresholds}
