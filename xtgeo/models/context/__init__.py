"""Context encoders, one module per kind, built by name with :func:`build_context_encoder`."""

from __future__ import annotations

import importlib
from typing import Any

from xtgeo.models.context.base import CONTEXT_KINDS, ContextEncoder, registered, sincos_2d

__all__ = ["CONTEXT_KINDS", "ContextEncoder", "build_context_encoder", "sincos_2d"]


def build_context_encoder(kind: str, dim: int, depth: int, heads: int, **options: Any) -> ContextEncoder:
    """Build the context encoder ``kind`` (one of :data:`CONTEXT_KINDS`) with its options."""
    if kind not in CONTEXT_KINDS:
        raise ValueError(f"unknown context kind {kind!r}; choose one of {', '.join(CONTEXT_KINDS)}")
    importlib.import_module(f"xtgeo.models.context.{kind}")
    return registered(kind)(dim=dim, depth=depth, heads=heads, **options)
