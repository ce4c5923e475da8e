"""Pretrained backbone weights: found on this machine, read safely, loaded into a timm model, verified.

A weights source (the model config's ``region_encoder.pretrained_file``) is one of:

- a weights file: ``.safetensors``, or a PyTorch file (``.pth``, ``.pt``, ``.bin``) read with
  ``weights_only=True``; a ``state_dict`` / ``model`` entry and DDP/compile prefixes are unwrapped;
- a folder holding ``model.safetensors`` or ``pytorch_model.bin`` (a Hugging Face snapshot), or a
  Hugging Face cache folder of one repository (``models--ORG--NAME``, its ``refs/main`` snapshot);
- ``hf-hub:ORG/NAME``, or ``timm:MODEL.TAG`` (timm's pretrained tag, e.g.
  ``timm:swinv2_tiny_window8_256.ms_in1k``), looked up in the local Hugging Face cache
  (``HF_HUB_CACHE``, else huggingface_hub's default); nothing is ever downloaded.

:func:`load_verified` loads a state dict into a timm model the way timm loads its own weights
(the architecture's checkpoint converter, the first convolution adapted to the input channels)
and returns a :class:`LoadReport`; a file whose tensors do not fit (a converter that fails, a shape
that differs) or that fills under :data:`MIN_LOADED_FRACTION` of the model's tensors is refused
with a :class:`~xtgeo.errors.ConfigError` naming the file. Imports only torch, timm and their
dependencies (huggingface_hub, safetensors).
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from timm.models import load_pretrained, load_state_dict
from torch import nn

from xtgeo.errors import ConfigError

log = logging.getLogger(__name__)

KEY = "region_encoder.pretrained_file"
#: A backbone must take at least this share of its tensors from the file.
MIN_LOADED_FRACTION = 0.9
#: Weight files looked for in a folder (Hugging Face snapshot), in order.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
HF_PREFIX, TIMM_PREFIX = "hf-hub:", "timm:"


@dataclass(frozen=True)
class LoadReport:
    """What a weights source gave a model: tensors loaded, the model's tensors it lacked, extra ones."""

    source: str
    model: str
    total: int
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]

    @property
    def loaded(self) -> int:
        return self.total - len(self.missing)

    def __str__(self) -> str:
        return (f"pretrained weights {self.source}: {self.loaded} of {self.total} {self.model} tensors loaded, "
                f"{len(self.missing)} missing, {len(self.unexpected)} unexpected")


def _hf_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE)


def _cached_repo_file(repo_id: str, source: str) -> Path:
    """The weights file of ``repo_id`` in the local Hugging Face cache, or ConfigError."""
    from huggingface_hub import try_to_load_from_cache

    cache = _hf_cache_dir()
    for name in WEIGHT_FILES:
        found = try_to_load_from_cache(repo_id, name, cache_dir=cache)
        if isinstance(found, str):
            return Path(found)
    raise ConfigError(f"{KEY}: {source}: not in the local Hugging Face cache {cache} "
                      f"(no {' or '.join(WEIGHT_FILES)} of {repo_id}; nothing is downloaded)")


def _timm_repo(source: str) -> str:
    from timm.models import get_pretrained_cfg

    name = source[len(TIMM_PREFIX):]
    cfg = get_pretrained_cfg(name, allow_unregistered=False) if "." in name else None
    if cfg is None or not cfg.hf_hub_id:
        raise ConfigError(f"{KEY}: {source}: not a timm pretrained tag with Hugging Face weights "
                          "(expected MODEL.TAG, e.g. timm:swinv2_tiny_window8_256.ms_in1k)")
    return cfg.hf_hub_id


def _folder_file(folder: Path) -> Path:
    """The weights file of a snapshot folder or of a ``models--ORG--NAME`` cache folder."""
    snapshots = folder / "snapshots"
    if snapshots.is_dir():
        ref = folder / "refs" / "main"
        found = sorted(p for p in snapshots.iterdir() if p.is_dir())
        if ref.is_file():
            folder = snapshots / ref.read_text().strip()
        elif len(found) == 1:
            folder = found[0]
        else:
            raise ConfigError(f"{KEY}: {folder}: {len(found)} snapshots and no refs/main to choose one")
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise ConfigError(f"{KEY}: {folder}: holds no {' or '.join(WEIGHT_FILES)}")


def resolve_weights(source: str | os.PathLike) -> Path:
    """The local weights file a source names (see the module doc); ConfigError when there is none."""
    text = os.fspath(source)
    if text.startswith(HF_PREFIX):
        return _cached_repo_file(text[len(HF_PREFIX):], text)
    if text.startswith(TIMM_PREFIX):
        return _cached_repo_file(_timm_repo(text), text)
    path = Path(text)
    if path.is_dir():
        return _folder_file(path)
    if not path.is_file():
        raise ConfigError(f"{KEY}: {path}: no such file or folder")
    return path


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file, read without running code; ConfigError naming the file."""
    try:
        state = load_state_dict(str(path), use_ema=False, weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, KeyError, AttributeError, TypeError,
            pickle.UnpicklingError, zipfile.BadZipFile) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(f"{path}: not a readable weights file ({first})") from None
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{path}: not a weights file (expected a mapping of names to tensors)")
    return state


def _converter(model: nn.Module):
    """The architecture's checkpoint converter (timm's convention: ``checkpoint_filter_fn`` in its module)."""
    return getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)


def load_verified(model: nn.Module, state: dict[str, torch.Tensor], source: str, in_chans: int) -> LoadReport:
    """Load ``state`` into the timm ``model`` (built with ``in_chans`` channels) as timm loads its own
    weights; ConfigError naming ``source`` when the tensors do not fit or too few are loaded."""
    name = type(model).__name__
    seen: list = []
    handle = model.register_load_state_dict_post_hook(lambda _module, keys: seen.append(keys))
    timm_log = logging.getLogger("timm.models._builder")
    level = timm_log.level
    timm_log.setLevel(logging.ERROR)  # timm lists every unexpected key; the report below counts them
    try:
        cfg = {**model.pretrained_cfg, "state_dict": state, "source": "", "file": None}
        load_pretrained(model, cfg, num_classes=getattr(model, "num_classes", 0), in_chans=in_chans,
                        filter_fn=_converter(model), strict=False)
    except (KeyError, RuntimeError, ValueError, TypeError, IndexError, AttributeError) as err:
        lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
        detail = next((line for line in lines if line.startswith("size mismatch")), lines[0] if lines else "")
        raise ConfigError(f"{source}: does not fit {name} ({type(err).__name__}: {detail[:200]})") from None
    finally:
        handle.remove()
        timm_log.setLevel(level)
    keys = seen[-1]
    report = LoadReport(source, name, len(model.state_dict()), tuple(keys.missing_keys), tuple(keys.unexpected_keys))
    if report.loaded < MIN_LOADED_FRACTION * report.total:
        example = f"; e.g. {report.missing[0]!r} is missing" if report.missing else ""
        raise ConfigError(f"{source}: fits {name} poorly: only {report.loaded} of its {report.total} tensors "
                          f"loaded ({len(report.unexpected)} tensors of the file unused{example}); "
                          "are these weights of another architecture?")
    log.info("%s", report)
    return report
