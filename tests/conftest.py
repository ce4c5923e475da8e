"""Shared fixtures: a tiny synthetic xView3 dataset written once per test session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

#: The shared dataset: scenes × rows × columns and the seed (a few seconds on 2 cores).
SYNTH_SCENES, SYNTH_HEIGHT, SYNTH_WIDTH, SYNTH_SEED = 2, 768, 1024, 0


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of 2 synthetic scenes (768 × 1024) with ``labels.csv`` and ``shoreline/``; treat as read-only."""
    from xtgeo.synth import make_dataset

    out = tmp_path_factory.mktemp("synth") / "dataset"
    make_dataset(out, scenes=SYNTH_SCENES, height=SYNTH_HEIGHT, width=SYNTH_WIDTH, seed=SYNTH_SEED)
    return out


@pytest.fixture(scope="session")
def prepared_dataset(synth_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``synth_dataset`` preprocessed: PREP_DIR with scene.tif per scene, shoreline/, labels.parquet; read-only."""
    from dask.distributed import Client, LocalCluster

    from xtgeo.preprocess.run import run_preprocess

    out = tmp_path_factory.mktemp("prepared") / "prep"
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            report = run_preprocess(synth_dataset, out, synth_dataset / "labels.csv", client=client)
    assert not report.failed
    return out


@pytest.fixture(scope="session")
def smoke_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of the smoke model in the training format (weights as initialised, seed 0); read-only."""
    import torch

    from tests.paths import SMOKE_CONFIG
    from xtgeo.config import load_config
    from xtgeo.models import build_model
    from xtgeo.train.checkpoint import save_checkpoint

    config = load_config(SMOKE_CONFIG)
    torch.manual_seed(0)
    model = build_model(config.model)
    return save_checkpoint(tmp_path_factory.mktemp("smoke") / "smoke.pt", model=model.state_dict(),
                           config=config.to_dict(), step=0, xtgeo_version="test")


@pytest.fixture
def xtgeo_cli(capsys: pytest.CaptureFixture) -> Callable[..., tuple[int, str, str]]:
    """Run ``xtgeo ARGS`` in this process as the console script does: (exit status, stdout, stderr)."""
    import cli

    def run(*args: object) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            cli.main([str(a) for a in args])
            status = 0
        except SystemExit as exit_:
            status = exit_.code
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture(scope="session")
def smoke_run(prepared_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-step smoke training run on ``prepared_dataset`` (one validation scene, scored and calibrated
    at steps 6 and 12): ``checkpoints/step_000006.pt``, ``step_000012.pt``, ``last.pt``, ``best.pt``;
    read-only."""
    from tests.paths import SMOKE_CONFIG
    from xtgeo.train.trainer import run_training

    overrides = ("data.object_fraction=1.0", "data.val_scenes_count=1", "data.val_stride_fraction=2",
                 "train.steps=12", "train.epoch_steps=6", "train.checkpoint_every=6")
    return run_training(SMOKE_CONFIG, prepared_dataset, tmp_path_factory.mktemp("smoke") / "run", overrides=overrides)
