"""Augmentation by the 8 symmetries of the square (flips and 90°/180°/270° rotations).

A symmetry is a code 0..7: ``code % 4`` quarter turns, then a left-right flip when ``code >= 4``.
The same code is applied to the image and to every target map, so they stay aligned.
"""

from __future__ import annotations

import torch

SYMMETRIES = 8


def dihedral(tensor: torch.Tensor, code: int) -> torch.Tensor:
    """``tensor`` (..., H, W) turned by ``code % 4`` quarter turns, then flipped if ``code >= 4``."""
    if not 0 <= code < SYMMETRIES:
        raise ValueError(f"symmetry code must be in 0..7, got {code}")
    out = torch.rot90(tensor, code % 4, dims=(-2, -1))
    return torch.flip(out, dims=(-1,)) if code >= 4 else out


def augment_sample(sample: dict[str, torch.Tensor], code: int) -> dict[str, torch.Tensor]:
    """Every tensor of ``sample`` (image and target maps) transformed by the same symmetry."""
    return {key: dihedral(value, code) if isinstance(value, torch.Tensor) else value for key, value in sample.items()}
