"""xView3 scoring: the official metric, exactly, with fast KD-tree matching.

``score(predictions, labels, shore_root=None, options=ScoreOptions())`` returns a
:class:`ScoreResult` whose ``scores()`` are the official keys ``loc_fscore, loc_fscore_shore,
vessel_fscore, fishing_fscore, length_acc, aggregate``.
"""

from xtgeo.metrics.scoring import SCORE_KEYS, ScoreOptions, ScoreResult, Task, score

__all__ = ["SCORE_KEYS", "ScoreOptions", "ScoreResult", "Task", "score"]
