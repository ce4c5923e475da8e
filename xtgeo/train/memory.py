"""Activation-checkpointing policy: which stages (backbone, context, decoder) recompute in backward.

``train.checkpointing: config`` keeps the model section's own ``grad_checkpointing`` flags;
``auto`` measures, once at the start of a CUDA run, one training step (forward + loss + backward,
no optimiser step) on the first batch under each policy of :data:`POLICIES`. Of the policies whose
peak memory fits in ``train.memory_fraction`` of the GPU memory that was free before the model ran,
it keeps the one using least memory among those at most ``train.checkpointing_slowdown`` slower
than the fastest: memory left free serves validation, larger crops or other runs on the GPU. A
policy that runs out of memory is skipped; if none fits, every stage is checkpointed.

The probe costs two steps per policy, the first untimed (where ``torch.compile`` compiles):
checkpointing wraps the compiled stages, so no policy compiles them again, except the decoder
once more for the band shape of the policies that checkpoint it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

STAGES = ("backbone", "context", "decoder")
#: Candidate policies, least recomputation first.
POLICIES = ("none", "decoder", "context+decoder", "backbone", "backbone+decoder", "backbone+context+decoder")


def stages_of(policy: str) -> set[str]:
    """The stages a policy names (``+``-joined, or ``none``); ValueError for an unknown stage."""
    names = set() if policy == "none" else set(policy.split("+"))
    if not names <= set(STAGES):
        raise ValueError(f"checkpointing policy {policy!r}: stages are {', '.join(STAGES)} or none")
    return names


def apply_policy(model: torch.nn.Module, policy: str) -> None:
    """Checkpoint the stages named in ``policy`` in an :class:`~xtgeo.models.XT`, and no others."""
    names = stages_of(policy)
    model.encoder.grad_checkpointing = "backbone" in names
    model.decoder_checkpointing = "decoder" in names
    if hasattr(model.context, "grad_checkpointing"):
        model.context.grad_checkpointing = "context" in names


def current_policy(model: torch.nn.Module) -> str:
    """The policy a model's flags amount to (``none`` or stages joined by ``+``)."""
    flags = {"backbone": model.encoder.grad_checkpointing, "decoder": model.decoder_checkpointing,
             "context": getattr(model.context, "grad_checkpointing", False)}
    return "+".join(stage for stage in STAGES if flags[stage]) or "none"


@dataclass
class Probe:
    """One policy's measured step: seconds and peak GiB above what was allocated before, or OOM."""

    policy: str
    seconds: float | None
    peak_gib: float | None

    @property
    def fits(self) -> bool:
        return self.seconds is not None


def choose_policy(model: torch.nn.Module, step: Callable[[], None], device: torch.device,
                  memory_fraction: float, slowdown: float = 0.0) -> tuple[str, list[Probe]]:
    """Time ``step`` (forward + backward, gradients zeroed after) once under each policy; return the
    policy :func:`thriftiest` picks of those that fit in ``memory_fraction`` of the free GPU
    memory, and every probe.

    Each policy runs one untimed step before the timed one: it compiles what the policy needs
    (``train.compile``) and grows the memory pool, so that no timed step (nor its peak) includes
    either.
    """
    free, _ = torch.cuda.mem_get_info(device)
    budget = free * memory_fraction
    base = torch.cuda.memory_allocated(device)
    probes = []
    for policy in POLICIES:
        apply_policy(model, policy)
        try:
            step()  # untimed: compiles what this policy needs first (the decoder's band shape)
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            start = time.perf_counter()
            step()
            torch.cuda.synchronize(device)
            seconds = time.perf_counter() - start
        except torch.OutOfMemoryError:
            probes.append(Probe(policy, None, None))
            torch.cuda.empty_cache()
            continue
        peak = torch.cuda.max_memory_allocated(device) - base
        probes.append(Probe(policy, seconds if peak <= budget else None, peak / 2**30))
    torch.cuda.empty_cache()
    chosen = thriftiest(probes, slowdown)
    apply_policy(model, chosen)
    return chosen, probes


def thriftiest(probes: list[Probe], slowdown: float) -> str:
    """Of the probes that fit, the policy with the least peak memory among those at most
    ``slowdown`` (0.25: 25 %) slower than the fastest; every stage checkpointed if none fits."""
    fitting = [p for p in probes if p.fits]
    if not fitting:
        return POLICIES[-1]
    fastest = min(p.seconds for p in fitting)
    near = [p for p in fitting if p.seconds <= fastest * (1 + slowdown)]
    return min(near, key=lambda p: (p.peak_gib, p.seconds)).policy
