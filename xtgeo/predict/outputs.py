"""Where ``xtgeo predict`` writes each scene's files, and which scenes a rerun may skip.

With an output folder (``--out-dir DIR``) every scene gets its detections in ``DIR/<scene_id>.<format>``
and, when asked for, its heatmap and quicklook beside them, named ``<stem>_<scene_id><suffix>`` after
the file names given (``--heatmap heat.tif`` → ``DIR/heat_<scene_id>.tif``). A scene whose files are
all there is done: a rerun skips it. Without an output folder, a heatmap or quicklook path is used
as given for one scene, and as ``<stem>_<scene_id><suffix>`` beside it for each of several.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from xtgeo.atomic import check_distinct, check_output
from xtgeo.errors import XtgeoError
from xtgeo.predict.detections import WRITERS, check_output_path

#: Detection file formats, by extension.
FORMATS: tuple[str, ...] = tuple(suffix.lstrip(".") for suffix in WRITERS)


@dataclass(frozen=True)
class SceneFiles:
    """One scene's output files; None where not asked for (``detections``: only with an output folder)."""

    scene_id: str
    detections: Path | None = None
    heatmap: Path | None = None
    quicklook: Path | None = None

    def wanted(self) -> list[Path]:
        """The files this scene is to have."""
        return [p for p in (self.detections, self.heatmap, self.quicklook) if p is not None]

    def done(self) -> bool:
        """True when the scene has a detections file and every other file it is to have."""
        return self.detections is not None and all(p.is_file() for p in self.wanted())


def per_scene_path(path: Path, scene_id: str, folder: Path | None = None) -> Path:
    """``<stem>_<scene_id><suffix>`` of ``path``, in ``folder`` (default: beside ``path``)."""
    return (folder or path.parent) / f"{path.stem}_{scene_id}{path.suffix}"


@dataclass(frozen=True)
class OutputPlan:
    """The output flags of ``xtgeo predict``: a merged detections file, an output folder of one file
    per scene (in ``fmt``), and heatmap / quicklook names."""

    out: Path | None = None
    out_dir: Path | None = None
    fmt: str | None = None
    heatmap: Path | None = None
    quicklook: Path | None = None

    @property
    def format(self) -> str:
        """Extension of the per-scene files: ``fmt``, else that of ``out``, else csv."""
        if self.fmt is not None:
            return self.fmt.lower().lstrip(".")
        return self.out.suffix.lower().lstrip(".") if self.out is not None else "csv"

    def check(self, inputs: Iterable[str | os.PathLike] = ()) -> None:
        """Fail early (XtgeoError naming the flag) on outputs that cannot be written, or that are one of
        the ``inputs`` or each other."""
        inputs = tuple(inputs)
        if self.out is None and self.out_dir is None:
            raise XtgeoError("give --out FILE (all detections in one file) or --out-dir DIR (one file per scene)")
        if self.out is not None:
            check_output_path(self.out, inputs)
        if self.format not in FORMATS:
            raise XtgeoError(f"--format {self.fmt}: not a detections format; use one of {', '.join(FORMATS)}")
        if self.out_dir is not None:  # it may hold inputs: only files named after the scenes are written
            check_output(self.out_dir, folder=True, flag="--out-dir")
        for flag, path, suffix in (("--heatmap", self.heatmap, ".tif"), ("--quicklook", self.quicklook, ".png")):
            if path is None:
                continue
            if path.suffix.lower() != suffix:
                raise XtgeoError(f"{flag} {path}: must be a {suffix} file")
            if self.out_dir is None:
                check_output(path, inputs, flag=flag)
        check_distinct(self.out, *((self.heatmap, self.quicklook) if self.out_dir is None else ()))

    def files(self, scene_id: str, many: bool) -> SceneFiles:
        """The files of one scene; ``many``: more than one scene is predicted."""
        folder = self.out_dir

        def extra(path: Path | None) -> Path | None:
            if path is None:
                return None
            return per_scene_path(path, scene_id, folder) if folder is not None or many else path

        detections = folder / f"{scene_id}.{self.format}" if folder is not None else None
        return SceneFiles(scene_id, detections, extra(self.heatmap), extra(self.quicklook))

