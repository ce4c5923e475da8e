"""``xtgeo calibrate``: a checkpoint and labelled prepared scenes → a checkpoint with calibrated thresholds.

The scenes are predicted once (:func:`xtgeo.train.calibrate.predict_candidates`, with a progress
bar), the thresholds searched (:func:`xtgeo.train.calibrate.search_thresholds`), and the input
checkpoint written again, with its ``calibration`` entry, to a new file (atomically); the input is
never replaced. A table shows the scores before and after; ``--json`` writes them.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipelines.progress import progress_for
from xtgeo.atomic import check_distinct, check_output, write_json
from xtgeo.config import PostprocessConfig
from xtgeo.metrics import SCORE_KEYS
from xtgeo.predict.scene import PredictOptions, load_model, resolve_devices, scene_windows
from xtgeo.train.calibrate import Calibration, open_labelled, predict_candidates, search_thresholds
from xtgeo.train.checkpoint import CALIBRATION, load_checkpoint, save_checkpoint


def run(
    checkpoint: str | os.PathLike,
    prep_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    scene_ids: list[str] | None = None,
    json_out: str | os.PathLike | None = None,
    options: PredictOptions = PredictOptions(),
    console: Console | None = None,
) -> Calibration:
    """Calibrate ``checkpoint``'s thresholds on the labelled scenes of ``prep_dir`` (or ``scene_ids``),
    write the calibrated checkpoint to ``out`` and, if asked, the scores to ``json_out``."""
    console = console or Console(stderr=True)
    checkpoint, out = Path(checkpoint), Path(out)
    check_output(out, [checkpoint, prep_dir], flag="--out")  # never the input checkpoint
    if json_out is not None:
        check_output(json_out, [checkpoint, prep_dir], flag="--json")
    check_distinct(out, json_out)
    options.check()
    saved = load_checkpoint(checkpoint)
    model, config = load_model(checkpoint)
    scenes = open_labelled(prep_dir, scene_ids)
    predictor = options.predictor(model, resolve_devices(options.device)[0])
    total = sum(len(scene_windows(s, options.window_size, options.overlap)) for s in scenes.sources)
    with progress_for(console) as progress:
        task = progress.add_task(f"predicting {len(scenes.sources)} scene(s)", total=total)
        candidates = predict_candidates(scenes.sources, predictor, config, options,
                                        on_windows=lambda n: progress.advance(task, n))
    calibration = search_thresholds(candidates, scenes.labels, scenes.shore_root, config.postprocess,
                                    scenes.scene_ids)
    save_checkpoint(out, **{**saved, CALIBRATION: calibration.to_dict()})
    if json_out is not None:
        write_json(json_out, calibration.to_dict())
    console.print(calibration_table(calibration, config.postprocess, out))
    return calibration


def calibration_table(calibration: Calibration, start: PostprocessConfig, out: Path) -> Table:
    """Thresholds and scores before (the checkpoint's) and after (calibrated)."""
    table = Table(title=f"calibrated on {len(calibration.scenes)} scene(s) → {out}")
    for column in ("", "before", "after"):
        table.add_column(column, justify="left" if not column else "right")
    for key, value in calibration.thresholds.items():
        table.add_row(key, f"{getattr(start, key):g}", f"{value:g}")
    for key in SCORE_KEYS:
        bold = "[bold]" if key == "aggregate" else ""
        table.add_row(f"{bold}{key}", f"{bold}{calibration.scores_before[key]:.4f}",
                      f"{bold}{calibration.scores_after[key]:.4f}")
    return table
