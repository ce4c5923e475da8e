"""``notebooks/quickstart.ipynb`` runs top to bottom (nbclient) and shows maps and detections."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from tests.paths import REPO
from xtgeo.config import load_config
from xtgeo.models import build_model
from xtgeo.train.checkpoint import save_checkpoint

NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"


@pytest.fixture
def smoke_checkpoint(tmp_path) -> Path:
    """A checkpoint of the smoke model in the training format (weights as initialised)."""
    config = load_config(REPO / "configs" / "smoke.yaml")
    torch.manual_seed(0)
    model = build_model(config.model)
    return save_checkpoint(tmp_path / "smoke.pt", model=model.state_dict(), config=config.to_dict(), step=0,
                           xtgeo_version="test")


def test_quickstart_runs_top_to_bottom(smoke_checkpoint, tmp_path, monkeypatch):
    work = tmp_path / "work"
    monkeypatch.setenv("XTGEO_CHECKPOINT", str(smoke_checkpoint))
    monkeypatch.setenv("XTGEO_QUICKSTART_DIR", str(work))
    monkeypatch.setenv("XTGEO_REPO", str(REPO))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # scene + heatmap figure, and the map
    assert (work / "detections.gpkg").is_file() and (work / "detections.csv").is_file()
