"""Training xT on preprocessed scenes, on CPU, one GPU or many (DDP): :func:`run_training`.

Run folder: ``config.yaml`` (the resolved config), ``metrics.jsonl`` + ``tensorboard/``
(:mod:`xtgeo.train.runlog`), ``checkpoints/last.pt`` and ``checkpoints/step_NNNNNN.pt``
(:mod:`xtgeo.train.checkpoint`). Everything that can be wrong with the input (config, data folder,
run folder) is checked before any process starts or any work is done.
"""

from __future__ import annotations

import os
import resource
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

import xtgeo
from xtgeo.atomic import check_output, make_folder, remove_stale_temporaries
from xtgeo.config import Config, TrainConfig, dump_config, from_dict, load_config
from xtgeo.data.dataset import CropDataset, PreparedData, crop_regions, open_prepared
from xtgeo.data.samplers import TrainSampler, validation_items
from xtgeo.data.transfer import device_batches
from xtgeo.errors import ConfigError, XtgeoError, reason
from xtgeo.models import build_model
from xtgeo.models.pretrained import resolve_weights
from xtgeo.tasks.xview3 import HEAD_NAMES as PARTS  # one loss part per head
from xtgeo.train import distributed
from xtgeo.train.calibrate import BEST_METRIC, Calibration, predict_candidates, search_thresholds, validation_scores
from xtgeo.train.checkpoint import (
    CALIBRATION,
    CHECKPOINT_DIR,
    CONFIG_FILE,
    WEIGHTS_FROM_CHECKPOINT,
    best_checkpoint_path,
    checkpoint_path,
    load_checkpoint,
    load_weights,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from xtgeo.train.compiling import activation_budget, compile_function, compile_stages, compiled_graphs
from xtgeo.train.losses import xview3_loss
from xtgeo.train.memory import POLICIES, apply_policy, choose_policy, current_policy
from xtgeo.train.optim import build_optimizer
from xtgeo.train.runlog import RunLog


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): tree}


#: Keys that may change when a run is resumed (how it runs, not what it learns).
RESUMABLE_KEYS = ("data.num_workers", "train.log_every", "train.checkpoint_every", "train.validation", "train.device",
                  "train.compile", "train.checkpointing", "train.memory_fraction",
                  "train.checkpointing_slowdown", "train.activation_memory_budget", "model.region_batch")
#: First-bad-step value meaning "none yet" (see :meth:`Trainer.train_step`).
_NONE_YET = 2**62


def _resume_config(run_dir: Path, given: Config) -> Config:
    """The run's own config from its last checkpoint, with the :data:`RESUMABLE_KEYS` of ``given``;
    any other difference is an error naming the key."""
    saved = load_checkpoint(checkpoint_path(run_dir))["config"]
    old, new = _flat(from_dict(saved).to_dict()), _flat(given.to_dict())
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key) and key not in RESUMABLE_KEYS:
            raise ConfigError(f"{key}: {new.get(key)!r} differs from the resumed run's {old.get(key)!r} "
                              f"(--resume continues {run_dir} with its own config)")
    return from_dict(saved, [f"{key}={new[key]}" for key in RESUMABLE_KEYS])


def run_training(
    config_path_or_obj: str | Path | dict | Config,
    data_dir: str | Path,
    out_dir: str | Path,
    overrides: tuple[str, ...] | list[str] = (),
    max_steps: int | None = None,
    resume: bool = False,
    gpus: int | None = None,
    progress: Callable[[], TrainProgress] | None = None,
) -> Path:
    """Train a model; returns the run folder.

    ``max_steps`` stops after that step without changing the schedule (``train.steps``);
    ``resume`` continues ``out_dir`` from ``checkpoints/last.pt`` (with the run's config: a
    different config or override is an error); ``gpus`` > 1 starts that many local processes
    (DDP over NCCL; gloo on CPU when there is no CUDA). Under ``torchrun`` the ranks come from
    the environment. ``progress`` makes the :class:`TrainProgress` of the main process (a class
    defined at module level, so that it reaches spawned processes).
    """
    run_dir = Path(out_dir)
    if max_steps is not None and max_steps < 1:
        raise ConfigError(f"--max-steps: must be positive, got {max_steps}")
    check_output(run_dir, [data_dir], folder=True, flag="--out")  # (a config file there is refused as "a file")
    cfg = load_config(config_path_or_obj, overrides)
    last = checkpoint_path(run_dir)
    if resume:
        if not last.is_file():
            raise XtgeoError(f"{last}: no checkpoint to resume from")
        cfg = _resume_config(run_dir, cfg)
    elif last.exists():
        raise XtgeoError(
            f"{run_dir}: already holds a training run; pass --resume to continue it or choose another --out"
        )
    if not resume and cfg.model.region_encoder.pretrained_file is not None:
        resolve_weights(cfg.model.region_encoder.pretrained_file)  # a missing file: before any process starts
    data = open_prepared(data_dir, cfg.data)  # fail on a bad data folder before any process starts
    nprocs = gpus or 1
    if nprocs > 1 and distributed.from_environment().world == 1:
        distributed.launch(nprocs, _train_process, cfg.to_dict(), str(data_dir), str(run_dir), max_steps, resume,
                           progress)
    else:
        _train_process(cfg.to_dict(), str(data_dir), str(run_dir), max_steps, resume, progress, data)
    return run_dir


def start_run_folder(run_dir: Path, cfg: Config) -> None:
    """Make the run folder, write ``config.yaml`` and remove temporaries a killed run left in it."""
    make_folder(run_dir / CHECKPOINT_DIR)
    for folder in (run_dir, run_dir / CHECKPOINT_DIR):
        remove_stale_temporaries(folder)
    dump_config(cfg, run_dir / CONFIG_FILE)


def _train_process(cfg_dict: dict, data_dir: str, run_dir: str, max_steps: int | None, resume: bool,
                   progress: Callable[[], TrainProgress] | None = None, data: PreparedData | None = None) -> None:
    """One training process (rank from the environment); ``data`` when already opened in this process."""
    cfg = from_dict(cfg_dict)
    rank = distributed.from_environment()
    device = distributed.device_for(rank, cfg.train.device)
    if device.type == "cpu" and rank.world > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // rank.world))
    distributed.init_group(rank, device)
    try:
        shown = progress() if progress is not None and rank.main else None
        trainer = Trainer(cfg, data or open_prepared(data_dir, cfg.data), Path(run_dir), rank, device, shown,
                          pretrained=not resume)
        if rank.main:  # the run folder appears only once the model is built: a bad config leaves nothing
            start_run_folder(Path(run_dir), cfg)
        trainer.fit(max_steps, resume)
    finally:
        distributed.close_group()


def loader_workers(configured: int | None, device: torch.device, world: int) -> int:
    """Crop-loading workers per rank: as configured, or (auto) none on CPU, where the training
    loop itself needs the cores, and on CUDA the cores shared out per rank less one, 2 to 8."""
    if configured is not None:
        return configured
    if device.type != "cuda":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(8, max(2, cores // world - 1))


def _memory_advice(tc: TrainConfig) -> str:
    """What to change after a training step ran out of memory, given how the run chose its checkpointing."""
    if tc.checkpointing == "auto":
        return ("let auto plan for less of the free memory (lower train.memory_fraction), or lower "
                "train.activation_memory_budget or data.crop_size")
    return ("let the first batch choose the checkpointing (--set train.checkpointing=auto --set "
            "model.region_batch=16), or lower train.activation_memory_budget or data.crop_size")


def _memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class TrainProgress:
    """What the training loop reports as it runs; this base shows nothing (``xtgeo train`` shows a bar)."""

    def start(self, total: int, done: int) -> None:
        """Training runs to step ``total``; ``done`` steps are already behind it (a resumed run)."""

    def update(self, step: int, row: dict[str, Any] | None = None) -> None:
        """Step ``step`` is done; ``row`` is the metrics row logged at it, if one was."""

    def validated(self, row: dict[str, Any]) -> None:
        """A validation is done: ``row`` is its metrics row (``step``, ``epoch``, ``val_*`` scores)."""

    def close(self) -> None:
        """Training has stopped (finished or failed)."""

    def note(self, text: str) -> None:
        """One line on what the run is doing before its first step (model built, compiling, probing)."""


class Trainer:
    """The training loop of one process: steps, logs, checkpoints, validation."""

    def __init__(self, cfg: Config, data: PreparedData, run_dir: Path, rank: distributed.Rank, device: torch.device,
                 progress: TrainProgress | None = None, pretrained: bool = True) -> None:
        """``pretrained=False`` skips the backbone's pretrained file (a resumed run restores its weights)."""
        self.started = time.perf_counter()
        self.cfg, self.data, self.run_dir, self.rank, self.device = cfg, data, run_dir, rank, device
        self.progress = progress or TrainProgress()
        torch.manual_seed(cfg.seed)
        model_cfg = cfg.model if pretrained else load_config(cfg, WEIGHTS_FROM_CHECKPOINT).model
        self.model = build_model(model_cfg).to(device)
        self.eager_reason = compile_stages(self.model, device) if cfg.train.compile else None
        self.compiled = cfg.train.compile and self.eager_reason is None
        self.loss = compile_function(xview3_loss) if self.compiled else xview3_loss
        self.graphs_before = compiled_graphs()  # rows hold the graphs compiled since (for this model)
        if self.eager_reason:
            warnings.warn(f"train.compile: running eagerly, torch.compile does not work here ({self.eager_reason})",
                          stacklevel=2)
        device_ids = [device.index] if device.type == "cuda" else None
        self.ddp = DistributedDataParallel(self.model, device_ids=device_ids) if rank.world > 1 else self.model
        self.optimizer, self.schedule = build_optimizer(self.model, cfg.train)
        bf16 = device.type == "cuda" and cfg.train.bf16
        # under bf16 autocast the model sees the image in bf16: a float16 copy loses nothing it uses
        self.dataset = CropDataset(data, cfg, torch.float16 if bf16 else torch.float32)
        self.step = 0
        self.workers = loader_workers(cfg.data.num_workers, device, rank.world)
        # per [loss, gradient]: the first step at which it was not finite, kept on the device so that
        # no step waits for the GPU; checked (check_finite) at log steps and before every checkpoint
        self.first_bad = torch.full((2,), _NONE_YET, dtype=torch.int64, device=device)
        #: The best validation so far: ``{"metric": BEST_METRIC, "value": ..., "step": ...}``.
        self.best: dict[str, Any] | None = None
        self.autocast = dict(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)
        self.build_s = time.perf_counter() - self.started

    # --- state -----------------------------------------------------------------------------
    def restore(self) -> None:
        """Load model, optimiser, schedule, step and RNG states from ``checkpoints/last.pt``."""
        path = checkpoint_path(self.run_dir)
        ckpt = load_checkpoint(path, map_location=self.device)
        load_weights(self.model, ckpt["model"], path)
        try:
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.schedule.load_state_dict(ckpt["scheduler"])
            self.step = int(ckpt["step"])
            self.best = ckpt.get("best")
            set_rng_state({k: v.cpu() for k, v in ckpt["rng"].items()})
        except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as err:
            raise XtgeoError(f"{path}: its optimiser, schedule or random state does not fit this run "
                             f"({reason(err)})") from None

    def save(self, periodic: bool = True, best: bool = False, calibration: Calibration | None = None) -> None:
        """Write (rank 0 only, each atomically) ``step_NNNNNN.pt`` and ``last.pt`` when ``periodic``,
        ``best.pt`` when ``best``; each holds the thresholds ``calibration`` chose at this step, and
        :attr:`best`, the best validation so far."""
        if not self.rank.main or not (periodic or best):
            return
        parts = dict(model=self.model.state_dict(), optimizer=self.optimizer.state_dict(),
                     scheduler=self.schedule.state_dict(), step=self.step, rng=rng_state(),
                     config=self.cfg.to_dict(), xtgeo_version=xtgeo.__version__)
        if self.best is not None:
            parts["best"] = dict(self.best)
        if calibration is not None:
            parts[CALIBRATION] = calibration.to_dict()
        paths = [checkpoint_path(self.run_dir, self.step), checkpoint_path(self.run_dir)] if periodic else []
        for path in paths + ([best_checkpoint_path(self.run_dir)] if best else []):
            save_checkpoint(path, **parts)

    # --- data ------------------------------------------------------------------------------
    def _loader(self, sampler: Any) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.cfg.train.batch_size, sampler=sampler,
                          num_workers=self.workers, pin_memory=self.device.type == "cuda",
                          prefetch_factor=4 if self.workers else None)

    def train_loader(self, epoch: int, done_steps: int) -> DataLoader:
        """This rank's batches of ``epoch``, leaving out the ``done_steps`` already trained."""
        per_epoch = self.cfg.train.epoch_steps * self.cfg.train.batch_size
        sampler = TrainSampler(self.data, self.cfg.data, per_epoch, self.cfg.seed, epoch, self.rank.rank,
                               self.rank.world, skip=done_steps * self.cfg.train.batch_size)
        return self._loader(sampler)

    # --- steps -----------------------------------------------------------------------------
    def train_step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step on a batch already on the device (:func:`~xtgeo.data.transfer.device_batches`);
        returns this rank's [loss, *parts] and the gradient norm, on the device.

        Nothing here waits for the GPU: a non-finite loss or gradient is only recorded (the first
        step of each, in :attr:`first_bad`); :meth:`check_finite` stops the run at the next log
        step or checkpoint, so no checkpoint is written after it.
        """
        self.ddp.train()
        loss, parts = self._loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.grad_clip)
        self.step += 1
        finite = torch.stack([torch.isfinite(loss.detach()), torch.isfinite(grad_norm)])
        self.first_bad = torch.minimum(self.first_bad, torch.where(finite, _NONE_YET, self.step))
        self.optimizer.step()
        self.schedule.step()
        return torch.stack([loss.detach(), *(parts[p] for p in PARTS)]).float(), grad_norm.detach()

    def _loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        with torch.autocast(**self.autocast):
            outputs = self.ddp(batch["image"])
        return self.loss(outputs, batch, self.cfg.loss)

    def check_finite(self) -> None:
        """Stop the run (all ranks) naming the first step with a non-finite loss or gradient."""
        first = distributed.all_min(self.first_bad.clone()).tolist()
        if min(first) < _NONE_YET:
            what = "loss" if first[0] <= first[1] else "gradient"
            last = checkpoint_path(self.run_dir)
            kept = f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint was written"
            raise XtgeoError(f"non-finite {what} at step {min(first)}: training stopped; {kept}")

    def plan_memory(self, batch: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
        """``train.checkpointing: auto`` on CUDA: measure the policies on ``batch`` and keep the
        thriftiest of those that fit and are nearly the fastest (:func:`xtgeo.train.memory.choose_policy`,
        the same on every rank); returns the probes as rows. RNG states are restored, so the run is
        the one it would have been."""
        if self.cfg.train.checkpointing != "auto" or self.device.type != "cuda":
            return []
        self.progress.note("measuring the checkpointing policies on the first batch (its first step compiles)")
        saved = rng_state()

        def step() -> None:
            self.ddp.train()
            self._loss(batch)[0].backward()
            self.optimizer.zero_grad(set_to_none=True)

        chosen, probes = choose_policy(self.model, step, self.device, self.cfg.train.memory_fraction,
                                       self.cfg.train.checkpointing_slowdown)
        index = int(distributed.all_max(torch.tensor([POLICIES.index(chosen)], device=self.device)))
        apply_policy(self.model, POLICIES[index])  # the most checkpointed choice of all ranks
        set_rng_state(saved)
        measured = ", ".join(f"{p.policy} {p.seconds:.2f} s {p.peak_gib:.1f} GiB" if p.fits else f"{p.policy} too big"
                             for p in probes)
        self.progress.note(f"checkpointing {POLICIES[index]} ({measured})")
        return [{"policy": p.policy, "step_s": p.seconds, "peak_gib": p.peak_gib} for p in probes]

    @torch.inference_mode()  # as predict's: the compiled stages' graphs for inference serve both
    def validate(self) -> dict[str, float]:
        """Mean loss over the validation scenes' grid crops (all ranks), plus score keys if asked."""
        items = validation_items(self.data, self.cfg.data, self.rank.rank, self.rank.world)
        total = torch.zeros(len(PARTS) + 2, dtype=torch.float64)
        self.model.eval()
        for batch in device_batches(self._loader(items), self.device):
            with torch.autocast(**self.autocast):
                outputs = self.model(batch["image"])
            loss, parts = self.loss(outputs, batch, self.cfg.loss)
            n = len(batch["image"])
            total += torch.tensor([float(loss) * n, *(float(parts[p]) * n for p in PARTS), n], dtype=torch.float64)
        total = distributed.all_sum(total.to(self.device)).cpu()
        count = max(float(total[-1]), 1.0)
        return {"val_loss": float(total[0]) / count,
                **{f"val_{p}": float(v) / count for p, v in zip(PARTS, total[1:-1])}}

    def score_scenes(self) -> Calibration | None:
        """Full-scene ``predict`` of the validation scenes (spread over the ranks) at the lowest centre
        threshold searched, then, on rank 0, the threshold calibration on them: the official xView3
        scores at the config's thresholds and at the calibrated ones (None on the other ranks)."""
        import pandas as pd

        from xtgeo.predict.detections import concat_frames
        from xtgeo.predict.inference import Predictor
        from xtgeo.predict.scene import PredictOptions
        from xtgeo.predict.sources import open_prepared_scene
        from xtgeo.scene.prepared import SHORELINE_DIR

        predictor = Predictor(self.model, self.device, self.cfg.train.batch_size)
        window = self.cfg.data.val_window_size or self.cfg.data.crop_size
        mine = [open_prepared_scene(self.data.scenes[i].path.parent)
                for i in self.data.val_ids[self.rank.rank :: self.rank.world]]
        frames = distributed.gather([predict_candidates(mine, predictor, self.cfg,
                                                        PredictOptions(window_size=window, overlap=window // 4))])
        if not self.rank.main:
            return None
        ids = [self.data.scenes[i].scene_id for i in self.data.val_ids]
        labels = pd.concat([self.data.labels[i] for i in self.data.val_ids], ignore_index=True)
        shore_root = self.data.scenes[0].path.parent.parent / SHORELINE_DIR
        return search_thresholds(concat_frames(frames), labels, shore_root, self.cfg.postprocess, ids)

    def _validate_and_save(self, epoch: int, final: bool, log: RunLog | None) -> None:
        """At the end of an epoch, validate (and calibrate the thresholds); then write the checkpoints
        due: ``last.pt`` and the step's file every ``checkpoint_every`` steps and at the end,
        ``best.pt`` when the validation aggregate (:data:`BEST_METRIC`) is the best so far."""
        tc = self.cfg.train
        calibration, improved = None, False
        if self.step % tc.epoch_steps == 0 and tc.validation != "none" and self.data.val_ids:
            self.check_finite()
            row = {"step": self.step, "epoch": epoch, **self.validate()}
            if tc.validation == "score":
                calibration = self.score_scenes()
                row.update(validation_scores(calibration) if calibration else {})
            if log:
                log.log(row)
            self.progress.validated(row)
            if calibration is not None and (self.best is None or calibration.after > self.best["value"]):
                self.best = {"metric": BEST_METRIC, "value": calibration.after, "step": self.step}
                improved = True
        periodic = self.step % tc.checkpoint_every == 0 or final
        if periodic:
            self.check_finite()
        self.save(periodic=periodic, best=improved, calibration=calibration)

    # --- loop ------------------------------------------------------------------------------
    def fit(self, max_steps: int | None, resume: bool) -> None:
        """Train until ``train.steps`` (or ``max_steps``), logging, checkpointing and validating."""
        tc = self.cfg.train
        if resume:
            self.restore()
        stop = min(max_steps or tc.steps, tc.steps)
        log = RunLog(self.run_dir, resume_step=self.step if resume else None) if self.rank.main else None
        try:
            with activation_budget(tc.activation_memory_budget):  # read where a step compiles its backward
                self._loop(stop, log)
        except torch.OutOfMemoryError as err:
            raise XtgeoError(f"out of memory on {self.device} at step {self.step + 1} ({_memory_gib(self.device):.1f} "
                             f"GiB at the peak): {_memory_advice(tc)}") from err
        finally:
            if log:
                log.close()

    def _graph_count(self) -> dict[str, int]:
        """With ``train.compile``, ``compiled_graphs``: graphs compiled since the model was built (a few
        per stage for training, more per input shape validation uses; a count that grows from one
        logged step to the next means recompiling)."""
        return {"compiled_graphs": compiled_graphs() - self.graphs_before} if self.cfg.train.compile else {}

    def _log_startup(self, probes: list[dict[str, Any]], probe_s: float, step_started: float,
                     log: RunLog | None) -> None:
        """After the first step of this process: one row of where the start-up went, also shown as a
        note: ``startup_s`` from building the model to the end of this step, of which ``probe_s``
        in the checkpointing probe and ``first_step_s`` in the step (with ``train.compile``, the
        probe compiles, or the first step where there is no probe)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # once: the figures include the GPU's work
        done = time.perf_counter()
        startup = done - self.started
        row: dict[str, Any] = {"step": self.step, "startup_s": startup, "probe_s": probe_s,
                               "first_step_s": done - step_started,
                               "checkpointing": current_policy(self.model)}
        if probes:
            row["probes"] = probes
        row.update(self._graph_count())
        self.progress.note(f"first step done {startup:.1f} s after the start (checkpointing probe "
                           f"{probe_s:.1f} s, first step {row['first_step_s']:.1f} s)")
        if log:
            log.log(row)

    def _loop(self, stop: int, log: RunLog | None) -> None:
        tc = self.cfg.train
        region = self.cfg.model.region_size
        window = torch.zeros(len(PARTS) + 1, device=self.device)  # summed on the device: no per-step sync
        window_steps, window_regions, window_wait, window_start = 0, 0, 0.0, time.perf_counter()
        extra: dict[str, Any] = {"workers": self.workers}
        if tc.compile:
            extra["compiled"] = self.eager_reason is None
        self.progress.start(stop, self.step)
        compiling = "; backbone and decoder compile at the first step" if self.compiled else ""
        self.progress.note(f"model built in {self.build_s:.1f} s{compiling}")
        try:
            while self.step < stop:
                epoch, done = divmod(self.step, tc.epoch_steps)
                batches = device_batches(self.train_loader(epoch, done), self.device)
                while True:
                    waited = time.perf_counter()
                    batch = next(batches, None)
                    if batch is None:
                        break
                    window_wait += time.perf_counter() - waited
                    first = "checkpointing" not in extra
                    if first:
                        probe_started = time.perf_counter()
                        probes = self.plan_memory(batch)
                        extra["checkpointing"] = current_policy(self.model)
                        window_start, window_wait = time.perf_counter(), 0.0  # the probe, first wait: start-up
                        if not probes and self.compiled:
                            self.progress.note("first step (compiling)")
                    stats, grad_norm = self.train_step(batch)
                    if first:
                        self._log_startup(probes, window_start - probe_started, window_start, log)
                    logged = None
                    window += stats
                    window_steps += 1
                    window_regions += len(batch["image"]) * crop_regions(batch["image"].shape, region) * self.rank.world
                    final = self.step >= stop
                    if self.step % tc.log_every == 0 or final:
                        self.check_finite()
                        means = (distributed.all_sum(window.clone()) / (self.rank.world * window_steps)).tolist()
                        elapsed = time.perf_counter() - window_start  # the GPU has caught up: tolist() waited
                        row = {"step": self.step, "epoch": epoch, "loss": means[0], **dict(zip(PARTS, means[1:])),
                               "lr": self.schedule.get_last_lr()[0], "grad_norm": float(grad_norm),
                               "regions_per_s": window_regions / max(elapsed, 1e-9),
                               "data_wait_fraction": window_wait / max(elapsed, 1e-9),
                               "memory_gib": _memory_gib(self.device), **extra, **self._graph_count()}
                        if log:
                            log.log(row)
                        logged = row
                        window.zero_()
                        window_steps, window_regions, window_wait, window_start = 0, 0, 0.0, time.perf_counter()
                    paused = time.perf_counter()
                    self._validate_and_save(epoch, final, log)
                    window_start += time.perf_counter() - paused  # regions/s counts training time only
                    self.progress.update(self.step, logged)
                    if final:
                        break
                if self.step >= stop:
                    break
        finally:
            self.progress.close()
