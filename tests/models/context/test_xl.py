"""Transformer-XL context: memory carried across chunks, stop-gradient, two-pass, mem_len."""

from __future__ import annotations

import torch

from xtgeo.models.context import build_context_encoder

REGIONS, TOKENS, DIM = 6, 4, 16  # chunks of 2 regions → 3 chunks of 8 tokens


def xl(**options):
    torch.manual_seed(0)
    return build_context_encoder("xl", dim=DIM, depth=2, heads=2, chunk_regions=2, **options).eval()


def inputs():
    torch.manual_seed(1)
    tokens = torch.randn(2, REGIONS, TOKENS, DIM)
    pos = torch.stack(torch.meshgrid(torch.arange(REGIONS * 1.0), torch.arange(TOKENS * 1.0), indexing="ij"), -1)
    return tokens, pos


def test_memory_carries_information_across_chunks_without_gradient():
    tokens, pos = inputs()
    with_memory, without = xl(mem_len=64, two_pass=False), xl(mem_len=0, two_pass=False)
    tokens.requires_grad_(True)
    out = with_memory(tokens, pos)
    plain = without(tokens, pos)
    torch.testing.assert_close(out[:, :2], plain[:, :2])  # first chunk has no memory yet
    assert not torch.allclose(out[:, 2:], plain[:, 2:], atol=1e-4)  # later chunks remember
    # Perturbing chunk 0 changes chunk 1's output, yet no gradient crosses (stop-gradient memory).
    changed = tokens.detach().clone()
    changed[:, 0] += torch.randn(2, TOKENS, DIM)
    assert not torch.allclose(with_memory(changed, pos)[:, 2:4], out[:, 2:4].detach(), atol=1e-4)
    out[:, 2:4].sum().backward()
    assert torch.count_nonzero(tokens.grad[:, :2]) == 0
    assert torch.count_nonzero(tokens.grad[:, 2:4]) > 0


def test_two_pass_lets_the_first_chunk_see_the_last():
    tokens, pos = inputs()
    changed = tokens.clone()
    changed[:, -1] += torch.randn(2, TOKENS, DIM)
    for two_pass, sees_end in [(False, False), (True, True)]:
        model = xl(mem_len=64, two_pass=two_pass)
        with torch.no_grad():
            first, first_changed = model(tokens, pos)[:, :2], model(changed, pos)[:, :2]
        assert torch.allclose(first, first_changed) is not sees_end


def test_memory_is_limited_to_mem_len_and_masks_padding():
    tokens, pos = inputs()
    model = xl(mem_len=5)
    valid = torch.ones(REGIONS, TOKENS, dtype=torch.bool)
    valid[-1, 2:] = False
    with torch.no_grad():
        _, memory = model._run(tokens, valid, None)
        out = model(tokens, pos, valid)
        changed = tokens.clone()
        changed[:, -1, 2:] = 100.0  # padding tokens must not influence valid ones
        again = model(changed, pos, valid)
    assert len(memory) == 2 and all(h.shape == (2, 5, DIM) and v.shape == (5,) for h, v in memory)
    assert torch.equal(memory[0][1], valid.flatten()[-5:])
    torch.testing.assert_close(out[:, :-1], again[:, :-1])
    torch.testing.assert_close(out[:, -1, :2], again[:, -1, :2])


def test_two_pass_default_reaches_every_region_and_its_first_pass_skips_the_last_block():
    """Default (two passes, mem_len None): every region sees every other; the first pass computes
    the same memory without the block whose output no memory holds. Five regions in chunks of 2:
    the last chunk is ragged."""
    torch.manual_seed(1)
    tokens = torch.randn(1, 5, TOKENS, DIM)
    pos = torch.stack(torch.meshgrid(torch.arange(5.0), torch.arange(TOKENS * 1.0), indexing="ij"), -1)
    model = xl()
    with torch.no_grad():
        out = model(tokens, pos)
        for region in range(5):
            changed = tokens.clone()
            changed[:, region] += torch.randn(1, TOKENS, DIM)
            moved = (model(changed, pos) - out).abs().amax(dim=(0, 2, 3))
            assert (moved > 1e-5).all(), (region, moved)
        _, filled = model._run(tokens, None, None, fill_only=True)
        _, full = model._run(tokens, None, None)
        assert len(filled) == len(full) == 2
        for (h, _), (h_full, _) in zip(filled, full):
            torch.testing.assert_close(h, h_full)


def test_one_chunk_skips_the_first_pass_with_the_same_result():
    """Memory of the chunk's own tokens only repeats its keys: attention is the same without it."""
    from xtgeo.models.context.vit import add_positions

    tokens, pos = inputs()
    tokens, pos = tokens[:, :2], pos[:2]  # two regions: one chunk
    model = xl()
    with torch.no_grad():
        x = add_positions(tokens, pos)
        with_memory, _ = model._run(x, None, model._run(x, None, None)[1])
        torch.testing.assert_close(model(tokens, pos), with_memory)
