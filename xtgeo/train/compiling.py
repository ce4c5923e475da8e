"""``train.compile``: ``torch.compile`` of the model's pixel stages, or a clean fallback to eager."""

from __future__ import annotations

import torch


def compile_problem(device: torch.device) -> str | None:
    """Why ``torch.compile`` cannot run on ``device`` here (no C++ compiler on a CPU, no Triton on
    a GPU, …), found by compiling a one-line function; None when it can."""
    try:
        torch.compile(lambda x: x * 2 + 1)(torch.ones(4, device=device))
    except Exception as err:  # whatever the backend raises: the run goes on eagerly
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return f"{type(err).__name__}: {first[:200]}"
    return None


def compile_pixel_stages(model: torch.nn.Module, device: torch.device) -> str | None:
    """Compile the backbone and decoder of ``model`` if ``torch.compile`` works on ``device``;
    returns None when compiled, else the reason it runs eagerly."""
    problem = compile_problem(device)
    if problem is None:
        model.compile_pixel_stages()
    return problem
