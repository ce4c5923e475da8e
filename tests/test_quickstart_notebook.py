"""``notebooks/quickstart.ipynb`` runs top to bottom (nbclient) and shows maps and detections."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from tests.paths import REPO

NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"


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
    warnings = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not warnings, warnings  # no widget warnings (tqdm, rich), nor any other
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # scene + heatmap figure, and the map
    assert (work / "detections.gpkg").is_file() and (work / "detections.csv").is_file()
