"""The ``mamba``, ``hyper`` and ``bixt`` context encoders: shapes, global reach, padding, maths."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from xtgeo.models.context import build_context_encoder
from xtgeo.models.context.bixt import similarity, to_latents, to_tokens
from xtgeo.models.context.hyper import gray_rank_table, hyper_attention, lsh_rank
from xtgeo.models.context.mamba import triton_scan
from xtgeo.models.context.sequence import sequence_index
from xtgeo.models.context.ssd import ssd_chunked, ssd_sequential

DIM = 32
SMALL = {
    "mamba": dict(d_state=16, chunk_size=16),
    # approximate path on purpose (min_seq_len=0): several blocks, a sample smaller than n
    "hyper": dict(min_seq_len=0, block_size=16, sample_size=24),
    "bixt": dict(num_latents=8),
}


def region_grid(grid_rows: int, grid_cols: int, rows: int, cols: int) -> torch.Tensor:
    """(R, T, 2) whole-image (row, col) of every token for a grid of regions of rows × cols tokens."""
    ry, rx, ty, tx = torch.meshgrid(
        torch.arange(grid_rows), torch.arange(grid_cols), torch.arange(rows), torch.arange(cols), indexing="ij"
    )
    pos = torch.stack([ry * rows + ty, rx * cols + tx], dim=-1).float()
    return pos.reshape(grid_rows * grid_cols, rows * cols, 2)


@pytest.fixture
def scene():
    """2 images, 2×3 regions of 4×4 tokens; the image ends at column 10, so part of the last
    region column is padding."""
    pos = region_grid(2, 3, 4, 4)
    valid = pos[..., 1] < 10
    tokens = torch.randn(2, 6, 16, DIM, generator=torch.Generator().manual_seed(1))
    return tokens, pos, valid


def build(kind: str, depth: int = 2, **extra):
    torch.manual_seed(0)
    return build_context_encoder(kind, dim=DIM, depth=depth, heads=4, **{**SMALL[kind], **extra})


@pytest.mark.parametrize("kind", ["mamba", "hyper", "bixt"])
def test_shape_and_reach_across_the_image(kind, scene):
    tokens, pos, valid = scene
    encoder = build(kind, depth=1)  # reach at every depth, the first included
    x = tokens.clone().requires_grad_(True)
    out = encoder(x, pos, valid)
    assert out.shape == tokens.shape and out.dtype == tokens.dtype
    assert torch.isfinite(out).all()
    # every valid token in the first region hears the last region, and the other way round
    probe = torch.randn(DIM)  # a plain sum would be blind behind the final LayerNorm
    (out[:, 0][:, valid[0]] @ probe).sum().backward(retain_graph=True)
    assert x.grad[:, -1][:, valid[-1]].abs().sum(-1).min() > 0
    x.grad = None
    (out[:, -1][:, valid[-1]] @ probe).sum().backward()
    assert x.grad[:, 0].abs().sum(-1).min() > 0


@pytest.mark.parametrize("kind", ["mamba", "hyper", "bixt"])
def test_padding_neither_sends_nor_receives(kind, scene):
    tokens, pos, valid = scene
    encoder = build(kind)
    noisy = tokens.clone()
    noisy[:, ~valid] = 1e3 * torch.randn_like(noisy[:, ~valid])
    torch.manual_seed(5)  # hyper samples columns at random
    out = encoder(tokens, pos, valid)
    torch.manual_seed(5)
    out_noisy = encoder(noisy, pos, valid)
    assert torch.equal(out[:, ~valid], tokens[:, ~valid])  # padding comes back untouched
    torch.testing.assert_close(out[:, valid], out_noisy[:, valid])
    assert not torch.allclose(out[:, valid], tokens[:, valid])  # and valid tokens did change


def test_all_valid_equals_no_mask(scene):
    tokens, pos, _ = scene
    encoder = build("bixt")
    torch.testing.assert_close(encoder(tokens, pos, None), encoder(tokens, pos, torch.ones(6, 16, dtype=torch.bool)))


def test_image_order_is_row_major_over_valid_tokens(scene):
    _, pos, valid = scene
    index = sequence_index(pos, valid, "image")
    ordered = pos.reshape(-1, 2)[index]
    width = int(pos[..., 1].max()) + 1
    keys = ordered[:, 0] * width + ordered[:, 1]
    assert (keys[1:] > keys[:-1]).all()  # strictly increasing: row-major, no duplicates
    assert sorted(index.tolist()) == valid.reshape(-1).nonzero().squeeze(1).tolist()


def test_mamba_scans_both_ways_in_every_layer(scene):
    tokens, pos, _ = scene
    first, last = 0, -1  # image-order first token is region 0 token 0; last is region 5 token 15
    encoder = build("mamba", depth=1)
    probe = torch.randn(DIM)
    for source, target in ((last, first), (first, last)):  # one layer reaches both ways
        x = tokens.clone().requires_grad_(True)
        (encoder(x, pos)[:, target, target] @ probe).sum().backward()
        assert x.grad[:, source, source].abs().sum() > 0
    layer = encoder.layers[0]
    with torch.no_grad():  # without its backward mixer the layer is causal again
        layer.backward_mixer.out_proj.weight.zero_()
    x = tokens.clone().requires_grad_(True)
    (encoder(x, pos)[:, first, first] @ probe).sum().backward()
    assert torch.count_nonzero(x.grad[:, last, last]) == 0


def random_scan(length: int, heads: int = 4, groups: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    f64 = dict(dtype=torch.float64, generator=g)
    x = torch.randn(2, length, heads, 8, **f64)
    dt = F.softplus(torch.randn(2, length, heads, **f64) - 1)
    A = -torch.rand(heads, **f64) * 8 - 0.1
    B, C = torch.randn(2, length, groups, 16, **f64), torch.randn(2, length, groups, 16, **f64)
    return x, dt, A, B, C


@pytest.mark.parametrize("length,chunk", [(101, 16), (64, 64), (7, 32)])
def test_chunked_ssd_matches_sequential_scan(length, chunk):
    args = random_scan(length)
    reference = ssd_sequential(*args)
    chunked = ssd_chunked(*args, chunk_size=chunk)
    assert ((chunked - reference).norm() / reference.norm()).item() < 1e-5


def test_mamba_output_does_not_depend_on_chunk_size(scene):
    tokens, pos, valid = scene
    small, large = build("mamba", chunk_size=8).double(), build("mamba", chunk_size=128).double()
    x = tokens.double()
    torch.testing.assert_close(small(x, pos, valid), large(x, pos, valid), rtol=1e-9, atol=1e-9)


def test_mamba_triton_kernel_absent_falls_back_with_one_warning():
    try:
        import mamba_ssm  # noqa: F401
    except Exception:
        pass
    else:
        pytest.skip("mamba-ssm is importable here")
    triton_scan.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert triton_scan() is None and triton_scan() is None
    assert len([w for w in caught if "pure-PyTorch" in str(w.message)]) == 1
    triton_scan.cache_clear()


def qkv(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 3, n, 16, dtype=torch.float64, generator=g) for _ in range(3))


def test_gray_ranks_step_one_bit_at_a_time():
    table = gray_rank_table(5)
    assert sorted(table.tolist()) == list(range(32))
    code_of_rank = table.argsort()
    flips = code_of_rank[1:] ^ code_of_rank[:-1]
    assert all(bin(int(f)).count("1") == 1 for f in flips)


def test_lsh_puts_nearly_parallel_vectors_in_one_bucket():
    planes = torch.randn(16, 6, generator=torch.Generator().manual_seed(0))
    x = torch.randn(50, 16, generator=torch.Generator().manual_seed(1))
    table = gray_rank_table(6)
    assert torch.equal(lsh_rank(x, planes, table), lsh_rank(3 * x + 1e-6, planes, table))


@pytest.mark.parametrize("block,samples", [(64, 5), (8, 64)])
def test_hyper_attention_exact_when_blocks_or_samples_cover_everything(block, samples):
    q, k, v = qkv(50)
    planes, table = torch.randn(16, 4, dtype=torch.float64), gray_rank_table(4)
    out = hyper_attention(q, k, v, planes, table, block_size=block, sample_size=samples)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))


def test_hyper_attention_blocks_catch_the_large_entries():
    g = torch.Generator().manual_seed(3)
    n = 200
    # each query nearly repeats one key, so each row of the attention has one dominant entry
    k = F.normalize(torch.randn(2, 3, n, 16, dtype=torch.float64, generator=g), dim=-1) * 12
    q = k[:, :, torch.randperm(n, generator=g)] + 0.1 * torch.randn(2, 3, n, 16, dtype=torch.float64, generator=g)
    v = torch.randn(2, 3, n, 16, dtype=torch.float64, generator=g)
    planes, table = torch.randn(16, 4, dtype=torch.float64, generator=g), gray_rank_table(4)
    exact = F.scaled_dot_product_attention(q, k, v)

    def error(block: int) -> float:
        torch.manual_seed(0)
        out = hyper_attention(q, k, v, planes, table, block_size=block, sample_size=64)
        return ((out - exact).norm() / exact.norm()).item()

    with_blocks, samples_only = error(32), error(1)
    assert with_blocks < 0.6 and with_blocks < 0.6 * samples_only


def test_hyper_attention_by_query_chunks_equals_all_at_once():
    q, k, v = (t.requires_grad_(True) for t in qkv(75, seed=4))
    planes, table = torch.randn(16, 4, dtype=torch.float64), gray_rank_table(4)

    def run(chunk: int):
        torch.manual_seed(7)  # the same sampled columns for both
        out = hyper_attention(q, k, v, planes, table, block_size=8, sample_size=12, query_chunk=chunk)
        return (out, *torch.autograd.grad(out.square().sum(), (q, k, v)))

    for chunked, whole in zip(run(16), run(1024)):
        torch.testing.assert_close(chunked, whole)


def test_bixt_one_similarity_matrix_serves_both_directions():
    g = torch.Generator().manual_seed(0)
    m, n = 5, 7
    ref_lat, ref_tok = torch.randn(1, 2, m, 8, generator=g), torch.randn(1, 2, n, 8, generator=g)
    # one-hot values make the outputs the attention weights themselves
    val_lat, val_tok = torch.eye(m).expand(1, 2, m, m), torch.eye(n).expand(1, 2, n, n)
    sim = similarity(ref_lat, ref_tok)
    to_lat, to_tok = to_latents(sim, val_tok), to_tokens(sim, val_lat)
    assert torch.allclose(to_lat.sum(-1), torch.ones(1, 2, m))  # rows: softmax over tokens
    assert torch.allclose(to_tok.sum(-1), torch.ones(1, 2, n))  # columns: softmax over latents
    # log weights of both directions differ only by a row term plus a column term: one matrix
    diff = to_lat.log() - to_tok.log().transpose(-1, -2)
    double_centred = diff - diff[..., :1] - diff[..., :1, :] + diff[..., :1, :1]
    assert double_centred.abs().max() < 1e-5
    # and the roles swap exactly
    swapped = similarity(ref_tok, ref_lat)
    torch.testing.assert_close(to_latents(swapped, val_lat), to_tok)
    torch.testing.assert_close(to_tokens(swapped, val_tok), to_lat)


@pytest.mark.parametrize("kind", ["mamba", "hyper", "bixt"])
def test_bad_head_counts_are_refused(kind):
    with pytest.raises(ValueError, match="divisible"):
        build_context_encoder(kind, dim=DIM, depth=1, heads=5)


def test_xl_memory_pass_stays_off_the_autograd_graph(scene):
    """The gradient-free first pass must not hand autograd no-grad views of a tensor that needs a
    gradient: module hooks (the FLOP counter's, say) fail on them."""
    from torch.utils.flop_counter import FlopCounterMode

    tokens, pos, _ = scene
    encoder = build_context_encoder("xl", dim=DIM, depth=2, heads=4, chunk_regions=2)
    x = tokens.clone().requires_grad_()
    with FlopCounterMode(display=False) as counter:
        encoder(x * 2, pos).square().mean().backward()
    assert counter.get_total_flops() > 0 and x.grad is not None and x.grad.abs().sum() > 0
