"""``xtgeo score``: read and validate the CSVs, score, print a rich table, write JSON / per-scene CSV."""

from __future__ import annotations

import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from xtgeo.atomic import atomic_path, check_distinct, check_output, write_json
from xtgeo.errors import ConfigError, SceneError
from xtgeo.metrics import ScoreOptions, ScoreResult, score
from xtgeo.schema import check_inside_scenes, read_labels, read_predictions


def run(
    pred_csv: Path,
    labels_csv: Path,
    *,
    shore_root: Path | None = None,
    shore_from: Path | None = None,
    json_out: Path | None = None,
    per_scene_csv: Path | None = None,
    options: ScoreOptions = ScoreOptions(),
    console: Console | None = None,
) -> ScoreResult:
    """Score ``pred_csv`` against ``labels_csv`` and report; raises XtgeoError on bad input."""
    console = console or Console()
    shore_root = _shore_root(shore_root, shore_from)
    inputs = (pred_csv, labels_csv, shore_root)
    for path, flag in ((json_out, "--json"), (per_scene_csv, "--per-scene")):
        if path is not None:
            check_output(path, inputs, flag=flag)
    check_distinct(json_out, per_scene_csv)
    predictions = read_predictions(pred_csv)
    labels = read_labels(labels_csv)
    if shore_from is not None:  # the preprocessed scenes give the scene sizes
        from xtgeo.scene import prepared  # imports rasterio: only when asked

        shapes = {sid: (meta["height"], meta["width"]) for sid in predictions["scene_id"].unique()
                  if (meta := prepared.read_meta(shore_from, sid)) is not None}
        check_inside_scenes(predictions, shapes, Path(pred_csv).name)
        check_inside_scenes(labels, shapes, Path(labels_csv).name)
    if labels.empty:
        raise ConfigError(f"{labels_csv}: no labels (header only)")
    if options.scene_ids is not None:
        unknown = sorted(set(options.scene_ids) - set(labels["scene_id"]))
        if unknown:
            raise ConfigError(f"{labels_csv}: unknown scene id(s) {', '.join(unknown)} (not in the labels)")
    result = score(predictions, labels, shore_root, options)
    console.print(result_table(result, pred_csv, labels_csv, shore_root))
    if result.n_ignored_predictions:
        console.print(
            f"[yellow]note:[/] {result.n_ignored_predictions} prediction(s) in scenes without "
            f"HIGH/MEDIUM labels were not scored (as the official scorer does)", soft_wrap=True
        )
    if not all(math.isfinite(v) for v in result.scores().values()):
        console.print("[yellow]note:[/] a matched prediction has no length; length_acc and the aggregate are NaN, "
                      "as official" + (" (null in --json)" if json_out is not None else ""), soft_wrap=True)
    if json_out is not None:
        write_json(json_out, result.to_json_dict())
    if per_scene_csv is not None:
        with atomic_path(per_scene_csv) as tmp:
            result.per_scene.to_csv(tmp, index=False)
    return result


def _shore_root(shore_root: Path | None, shore_from: Path | None) -> Path | None:
    """The shoreline folder: ``--shore-root`` as given, or ``PREP_DIR/shoreline`` for ``--shore-from``."""
    if shore_root is not None and shore_from is not None:
        raise ConfigError("give --shore-root or --shore-from, not both")
    if shore_from is not None:
        from xtgeo.scene.prepared import SHORELINE_DIR  # imports rasterio: only when asked

        shore_root = Path(shore_from) / SHORELINE_DIR
    root = shore_root
    if root is not None and not Path(root).is_dir():
        raise SceneError(f"{root}: no such shoreline folder")
    return root


def result_table(result: ScoreResult, pred_csv: Path, labels_csv: Path, shore_root: Path | None) -> Table:
    """Precision/recall/F1 and counts per task, length accuracy and the aggregate, as a rich table."""
    table = Table(title=f"xView3 score: {Path(pred_csv).name} vs {Path(labels_csv).name}")
    for column in ("task", "precision", "recall", "F1", "TP", "FP", "FN"):
        table.add_column(column, justify="left" if column == "task" else "right")
    names = {
        "loc": "detection (F1_D)",
        "loc_shore": "close to shore (F1_S)" if shore_root else "close to shore (F1_S, no shoreline)",
        "vessel": "vessel (F1_V)",
        "fishing": "fishing (F1_F)",
    }
    for key, task in result.tasks().items():
        precision, recall, f1 = task.prf
        table.add_row(names[key], f"{precision:.4f}", f"{recall:.4f}", f"{f1:.4f}", str(task.tp), str(task.fp),
                      str(task.fn))
    table.add_row("length accuracy", "", "", f"{result.length_acc:.4f}", f"{result.length_pairs} pairs", "", "")
    table.add_row("[bold]aggregate[/]", "", "", f"[bold]{result.aggregate:.4f}[/]", "", "", "")
    table.caption = (
        f"{result.n_scenes} scenes, {result.n_predictions} predictions scored "
        f"({result.n_dropped_low} dropped as matches of LOW labels), {result.n_labels} labels"
    )
    return table
