"""`xtgeo train` end to end on CPU: the loss falls, resume is exact, errors are clear, DDP over gloo."""

import math
import subprocess
import sys

import pytest
import torch

from xtgeo.config import load_config
from xtgeo.errors import ConfigError, SceneError, XtgeoError
from xtgeo.models import build_model
from xtgeo.train.checkpoint import checkpoint_path, load_checkpoint
from xtgeo.train.runlog import read_metrics
from xtgeo.train.trainer import run_training

SMOKE = "configs/smoke.yaml"
#: Every crop centred near an object (a steadier loss for a short run); one validation scene,
#: validated on every other grid crop.
FAST = ("data.object_fraction=1.0", "data.val_scenes_count=1", "data.val_stride_fraction=2")


def train_rows(run_dir):
    return [row for row in read_metrics(run_dir) if "loss" in row]


def test_smoke_training_lowers_the_loss_and_writes_a_complete_run(smoke_run):
    run = smoke_run  # 12 steps, validated at 6 and 12 (conftest)
    rows = train_rows(run)
    assert [r["step"] for r in rows] == list(range(1, 13))  # smoke logs every step
    losses = [r["loss"] for r in rows]
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-4:]) < sum(losses[:4])
    assert all(r["regions_per_s"] > 0 and r["memory_gib"] > 0 for r in rows)
    assert all(0 <= r["data_wait_fraction"] <= 1 and r["checkpointing"] == "none" and r["workers"] == 0 for r in rows)
    assert sum(r["data_wait_fraction"] for r in rows) > 0  # the loader's time is measured
    val = [r for r in read_metrics(run) if "val_loss" in r]
    assert [r["step"] for r in val] == [6, 12] and math.isfinite(val[0]["val_loss"])
    assert 0 <= val[0]["val_aggregate"] <= 1 and "val_loc_fscore_shore" in val[0]  # full predict + score
    assert (run / "config.yaml").is_file() and any((run / "tensorboard").iterdir())
    for step in (6, 12, None):
        assert checkpoint_path(run, step).is_file()
    ckpt = torch.load(checkpoint_path(run), weights_only=True)
    assert ckpt["step"] == 12 and isinstance(ckpt["xtgeo_version"], str)
    assert {"model", "optimizer", "scheduler", "rng", "config"} <= set(ckpt)
    model = build_model(load_config(ckpt["config"]).model)  # predict rebuilds the model like this
    model.load_state_dict(ckpt["model"])


def test_resumed_run_equals_an_uninterrupted_one(prepared_dataset, tmp_path):
    # stopped mid-epoch (epoch 0 = steps 1-3) and resumed across the epoch boundary
    overrides = FAST + ("train.steps=5", "train.epoch_steps=3", "train.validation=none", "train.checkpoint_every=100")
    whole = run_training(SMOKE, prepared_dataset, tmp_path / "whole", overrides=overrides)
    parted = run_training(SMOKE, prepared_dataset, tmp_path / "parted", overrides=overrides, max_steps=2)
    assert [r["step"] for r in train_rows(parted)] == [1, 2]  # the last step is logged and checkpointed
    assert load_checkpoint(checkpoint_path(parted))["step"] == 2
    with pytest.raises(ConfigError, match="train.lr: 0.1 differs from the resumed run's"):
        run_training(SMOKE, prepared_dataset, parted, overrides=overrides + ("train.lr=0.1",), resume=True)
    with pytest.raises(XtgeoError, match="already holds a training run"):
        run_training(SMOKE, prepared_dataset, parted, overrides=overrides)
    run_training(SMOKE, prepared_dataset, parted, overrides=overrides + ("data.num_workers=1",), resume=True)
    a, b = train_rows(whole), train_rows(parted)
    assert [r["step"] for r in b] == list(range(1, 6))
    for x, y in zip(a, b):
        assert x["loss"] == pytest.approx(y["loss"], rel=1e-6, abs=1e-7) and x["lr"] == pytest.approx(y["lr"])
    wa, wb = load_checkpoint(checkpoint_path(whole))["model"], load_checkpoint(checkpoint_path(parted))["model"]
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)


def test_two_process_gloo_run_trains(prepared_dataset, tmp_path):
    run = run_training(SMOKE, prepared_dataset, tmp_path / "ddp", gpus=2,
                       overrides=FAST + ("train.steps=3", "train.epoch_steps=3", "train.batch_size=1",
                                         "train.validation=loss"))
    rows = train_rows(run)
    assert [r["step"] for r in rows] == [1, 2, 3] and all(math.isfinite(r["loss"]) for r in rows)
    assert [r["step"] for r in read_metrics(run) if "val_loss" in r] == [3]
    assert load_checkpoint(checkpoint_path(run))["step"] == 3


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lrr=0.1", "train.lrr: unknown config key"),
        ("train.lr=fast", "train.lr: expected a number"),
        ("data.crop_size=1.5", "data.crop_size: expected an integer"),
        ("model.region_size=big", "model.region_size: expected an integer"),
        ("model.decoder.depth=3", "model.decoder.depth: unknown config key"),
        ("loss.center=l2", "loss.center: 'l2' is not one of"),
        ("model.in_chans=2", "model.in_chans: 2 does not match"),
        ("train.checkpointing=some", "train.checkpointing: 'some' is not one of config, auto"),
        ("train.memory_fraction=1.5", "train.memory_fraction: must be between 0 and 1"),
        ("data.num_workers=-1", "data.num_workers: must be 0 or more"),
    ],
)
def test_bad_config_fails_before_any_work_naming_the_key(prepared_dataset, tmp_path, override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        run_training(SMOKE, prepared_dataset, tmp_path / "run", overrides=(override,))
    assert not (tmp_path / "run").exists()


def test_missing_data_run_clash_and_nothing_to_resume_are_clear_errors(prepared_dataset, tmp_path):
    with pytest.raises(SceneError, match="no such data directory"):
        run_training(SMOKE, tmp_path / "no-prep", tmp_path / "run")
    assert not (tmp_path / "run").exists()
    with pytest.raises(XtgeoError, match="no checkpoint to resume from"):
        run_training(SMOKE, prepared_dataset, tmp_path / "run", resume=True)
    with pytest.raises(ConfigError, match="no such config file"):
        run_training(tmp_path / "missing.yaml", prepared_dataset, tmp_path / "run")


@pytest.mark.parametrize("cadence", [(), ("train.log_every=3", "train.checkpoint_every=2")])
def test_non_finite_loss_stops_naming_the_step(prepared_dataset, tmp_path, cadence):
    # the check waits for a log step or checkpoint (no per-step GPU sync), yet names step 1 and
    # stops before the step-2 checkpoint could be written
    with pytest.raises(XtgeoError, match="non-finite loss at step 1: training stopped; no checkpoint was written"):
        run_training(SMOKE, prepared_dataset, tmp_path / "run", overrides=FAST + ("data.vv_std=1e-38",) + cadence)
    assert not checkpoint_path(tmp_path / "run").exists() and not checkpoint_path(tmp_path / "run", 2).exists()


def test_compile_without_a_compiler_trains_eagerly_with_a_note(prepared_dataset, tmp_path, monkeypatch):
    import torch._dynamo
    import torch._inductor.config as inductor

    # what inductor compiles C++ with on a CPU; caches off, so no kernel compiled before is reused
    monkeypatch.setattr(inductor.cpp, "cxx", (None, str(tmp_path / "no-such-compiler")))
    monkeypatch.setattr(inductor, "force_disable_caches", True)
    torch._dynamo.reset()
    with pytest.warns(UserWarning, match="train.compile: running eagerly"):
        run = run_training(SMOKE, prepared_dataset, tmp_path / "run",
                           overrides=FAST + ("train.steps=2", "train.validation=none", "train.compile=true"))
    rows = train_rows(run)
    assert [r["step"] for r in rows] == [1, 2]
    assert all(math.isfinite(r["loss"]) and r["compiled"] is False for r in rows)


def test_cli_reports_a_bad_config_on_one_line(prepared_dataset, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import cli; cli.main()", "train", "--config", SMOKE, "--data", str(prepared_dataset),
         "--out", str(tmp_path / "run"), "--set", "train.steps=ten"], capture_output=True, text=True,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "error: configs/smoke.yaml: train.steps: expected an integer, got 'ten'"
