"""Checkpointing policies (train.checkpointing) and the loader's worker count."""

import pytest
import torch

from xtgeo.models import build_model
from xtgeo.train.memory import POLICIES, Probe, apply_policy, choose_policy, current_policy, stages_of, thriftiest
from xtgeo.train.trainer import loader_workers

TINY = dict(region_size=64, region_batch=4, region_encoder=dict(kwargs=dict(embed_dim=16, depths=(1, 1, 1, 1),
            num_heads=(1, 1, 1, 1))), context=dict(kind="xl", depth=1, dim=32, heads=2, chunk_regions=2),
            decoder=dict(width=32, min_width=8, band_rows=2))


def test_policies_set_exactly_the_named_stages_and_give_the_same_gradients():
    torch.manual_seed(0)
    model = build_model(TINY).train()
    x = torch.randn(1, 2, 192, 128)
    grads = {}
    for policy in POLICIES:
        apply_policy(model, policy)
        assert current_policy(model) == policy
        assert model.encoder.grad_checkpointing == ("backbone" in policy)
        assert model.decoder_checkpointing == ("decoder" in policy)
        assert model.context.grad_checkpointing == ("context" in policy)
        model.zero_grad()
        sum(m.float().mean() for m in model(x).values()).backward()
        grads[policy] = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    scale = float(grads["none"].abs().max())  # float sums on CPU vary run to run at ~1e-5 of this
    for policy in POLICIES[1:]:
        torch.testing.assert_close(grads[policy], grads["none"], rtol=1e-3, atol=2e-4 * scale)
    with pytest.raises(ValueError, match="stages are backbone, context, decoder"):
        stages_of("backbone+head")


def test_compiled_stages_compile_once_for_every_policy():
    """The probe of ``checkpointing: auto`` runs every policy: checkpointing wraps the compiled
    stages, so switching policies makes no new graph, but for the backbone's micro-batch shape once
    it is checkpointed (unchecked, it encodes all regions at once); a second round makes none."""
    import torch._dynamo

    from xtgeo.train.compiling import compiled_graphs

    torch._dynamo.reset()
    torch.manual_seed(0)
    model = build_model(TINY).train()
    model.compile_stages(backend="eager")  # dynamo's guards and recompiles, no C++ compiler
    x = torch.randn(1, 2, 192, 128)
    before, counts = compiled_graphs(), []
    for policy in POLICIES + POLICIES:
        apply_policy(model, policy)
        sum(m.float().mean() for m in model(x).values()).backward()  # recomputed stages run again
        model.zero_grad(set_to_none=True)
        counts.append(compiled_graphs() - before)
    first = POLICIES.index("backbone")
    assert counts[0] >= 2 and counts[:first] == [counts[0]] * first
    assert counts[first] == counts[0] + 1 and counts[first:] == [counts[first]] * (2 * len(POLICIES) - first)


def test_auto_keeps_the_least_memory_within_the_allowed_slowdown():
    probes = [Probe("none", 0.19, 27.1), Probe("decoder", 0.25, 26.0), Probe("backbone", 0.23, 7.2),
              Probe("backbone+decoder", 0.29, 7.2), Probe("backbone+context+decoder", None, 7.1)]
    assert thriftiest(probes, 0.0) == "none"
    assert thriftiest(probes, 0.25) == "backbone"  # 21 % slower, a quarter of the memory
    assert thriftiest(probes, 0.20) == "none"
    assert thriftiest(probes, 1.0) == "backbone"  # equal memory: the faster one; too big: never
    assert thriftiest([Probe("none", None, None)], 0.25) == POLICIES[-1]


def test_loader_workers_follow_the_config_or_the_cores():
    assert loader_workers(3, torch.device("cuda"), 1) == 3
    assert loader_workers(None, torch.device("cpu"), 1) == 0  # the CPU trains: no workers competing
    assert 2 <= loader_workers(None, torch.device("cuda"), 1) <= 8
    assert loader_workers(None, torch.device("cuda"), 64) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="measures GPU memory")
def test_auto_policy_is_the_thriftiest_near_the_fastest():
    model = build_model(TINY).cuda().train()
    x = torch.randn(1, 2, 512, 512, device="cuda")

    def step():
        sum(m.float().mean() for m in model(x).values()).backward()
        model.zero_grad(set_to_none=True)

    chosen, probes = choose_policy(model, step, torch.device("cuda"), memory_fraction=0.9, slowdown=0.25)
    assert chosen == thriftiest(probes, 0.25) and current_policy(model) == chosen
    peaks = {p.policy: p.peak_gib for p in probes}
    assert peaks["backbone+context+decoder"] <= peaks["none"]
