"""Pretrained backbone weights: verified on load, refused by name when they fit poorly, found in a
local Hugging Face cache, and not needed again when a run is resumed."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import safetensors.torch
import timm
import torch

from tests.paths import SMOKE_CONFIG
from xtgeo.errors import ConfigError
from xtgeo.models import build_model
from xtgeo.models.pretrained import resolve_weights

#: A one-block-per-stage SwinV2, small enough for CPU tests.
TINY_SWIN = dict(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1))


def _save(model: torch.nn.Module, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def _cfg(name: str, pretrained_file: str, **kwargs) -> dict:
    return dict(in_chans=3, region_size=64, region_encoder=dict(name=name, pretrained_file=pretrained_file,
                                                                kwargs=kwargs),
                context=dict(kind="none"), decoder=dict(width=16, min_width=8))


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, Path]:
    """Weights files made by timm here: a tiny SwinV2 (two widths), ConvNeXt and ResNet."""
    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(3)
    return {
        "swin": _save(timm.create_model("swinv2_tiny_window8_256", img_size=64, **TINY_SWIN),
                      root / "swin.safetensors"),
        "wide_swin": _save(timm.create_model("swinv2_tiny_window8_256", img_size=64, **{**TINY_SWIN, "embed_dim": 24}),
                           root / "wide_swin.safetensors"),
        "convnext": _save(timm.create_model("test_convnext"), root / "convnext.safetensors"),
        "resnet": _save(timm.create_model("resnet18"), root / "resnet.safetensors"),
    }


def test_fitting_weights_are_loaded_and_reported(weights, caplog):
    with caplog.at_level(logging.INFO, logger="xtgeo"):
        model = build_model(_cfg("swinv2_tiny_window8_256", str(weights["swin"]), **TINY_SWIN))
    source = safetensors.torch.load_file(str(weights["swin"]))
    loaded = model.encoder.body.state_dict()
    assert torch.equal(loaded["layers_2.blocks.0.mlp.fc1.weight"], source["layers.2.blocks.0.mlp.fc1.weight"])
    assert torch.equal(loaded["patch_embed.proj.weight"], source["patch_embed.proj.weight"])
    report = [r.getMessage() for r in caplog.records if r.name == "xtgeo.models.pretrained"]
    assert len(report) == 1 and str(weights["swin"]) in report[0]
    assert "tensors loaded, 0 missing, 0 unexpected" in report[0]


@pytest.mark.parametrize(
    ("backbone", "kwargs", "given", "message"),
    [
        ("swinv2_tiny_window8_256", TINY_SWIN, "resnet", r"fits SwinTransformerV2 poorly: only 0 of its \d+ tensors"),
        ("test_convnext", {}, "swin", "does not fit ConvNeXt"),
        ("swinv2_tiny_window8_256", TINY_SWIN, "wide_swin", "does not fit SwinTransformerV2 .*size mismatch"),
    ],
)
def test_weights_of_another_model_are_refused_naming_the_file(weights, backbone, kwargs, given, message):
    with pytest.raises(ConfigError, match=message) as caught:
        build_model(_cfg(backbone, str(weights[given]), **kwargs))
    assert str(caught.value).startswith(str(weights[given])) and "\n" not in str(caught.value)


def test_unreadable_and_missing_weights_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="bad.pth: not a readable weights file"):
        build_model(_cfg("test_convnext", str(bad)))
    with pytest.raises(ConfigError, match="no such file or folder"):
        build_model(_cfg("test_convnext", str(tmp_path / "absent.pth")))


def _hf_cache(root: Path, repo: str, weights_file: Path) -> Path:
    """A Hugging Face cache folder for ``repo`` as huggingface_hub lays it out: refs/main → snapshot."""
    folder = root / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0123abcd")
    snapshot = folder / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").write_bytes(weights_file.read_bytes())
    return folder


def test_weights_from_a_local_hugging_face_cache(weights, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    folder = _hf_cache(cache, "timm/test_convnext.r160_in1k", weights["convnext"])
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    snapshot = folder / "snapshots" / "0123abcd" / "model.safetensors"
    for source in (folder, folder / "snapshots" / "0123abcd", "timm:test_convnext.r160_in1k",
                   "hf-hub:timm/test_convnext.r160_in1k"):
        assert resolve_weights(source) == snapshot
    model = build_model(_cfg("test_convnext", "timm:test_convnext.r160_in1k"))
    expected = safetensors.torch.load_file(str(weights["convnext"]))["stages.1.blocks.0.conv_dw.weight"]
    assert torch.equal(model.encoder.body.state_dict()["stages_1.blocks.0.conv_dw.weight"], expected)
    with pytest.raises(ConfigError, match="not in the local Hugging Face cache"):
        resolve_weights("timm:test_convnext2.r160_in1k")
    with pytest.raises(ConfigError, match="not a timm pretrained tag"):
        resolve_weights("timm:test_convnext")


def test_cli_refuses_wrong_weights_on_one_line(weights, prepared_dataset, tmp_path, xtgeo_cli):
    status, _, err = xtgeo_cli("train", "--config", SMOKE_CONFIG, "--data", prepared_dataset, "--out", tmp_path / "run",
                               "--set", f"model.region_encoder.pretrained_file={weights['swin']}")
    assert status == 1 and err.count("\n") == 1
    assert err.startswith(f"error: {weights['swin']}: does not fit ConvNeXt")


def test_resume_elsewhere_needs_no_weights_file(weights, prepared_dataset, tmp_path, monkeypatch):
    from xtgeo.train.checkpoint import checkpoint_path, load_checkpoint
    from xtgeo.train.trainer import run_training

    start = tmp_path / "start"
    start.mkdir()
    (start / "convnext.safetensors").write_bytes(weights["convnext"].read_bytes())
    monkeypatch.chdir(start)
    overrides = ("model.region_encoder.pretrained_file=convnext.safetensors", "train.steps=2", "train.epoch_steps=2",
                 "train.validation=none", "data.val_scenes_count=1")
    run = run_training(SMOKE_CONFIG, prepared_dataset, tmp_path / "run", overrides=overrides, max_steps=1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert not Path("convnext.safetensors").exists() and os.getcwd() == str(elsewhere)
    run_training(SMOKE_CONFIG, prepared_dataset, run, overrides=overrides, resume=True)
    assert load_checkpoint(checkpoint_path(run))["step"] == 2
