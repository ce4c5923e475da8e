"""The xView3 task: the model's four heads, and for each how it is produced, trained and read.

One row per head, in the order of the model's output channels. Every part of xtgeo that handles
heads reads this table instead of spelling their names: the output layer
(:class:`xtgeo.models.heads.XView3Heads`), the training targets (:mod:`xtgeo.data.targets`), the
losses (:mod:`xtgeo.train.losses`), inference (:mod:`xtgeo.predict.inference`), the blended maps
(:mod:`xtgeo.predict.windows`) and their decoding into detections (:mod:`xtgeo.predict.postprocess`).
Imports nothing but the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Head:
    """One output map of the model."""

    name: str
    #: What the model outputs: ``logit`` (a probability after a sigmoid) or ``metres`` (already a
    #: length: ``length_scale · softplus`` inside the model).
    activation: str
    #: The target drawn from labels: ``gaussian`` (around every object centre), ``disc_class``
    #: (the label column's True/False on a disc around the object) or ``disc_value`` (its value there).
    target: str
    #: The xView3 label column the target comes from and the detection column it decodes into.
    label_column: str | None
    #: The loss: ``center`` (``loss.center``: focal or MSE), ``bce_dice`` or ``relative_l1``.
    loss: str
    #: Key of the head's weight in the ``loss`` config section.
    weight_key: str
    #: Decoding of the blended map: ``peaks`` (detections are its local maxima, above
    #: ``postprocess.<name>_threshold``; nodata pixels are 0), ``threshold`` (the probability at a
    #: peak against ``postprocess.<name>_threshold``) or ``value`` (read at a peak, at least 0).
    decoding: str
    #: A ``threshold`` head is True only where this head's decision is True (fishing vessels are vessels).
    within: str | None = None

    @property
    def threshold_key(self) -> str:
        """Key of the head's threshold in the ``postprocess`` config section."""
        return f"{self.name}_threshold"

    @property
    def score_column(self) -> str | None:
        """Detection column of the probability at a peak (``score`` for the peak head)."""
        return {"peaks": "score", "threshold": f"{self.name}_score"}.get(self.decoding)


HEADS: tuple[Head, ...] = (
    Head("center", "logit", "gaussian", None, "center", "center_weight", "peaks"),
    Head("vessel", "logit", "disc_class", "is_vessel", "bce_dice", "vessel_weight", "threshold"),
    Head("fishing", "logit", "disc_class", "is_fishing", "bce_dice", "fishing_weight", "threshold", within="vessel"),
    Head("length", "metres", "disc_value", "vessel_length_m", "relative_l1", "length_weight", "value"),
)
HEAD_NAMES: tuple[str, ...] = tuple(head.name for head in HEADS)
#: The head whose peaks are the detections.
PEAK_HEAD: Head = next(head for head in HEADS if head.decoding == "peaks")
#: Detection columns of the probabilities at the peaks, in head order.
SCORE_COLUMNS: tuple[str, ...] = tuple(head.score_column for head in HEADS if head.score_column)
#: Batch key of the mask that switches the peak head's loss off (near LOW-confidence objects).
PEAK_LOSS_MASK = f"{PEAK_HEAD.name}_weight"
