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
from xtgeo.train.trainer import TrainProgress, run_training

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
    run_training(SMOKE, prepared_dataset, parted, overrides=overrides + ("data.num_workers=1", "model.region_batch=2"),
                 resume=True)  # how it runs may change
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
        ("train.activation_memory_budget=0", "train.activation_memory_budget: must be positive"),
        ("train.activation_memory_budget=nan", "train.activation_memory_budget: expected a finite number"),
        ("train.activation_memory_budget=2", "train.activation_memory_budget: must be between 0 and 1"),
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


def _prep_copy(prepared_dataset, tmp_path):
    import shutil

    return shutil.copytree(prepared_dataset, tmp_path / "prep")


def test_broken_run_inputs_are_one_line_errors_and_leave_no_run_folder(prepared_dataset, tmp_path, xtgeo_cli):
    import pandas as pd

    prep = _prep_copy(prepared_dataset, tmp_path)
    labels = pd.read_parquet(prep / "labels.parquet")
    scene_tif = sorted(prep.glob("*/scene.tif"))[0]
    cases = {
        "corrupt labels": (lambda: (prep / "labels.parquet").write_text("not parquet"),
                           f"{prep / 'labels.parquet'}: not a readable Parquet label table"),
        "missing column": (lambda: labels.drop(columns="vessel_length_m").to_parquet(prep / "labels.parquet"),
                           f"{prep / 'labels.parquet'}: missing column(s) vessel_length_m"),
        "inf length": (lambda: labels.assign(vessel_length_m=float("inf")).to_parquet(prep / "labels.parquet"),
                       "labels.parquet: row 1, column vessel_length_m: 'inf' is not a finite number"),
        "truncated scene": (lambda: scene_tif.write_bytes(scene_tif.read_bytes()[:5000]),
                            f"{scene_tif}: unreadable or truncated scene ("),
    }
    good_labels, good_tif = (prep / "labels.parquet").read_bytes(), scene_tif.read_bytes()
    for name, (breaks, message) in cases.items():
        breaks()
        code, _, err = xtgeo_cli("train", "--config", SMOKE, "--data", prep, "--out", tmp_path / "run")
        assert code == 1 and err.startswith("error: ") and message in err and len(err.splitlines()) == 1, (name, err)
        assert not (tmp_path / "run").exists(), name
        (prep / "labels.parquet").write_bytes(good_labels)
        scene_tif.write_bytes(good_tif)


def test_a_config_that_fails_when_the_model_is_built_leaves_no_run_folder(prepared_dataset, tmp_path, xtgeo_cli):
    missing = tmp_path / "weights.pth"
    code, _, err = xtgeo_cli("train", "--config", SMOKE, "--data", prepared_dataset, "--out", tmp_path / "run",
                             "--set", "model.region_encoder.name=resnet18",
                             "--set", f"model.region_encoder.pretrained_file={missing}")
    assert code == 1 and str(missing) in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("where", ["file", "data", "inside data"])
def test_an_out_that_is_a_file_or_the_data_is_refused(prepared_dataset, tmp_path, where):
    from xtgeo.errors import OutputError

    out = {"file": prepared_dataset / "labels.parquet", "data": prepared_dataset,
           "inside data": prepared_dataset / "runs" / "a"}[where]
    before = sorted(p.name for p in prepared_dataset.iterdir())
    with pytest.raises(OutputError, match=f"--out {out}: "):
        run_training(SMOKE, prepared_dataset, out)
    assert sorted(p.name for p in prepared_dataset.iterdir()) == before


def test_resume_with_weights_that_do_not_fit_is_one_line(prepared_dataset, tmp_path, xtgeo_cli):
    overrides = FAST + ("train.steps=2", "train.epoch_steps=2", "train.validation=none")
    run = run_training(SMOKE, prepared_dataset, tmp_path / "run", overrides=overrides, max_steps=1)
    ckpt = load_checkpoint(checkpoint_path(run))
    ckpt["model"] = {k: v[..., :1] if v.ndim else v for k, v in ckpt["model"].items()}  # another model's shapes
    torch.save(ckpt, checkpoint_path(run))
    code, _, err = xtgeo_cli("train", "--config", SMOKE, "--data", prepared_dataset, "--out", run, "--resume",
                             *(a for o in overrides for a in ("--set", o)))
    assert code == 1 and len(err.splitlines()) == 1, err
    assert err.startswith(f"error: {checkpoint_path(run)}: weights do not fit the model its config describes: ")
    assert "of another shape (e.g. " in err


def test_resume_cleans_a_killed_runs_temporaries_and_a_cut_log_line(prepared_dataset, tmp_path):
    overrides = FAST + ("train.steps=2", "train.epoch_steps=2", "train.validation=none")
    run = run_training(SMOKE, prepared_dataset, tmp_path / "run", overrides=overrides, max_steps=1)
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    killed.kill()
    killed.wait()
    dead = killed.pid
    left = [run / "checkpoints" / f".tmp-{dead}-0123abcd-last.pt", run / f".tmp-{dead}-89abcdef-config.yaml",
            run / "checkpoints" / f".tmp-{dead}-4567abcd-step_000002.pt"]
    for path in left:
        path.write_bytes(b"half written")
    (run / "checkpoints" / "my_notes.txt").write_text("keep")
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 2, "loss": 0.')  # killed in the middle of a line
    run_training(SMOKE, prepared_dataset, run, overrides=overrides, resume=True)
    assert not any(p.exists() for p in left) and (run / "checkpoints" / "my_notes.txt").exists()
    assert [r["step"] for r in train_rows(run)] == [1, 2]


def test_a_crop_that_fails_in_a_dataloader_worker_is_one_line(prepared_dataset, tmp_path, xtgeo_cli):
    from tests.hostile import corrupt_tile

    prep = _prep_copy(prepared_dataset, tmp_path)
    for tif in prep.glob("*/scene.tif"):  # every vv_db tile; the valid band (read when opening) is intact
        for row in range(2):
            for col in range(2):
                corrupt_tile(tif, row, col)
    code, _, err = xtgeo_cli("train", "--config", SMOKE, "--data", prep, "--out", tmp_path / "run",
                             "--set", "data.num_workers=1", "--set", "train.steps=1", "--set", "train.validation=none")
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("error: ") and "/scene.tif: cannot read the crop at row " in err


@pytest.mark.parametrize("read_only", [False, True], ids=["full-disk", "read-only"])
def test_a_full_or_read_only_disk_is_one_line_naming_the_file(prepared_dataset, tmp_path, read_only):
    from tests.hostile import run_on_small_disk, xtgeo_command

    mount = tmp_path / "small"
    done = run_on_small_disk("64k", mount, xtgeo_command(
        "train", "--config", SMOKE, "--data", prepared_dataset, "--out", mount / "run", "--set", "train.steps=1",
        "--set", "train.validation=none"), read_only=read_only, full=not read_only)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    expected = "is not a writable folder" if read_only else "cannot write (No space left on device)"
    assert last.startswith("error: ") and str(mount) in last and expected in last, last


def test_compiled_training_compiles_once_not_at_every_step(prepared_dataset, tmp_path, monkeypatch):
    import torch._dynamo

    # dynamo's tracing, guards and recompiles without a C++ compiler: the `eager` backend
    monkeypatch.setattr("xtgeo.train.compiling.BACKEND", "eager")
    torch._dynamo.reset()  # graphs of an equal model compiled earlier in this process would be reused
    run = run_training(SMOKE, prepared_dataset, tmp_path / "run",
                       overrides=FAST + ("train.steps=5", "train.epoch_steps=3", "train.validation=loss",
                                         "train.checkpoint_every=100", "train.compile=true"))
    rows = train_rows(run)
    graphs = [r["compiled_graphs"] for r in rows]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5] and all(r["compiled"] is True for r in rows)
    assert graphs[0] >= 4  # backbone, decoder, heads, loss (and context blocks) compiled for this model
    assert graphs[0] == graphs[1] == graphs[2]  # steps 2 and 3 reuse them
    # validation (no gradients) compiles its own graphs, at most one per training graph, once
    assert graphs[2] < graphs[3] <= 2 * graphs[0] and graphs[3] == graphs[4]
    startup = [r for r in read_metrics(run) if "startup_s" in r]
    assert len(startup) == 1 and startup[0]["step"] == 1 and startup[0]["compiled_graphs"] == graphs[0]
    assert startup[0]["startup_s"] >= startup[0]["first_step_s"] > 0 and startup[0]["probe_s"] >= 0


class BudgetSeen(TrainProgress):
    """Records torch.compile's activation memory budget in force at every step."""

    seen: list[float] = []

    def update(self, step, row=None):
        import torch._functorch.config

        BudgetSeen.seen.append(torch._functorch.config.activation_memory_budget)


def test_the_activation_memory_budget_holds_while_training_and_not_after(prepared_dataset, tmp_path):
    import torch._functorch.config

    BudgetSeen.seen = []
    run_training(SMOKE, prepared_dataset, tmp_path / "run", progress=BudgetSeen,
                 overrides=FAST + ("train.steps=2", "train.validation=none", "train.activation_memory_budget=0.4"))
    assert BudgetSeen.seen == [0.4, 0.4]
    assert torch._functorch.config.activation_memory_budget == 1.0


def test_out_of_memory_in_a_step_is_one_line_naming_the_step_and_what_to_change(prepared_dataset, tmp_path,
                                                                                 monkeypatch):
    from xtgeo.train.trainer import Trainer

    step = Trainer.train_step

    def step_then_out_of_memory(self, batch):
        if self.step == 1:  # the second step asks for more than the device has
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")
        return step(self, batch)

    monkeypatch.setattr(Trainer, "train_step", step_then_out_of_memory)
    with pytest.raises(XtgeoError, match=r"out of memory on cpu at step 2 .*train.checkpointing=auto") as err:
        run_training(SMOKE, prepared_dataset, tmp_path / "run", overrides=FAST + ("train.steps=3",))
    assert "\n" not in str(err.value)
    assert not checkpoint_path(tmp_path / "run").exists()
    with pytest.raises(XtgeoError, match=r"out of memory on cpu at step 2 .*lower train.memory_fraction") as err:
        run_training(SMOKE, prepared_dataset, tmp_path / "auto", overrides=FAST + ("train.steps=3",
                                                                                  "train.checkpointing=auto"))
    assert "checkpointing=auto" not in str(err.value)  # the run already chose its checkpointing
