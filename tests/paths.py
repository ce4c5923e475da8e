"""Paths the tests share: the repository, its smoke config, and the real xView3 labels beside it."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SMOKE_CONFIG = REPO / "configs" / "smoke.yaml"
#: ``../shared/data`` next to the checkout; tests that need it are skipped where it is absent.
REAL_LABELS = REPO.parent / "shared" / "data" / "xview3_validation_labels.csv"
