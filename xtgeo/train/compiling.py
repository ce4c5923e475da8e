"""``train.compile``: ``torch.compile`` of the model's pixel stages, or a clean fallback to eager."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch

#: The ``torch.compile`` backend of training (tests set ``eager``: dynamo's tracing, guards and
#: recompilations without inductor's code generation).
BACKEND = "inductor"


def compile_problem(device: torch.device) -> str | None:
    """Why ``torch.compile`` cannot run on ``device`` here (no C++ compiler on a CPU, no Triton on
    a GPU, …), found by compiling a one-line function; None when it can."""
    try:
        torch.compile(lambda x: x * 2 + 1, backend=BACKEND)(torch.ones(4, device=device))
    except Exception as err:  # whatever the backend raises: the run goes on eagerly
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return f"{type(err).__name__}: {first[:200]}"
    return None


def compile_stages(model: torch.nn.Module, device: torch.device) -> str | None:
    """Compile the stages of ``model`` (:meth:`~xtgeo.models.xt.XT.compile_stages`) if ``torch.compile``
    works on ``device``; returns None when compiled, else the reason it runs eagerly."""
    problem = compile_problem(device)
    if problem is None:
        model.compile_stages(backend=BACKEND)
    return problem


def compile_function(function: Callable) -> Callable:
    """``function`` through ``torch.compile`` with the training backend (for the loss: fused, its
    dozens of full-crop float32 passes become a few)."""
    return torch.compile(function, backend=BACKEND)


def activation_budget(budget: float) -> AbstractContextManager:
    """A context in which ``torch.compile`` plans backward passes under ``budget``: the share (0–1]
    of the activations its default plan saves that it may save; it recomputes the cheapest of the
    rest in backward (``train.activation_memory_budget``). Graphs compiled inside keep their plan."""
    return torch._functorch.config.patch(activation_memory_budget=budget)


def compiled_graphs() -> int:
    """How many graphs ``torch.compile`` has made in this process so far (one per stage and input
    shape, grad mode or train/eval mode: a number that grows from step to step means recompiling)."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])
