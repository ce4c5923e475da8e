"""The run config: one validator for every section (types, then values), base files, old keys."""

from __future__ import annotations

import pytest
import yaml

from tests.paths import REPO, SMOKE_CONFIG
from xtgeo.config import ContextConfig, ModelConfig, from_dict, load_config, model_config
from xtgeo.errors import ConfigError


def refused(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(SMOKE_CONFIG, [override])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lr=.nan", r"train\.lr: expected a finite number"),
        ("train.lr=nan", r"train\.lr: expected a finite number"),
        ("train.weight_decay=.inf", r"train\.weight_decay: expected a finite number"),
        ("data.db_min=-.inf", r"data\.db_min: expected a finite number"),
        ("postprocess.fishing_threshold=nan", r"postprocess\.fishing_threshold: expected a finite number"),
        ("model.decoder.length_scale=.inf", r"model\.decoder\.length_scale: expected a finite number"),
        ("model.context.mem_len=.nan", r"model\.context\.mem_len: expected a finite number"),
    ],
)
def test_nan_and_infinity_are_refused_wherever_a_number_goes(override, message):
    refused(override, message)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lr=1e30", r"train\.lr: must be at most 1, got 1e\+30"),
        ("train.lr=1.5", r"train\.lr: must be at most 1"),
        ("train.lr=0", r"train\.lr: must be positive"),
        ("train.betas=[0.9, 1.0]", r"train\.betas\[1\]: must be in \[0, 1\)"),
        ("train.betas=[-0.1, 0.9]", r"train\.betas\[0\]: must be in \[0, 1\)"),
        ("train.betas=[0.9]", r"train\.betas: expected two numbers"),
    ],
)
def test_learning_rate_and_betas_are_bounded(override, message):
    refused(override, message)


@pytest.mark.parametrize(
    "key",
    ["data.num_workers", "train.weight_decay", "train.warmup_steps", "train.grad_clip", "loss.center_weight",
     "loss.length_weight", "postprocess.nms_radius_px", "seed"],
)
def test_counts_weights_and_radii_must_not_be_negative(key):
    refused(f"{key}=-1", rf"{key.replace('.', chr(92) + '.')}: must be 0 or more, got -1")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("postprocess.center_threshold=1.5", r"postprocess\.center_threshold: must be between 0 and 1, got 1\.5"),
        ("postprocess.vessel_threshold=-0.1", r"postprocess\.vessel_threshold: must be between 0 and 1"),
        ("postprocess.fishing_threshold=2", r"postprocess\.fishing_threshold: must be between 0 and 1"),
        ("loss.dice_weight=1.2", r"loss\.dice_weight: must be between 0 and 1"),
    ],
)
def test_thresholds_are_probabilities(override, message):
    refused(override, message)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.decoder.width=0", r"model\.decoder\.width: must be positive, got 0"),
        ("model.context.heads=-2", r"model\.context\.heads: must be positive"),
        ("model.region_size='64'", r"model\.region_size: expected an integer, got '64'"),
        ("model.decoder.widht=8", r"model\.decoder\.widht: unknown config key"),
        ("model.task=classify", r"model\.task: 'classify' is not one of xview3"),
        ("model.context.kind=lstm", r"model\.context\.kind: 'lstm' is not one of .*xl"),
        ("model.context.mem_length=3", r"model\.context\.mem_length: not an option of context kind xl"),
        ("model.region_encoder.name=no_such_net", r"model\.region_encoder\.name: 'no_such_net' is not a timm model"),
    ],
)
def test_model_section_is_checked_like_the_others(override, message):
    refused(override, message)


def test_empty_config_file_is_an_error_not_the_default_model(tmp_path):
    for text in ("", "# only a comment\n", "{}\n"):
        path = tmp_path / "empty.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=rf"{path}: empty config file"):
            load_config(path)


def test_unknown_backbone_fails_before_any_run_folder_is_made(tmp_path):
    from xtgeo.train.trainer import run_training

    with pytest.raises(ConfigError, match=r"smoke\.yaml: model\.region_encoder\.name: 'nope' is not a timm model"):
        run_training(SMOKE_CONFIG, tmp_path / "prep", tmp_path / "run", overrides=("model.region_encoder.name=nope",))
    assert not (tmp_path / "run").exists()


def test_variant_configs_are_deltas_of_the_base():
    base = load_config(REPO / "configs" / "xview3_swin_t_xl.yaml")
    for kind in ("none", "mamba", "hyper", "bixt", "vit"):
        path = REPO / "configs" / f"xview3_swin_t_{kind}.yaml"
        assert yaml.safe_load(path.read_text())["base"] == "xview3_swin_t_xl.yaml"
        variant = load_config(path)
        assert variant.model.context.kind == kind and variant.model.context.options == {}  # xl's options gone
        assert variant.train == base.train and variant.data == base.data and variant.model.decoder == base.model.decoder


def test_base_is_relative_to_the_file_and_deltas_merge_by_section(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "base.yaml").write_text(SMOKE_CONFIG.read_text())
    delta = tmp_path / "sub" / "delta.yaml"
    delta.write_text("base: ../base.yaml\ntrain: {lr: 1.0e-3}\nmodel: {context: {mem_len: 128}}\n")
    cfg, smoke = load_config(delta), load_config(SMOKE_CONFIG)
    assert cfg.train.lr == 1e-3 and cfg.train.steps == smoke.train.steps
    assert cfg.model.context.options == {**smoke.model.context.options, "mem_len": 128}


def test_base_cycles_and_missing_bases_are_errors(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\nseed: 1\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nseed: 2\n")
    with pytest.raises(ConfigError, match="base configs form a cycle"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("base: missing.yaml\nseed: 3\n")
    with pytest.raises(ConfigError, match=r"missing\.yaml: no such config file"):
        load_config(tmp_path / "c.yaml")


def test_round_trip_keeps_kind_options_beside_the_keys_and_old_checkpoints_load():
    cfg = load_config(SMOKE_CONFIG)
    plain = cfg.to_dict()
    written = yaml.safe_load(SMOKE_CONFIG.read_text())["model"]["context"]  # kind, depth, dim, heads + xl's
    assert plain["model"]["context"] == written and set(written) - {"kind", "depth", "dim", "heads"}
    assert from_dict(plain) == cfg
    old = {**plain, "data": {**plain["data"], "val_tile_size": 384}, "model": {**plain["model"], "num_classes": None}}
    del old["data"]["val_window_size"]
    assert from_dict(old).data.val_window_size == 384


def test_model_config_alone_takes_a_dict_or_a_typed_config():
    typed = ModelConfig(context=ContextConfig(kind="vit", dim=64))
    assert model_config(typed) == model_config({"context": {"kind": "vit", "dim": 64}})
    assert model_config(typed).in_chans == 2  # VV and VH when no data section says more
    with pytest.raises(ConfigError, match=r"model\.region_batch: must be positive"):
        model_config({"region_batch": 0})
