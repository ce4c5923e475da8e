"""Context encoders, one module per kind; the registry is the list of kinds (timm's pattern).

Every kind module registers its encoder class when imported (:func:`~.base.register`); this
package imports them all, so :data:`CONTEXT_KINDS` is exactly what can be built. A new kind is a
new module here and one import line below. Kinds are checked once, by the config validator
(:func:`xtgeo.config.check_model`).
"""

from __future__ import annotations

from typing import Any

from xtgeo.models.context import bixt, hyper, mamba, none, vit, xl  # noqa: F401  (each registers its kind)
from xtgeo.models.context.base import REGISTRY, ContextEncoder, sincos_2d

__all__ = ["CONTEXT_KINDS", "ContextEncoder", "build_context_encoder", "context_encoder_class", "sincos_2d"]

#: The context kinds, as registered.
CONTEXT_KINDS: tuple[str, ...] = tuple(REGISTRY)


def context_encoder_class(kind: str) -> type[ContextEncoder]:
    """The encoder class of ``kind`` (one of :data:`CONTEXT_KINDS`)."""
    return REGISTRY[kind]


def build_context_encoder(kind: str, dim: int, depth: int, heads: int, **options: Any) -> ContextEncoder:
    """Build the context encoder ``kind`` (one of :data:`CONTEXT_KINDS`) with its options."""
    return REGISTRY[kind](dim=dim, depth=depth, heads=heads, **options)
