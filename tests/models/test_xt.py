"""The xT model core: shapes, cross-region information flow, micro-batching, bands, config."""

from __future__ import annotations

import subprocess
import sys

import pytest
import timm
import torch

from tests.hostile import payloads
from xtgeo.config import model_config
from xtgeo.errors import ConfigError, XtgeoError
from xtgeo.models import CONTEXT_KINDS, build_model
from xtgeo.models.tokenize import (
    RegionGrid,
    all_tokens_valid,
    pad_to_regions,
    split,
    stitch,
    take_regions,
    token_positions,
)
from xtgeo.tasks.xview3 import HEAD_NAMES

TINY_SWIN = dict(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1))


def tiny_cfg(kind: str = "xl", **over) -> dict:
    """A CPU-sized xT: 64-px regions, a one-block-per-stage SwinV2, a 1-layer 32-dim context."""
    cfg = dict(
        in_chans=2,
        region_size=64,
        region_batch=4,
        region_encoder=dict(kwargs=TINY_SWIN),
        context=dict(kind=kind, depth=1, dim=32, heads=2),
        decoder=dict(width=32, min_width=8, band_rows=2),
    )
    cfg.update(over)
    return cfg


def tiny_model(kind: str = "xl", **over):
    torch.manual_seed(0)
    return build_model(tiny_cfg(kind, **over)).eval()


@pytest.mark.parametrize("backbone", ["swinv2", "resnet18", "convnext_atto"])
def test_output_shapes_for_non_square_sizes_off_the_region_grid(backbone):
    encoder = dict(kwargs=TINY_SWIN) if backbone == "swinv2" else dict(name=backbone)
    model = tiny_model(region_encoder=encoder)
    with torch.no_grad():
        out = model(torch.randn(2, 2, 97, 150))
    assert set(out) == {"center", "vessel", "fishing", "length"}
    for name, value in out.items():
        assert value.shape == (2, 1, 97, 150), name
        assert torch.isfinite(value).all(), name
    assert (out["length"] >= 0).all()


#: Options that make each kind's reach non-trivial on the tiny 3 × 5-region model: xl in several
#: chunks (its defaults: two passes, memory of all tokens), hyper on its approximate path
#: (LSH blocks + sampled columns, fixed seed), mamba and bixt with small states.
REACH_OPTIONS = {
    "xl": dict(chunk_regions=2),
    "hyper": dict(min_seq_len=0, block_size=4, sample_size=8),
    "mamba": dict(d_state=16, chunk_size=16),
    "bixt": dict(num_latents=4),
}


@pytest.mark.parametrize("kind", CONTEXT_KINDS)
def test_first_and_last_regions_see_each_other_through_one_context_layer(kind):
    pytest.importorskip(f"xtgeo.models.context.{kind}")
    # 3 × 5 regions of 64 px; the first and the last region are > 250 px apart, beyond the
    # decoder's receptive field, so only the context can carry information between them.
    model = tiny_model(kind, context=dict(kind=kind, depth=1, dim=32, heads=2, **REACH_OPTIONS.get(kind, {})))
    assert model.decoder.halo < 250
    x = torch.randn(1, 2, 180, 300)  # padded at the bottom and right: the masked path
    first = (slice(None), slice(None), slice(0, 64), slice(0, 64))
    last = (slice(None), slice(None), slice(128, None), slice(256, None))
    for source, target in ((last, first), (first, last)):
        changed = x.clone()
        changed[source] += torch.randn_like(changed[source])
        with torch.no_grad():
            torch.manual_seed(3)  # hyper samples its columns at random: the same ones both times
            before = model(x)["center"][target]
            torch.manual_seed(3)
            after = model(changed)["center"][target]
        assert torch.equal(before, after) is (kind == "none"), (source, target)
        if kind not in ("none", "xl"):  # xl's memory stops gradients by design (see xl.py)
            grad_x = x.clone().requires_grad_(True)
            torch.manual_seed(3)
            model(grad_x)["center"][target].sum().backward()
            assert grad_x.grad[source].abs().sum() > 0


def test_xl_with_one_pass_is_causal_over_chunks():
    model = tiny_model("xl", context=dict(kind="xl", depth=1, dim=32, heads=2, chunk_regions=2, two_pass=False))
    x = torch.randn(1, 2, 180, 300)  # padded at the bottom and right: the masked path
    changed = x.clone()
    changed[:, :, 128:, 256:] += 1.0  # the last region: later than every chunk but the last
    with torch.no_grad():
        assert torch.equal(model(x)["center"][..., :64, :64], model(changed)["center"][..., :64, :64])


def test_micro_batching_and_checkpointing_match_one_batch():
    x = torch.randn(2, 2, 130, 100)
    outs, grads = [], []
    for region_batch, ckpt in [(1, True), (100, False)]:
        model = tiny_model(region_batch=region_batch, region_encoder=dict(kwargs=TINY_SWIN, grad_checkpointing=ckpt))
        out = model(x)
        out["center"].sum().backward()
        outs.append(out["center"].detach())
        grads.append(model.encoder.body.patch_embed.proj.weight.grad.clone())
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-3, atol=1e-5)


def test_decode_windows_have_one_height_cover_every_row_and_reach_the_halo():
    from xtgeo.models.decoder import band_windows

    assert band_windows(32, 6, 6) == [(0, 17, 0, 11), (5, 22, 11, 16), (10, 27, 16, 21), (15, 32, 21, 32)]
    paper = band_windows(128, 16, 6)  # 4096-px crops at stride 32, bands of 16 rows: 8 windows of 27
    assert len(paper) == 8 and {hi - lo for lo, hi, _, _ in paper} == {27}
    for rows in range(1, 70):
        for band_rows in range(1, 20):
            for halo in range(0, 8):
                windows = band_windows(rows, band_rows, halo)
                assert len({hi - lo for lo, hi, _, _ in windows}) == 1  # one shape for a compiled decoder
                assert [w[2] for w in windows[1:]] == [w[3] for w in windows[:-1]]  # kept rows tile 0..rows
                assert windows[0][2] == 0 and windows[-1][3] == rows
                for lo, hi, first, last in windows:
                    assert 0 <= lo <= max(first - halo, 0) and min(last + halo, rows) <= hi <= rows
                    assert first < last
                if len(windows) > 1:  # as few bands as band_rows allows, none wider than band_rows
                    inner = [last - first for _, _, first, last in windows]
                    inner[0] -= halo
                    inner[-1] -= halo
                    assert max(inner) <= band_rows and len(windows) == -(-(rows - 2 * halo) // band_rows)


@pytest.mark.parametrize("out_stride", [1, 2, 4])
def test_banded_decoder_matches_whole_image_decoder(out_stride):
    x = torch.randn(1, 2, 1000, 64, requires_grad=True)  # 32 deepest rows (padded), the halo is 6
    outs, grads = [], []
    for ckpt in [True, False]:  # checkpointed: 4 windows of 17 deepest rows; else the whole image
        model = tiny_model(decoder=dict(width=32, min_width=8, band_rows=1, grad_checkpointing=ckpt,
                                        out_stride=out_stride))
        x.grad = None
        out = model(x)
        (out["vessel"] * out["length"] + out["center"]).mean().backward()
        outs.append(torch.cat(list(out.values()), dim=1).detach())
        grads.append(torch.cat([x.grad.flatten(), *(p.grad.flatten() for p in model.parameters()
                                                    if p.grad is not None)]))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=5e-5)  # a halo 3 rows short: ~1e-2 off
    scale = float(grads[1].abs().max())
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-3, atol=1e-4 * scale)


def test_inference_decodes_in_wider_bands_with_the_same_result():
    x = torch.randn(1, 2, 1000, 64)
    model = tiny_model(decoder=dict(width=32, min_width=8, band_rows=1, inference_band_rows=1000,
                                    grad_checkpointing=True))
    with torch.no_grad():
        wide = model(x)  # one band: 32 deepest rows at once
    narrow = model(x)  # gradients on: 4 bands of at most 6 rows (the halo), each decoded in 17
    for head in wide:
        torch.testing.assert_close(wide[head], narrow[head].detach(), rtol=1e-4, atol=1e-4)


def test_decoder_bands_only_where_they_save_memory():
    """Bands under decoder checkpointing and without gradients; one window when training keeps
    every activation anyway (bands would only recompute their halo)."""
    x = torch.randn(1, 2, 1000, 64)
    calls = {}

    def decodes(ckpt: bool, grad: bool) -> int:
        model = tiny_model(decoder=dict(width=32, min_width=8, band_rows=1, inference_band_rows=8,
                                        grad_checkpointing=ckpt)).train()
        count = []
        model.decoder.register_forward_hook(lambda *_: count.append(1))
        with torch.set_grad_enabled(grad):
            out = model(x)
        if grad:
            out["center"].mean().backward()
        return len(count)

    calls = {(ckpt, grad): decodes(ckpt, grad) for ckpt in (True, False) for grad in (True, False)}
    assert calls[(False, True)] == 1
    assert calls[(True, True)] > calls[(True, False)] == calls[(False, False)] > 1


def test_backbone_micro_batches_only_where_they_save_memory():
    """Micro-batches of region_batch under backbone checkpointing and without gradients; one call
    per batch of crops when training keeps every region's activations anyway."""
    x = torch.randn(2, 2, 256, 128)  # 2 crops of 4 × 2 regions of 64 px

    def encodes(ckpt: bool, grad: bool) -> list[int]:
        model = tiny_model(region_batch=3, region_encoder=dict(kwargs=TINY_SWIN, grad_checkpointing=ckpt)).train()
        sizes = []
        model.encoder.body.register_forward_pre_hook(lambda _, args: sizes.append(len(args[0])))
        with torch.set_grad_enabled(grad):
            model(x)
        return sizes

    assert encodes(ckpt=False, grad=True) == [16]
    for ckpt, grad in ((True, True), (True, False), (False, False)):
        assert encodes(ckpt, grad)[:6] == [3, 3, 3, 3, 3, 1], (ckpt, grad)  # recomputed again in backward


@pytest.mark.parametrize("out_stride", [2, 4])
def test_coarser_output_stride_gives_full_resolution_maps_with_fewer_stages(out_stride):
    fine, coarse = tiny_model(), tiny_model(decoder=dict(width=32, min_width=8, band_rows=2, out_stride=out_stride))
    assert len(coarse.decoder.stages) == len(fine.decoder.stages) - out_stride.bit_length() + 1
    with torch.no_grad():
        out = coarse(torch.randn(1, 2, 97, 150))
    for value in out.values():
        assert value.shape == (1, 1, 97, 150) and torch.isfinite(value).all()


@pytest.mark.parametrize("out_stride", [3, 8])
def test_output_stride_must_be_a_power_of_two_within_the_finest_level(out_stride):
    with pytest.raises(ConfigError, match="out_stride"):
        tiny_model(decoder=dict(out_stride=out_stride))


def test_decoder_norm_is_a_channel_layer_norm_that_keeps_the_autocast_dtype():
    from timm.layers import LayerNorm2d

    from xtgeo.models.decoder import ChannelNorm

    norm, reference = ChannelNorm(8), LayerNorm2d(8)
    with torch.no_grad():
        for module in (norm, reference):
            module.weight.copy_(torch.linspace(0.5, 2.0, 8))
            module.bias.copy_(torch.linspace(-1.0, 1.0, 8))
    x = torch.randn(2, 8, 5, 7) * 3 + 1
    torch.testing.assert_close(norm(x), reference(x))
    with torch.autocast("cpu", torch.bfloat16):
        half = norm(x.bfloat16())  # on CUDA, F.layer_norm under autocast would return float32
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), reference(x), rtol=0.02, atol=0.05)
    for layout in (x, x.contiguous(memory_format=torch.channels_last)):
        assert norm(layout).is_contiguous(memory_format=torch.channels_last)


def test_decoder_runs_channels_last_from_stitched_maps_to_the_heads():
    """The GPU's bf16 convolutions work in NHWC: no stage may hand a convolution NCHW maps."""
    from xtgeo.models.tokenize import RegionGrid, pad_to_regions, stitch

    model = tiny_model()
    x = torch.randn(1, 2, 128, 128)
    grid = RegionGrid(128, 128, model.encoder.region_size)
    maps = model.encoder(pad_to_regions(x, grid), grid)
    feats = [stitch(m, grid) for m in maps]
    assert all(f.is_contiguous(memory_format=torch.channels_last) for f in feats)
    convs = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    seen = []
    hooks = [c.register_forward_pre_hook(lambda _, args: seen.append(args[0])) for c in convs]
    decoded = model.decoder(feats, x)
    for hook in hooks:
        hook.remove()
    assert len(seen) == len(convs) and all(t.is_contiguous(memory_format=torch.channels_last) for t in seen)
    assert model.head(decoded).shape == (1, len(HEAD_NAMES), 128, 128)


def test_parameter_gradients_keep_the_parameters_layout():
    """DDP buckets gradients in the parameters' layout; a channels-last gradient would not fit."""
    model = tiny_model().train()
    out = model(torch.randn(1, 2, 128, 128))
    sum(v.float().mean() for v in out.values()).backward()
    moved = [name for name, p in model.named_parameters() if p.grad is not None and p.grad.stride() != p.stride()]
    assert moved == []


def test_compiled_pixel_stages_give_the_same_maps():
    x = torch.randn(1, 2, 130, 100)
    model = tiny_model()
    with torch.no_grad():
        eager = model(x)
        model.compile_stages(backend="eager")  # dynamo tracing without a C++ toolchain
        compiled = model(x)
    assert model.encoder.body._compiled_call_impl is not None
    for head in eager:
        torch.testing.assert_close(compiled[head], eager[head])


def test_tokenize_round_trip_and_positions():
    grid = RegionGrid(height=70, width=130, size=32)
    assert (grid.rows, grid.cols, grid.padded_shape) == (3, 5, (96, 160))
    image = torch.randn(2, 3, 70, 130)
    padded = pad_to_regions(image, grid)
    regions = take_regions(padded, grid, 0, 2 * grid.count)
    assert torch.equal(regions[grid.cols + 2], padded[0, :, 32:64, 64:96])
    assert torch.equal(regions[grid.count + 1], padded[1, :, :32, 32:64])
    assert torch.equal(take_regions(padded, grid, 7, 9), regions[7:9])
    assert torch.equal(stitch(regions, grid), padded)
    assert torch.equal(split(padded, grid), regions)
    pos, valid = token_positions(grid, 4, 4)  # 8-px tokens
    assert pos.shape == (15, 16, 2) and tuple(pos[grid.cols + 1, 6].tolist()) == (5.0, 6.0)
    # rows 0..8 hold pixels (< 70 = 8·8+6), cols 0..16 hold pixels (< 130 = 16·8+2)
    rows, cols = pos[..., 0], pos[..., 1]
    assert torch.equal(valid, (rows <= 8) & (cols <= 16))
    assert not all_tokens_valid(grid, 4, 4)
    for height, width in ((96, 160), (89, 153), (88, 153)):  # last token row/col holds pixels or not
        whole = RegionGrid(height=height, width=width, size=32)
        assert all_tokens_valid(whole, 4, 4) == bool(token_positions(whole, 4, 4)[1].all())


def test_pretrained_weights_come_from_a_local_file(tmp_path):
    torch.manual_seed(1)
    source = timm.create_model("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    model = build_model(
        tiny_cfg("none", region_encoder=dict(name="resnet18", pretrained_file=str(path)))
    )
    torch.testing.assert_close(model.encoder.body.layer3[0].conv1.weight, source.layer3[0].conv1.weight)
    assert model.encoder.body.conv1.weight.shape[1] == 2  # adapted to the 2 SAR channels


def test_a_poisoned_pretrained_file_cannot_run_code(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "resnet18.pth"
    torch.save({"conv1.weight": torch.zeros(1), "evil": payloads(marker)["os.system"]}, path)
    with pytest.raises(XtgeoError, match=f"{path}: not a readable weights file"):
        build_model(tiny_cfg("none", region_encoder=dict(name="resnet18", pretrained_file=str(path))))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (dict(bogus=1), "bogus"),
        (dict(decoder=dict(widht=8)), "decoder.widht"),
        (dict(region_encoder=dict(nam="resnet18")), "region_encoder.nam"),
        (dict(region_size="64"), "region_size"),
        (dict(region_batch=0), "region_batch"),
        (dict(context=dict(kind="lstm")), "context.kind"),
        (dict(context=dict(kind="xl", mem_length=3)), "mem_length"),
        (dict(task="detect"), "task"),
        (dict(region_size=72), "region_size"),
        (dict(region_encoder=dict(name="no_such_net")), "region_encoder.name"),
        (dict(region_encoder=dict(pretrained_file="/nonexistent/w.pth")), "region_encoder.pretrained_file"),
    ],
)
def test_bad_config_raises_config_error_naming_the_key(change, key):
    cfg = tiny_cfg()
    cfg.update(change)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_model(cfg)


def test_config_objects_and_defaults():
    cfg = model_config(dict(in_chans=3, context=dict(kind="vit", dim=None)))
    assert cfg.in_chans == 3 and cfg.context.kind == "vit"
    assert cfg.context.depth == 2 and cfg.region_encoder.name.startswith("swinv2")
    assert model_config(cfg) == cfg  # a typed config is accepted as it is


def test_model_package_imports_no_geospatial_stack():
    code = (
        "import sys, xtgeo.models; "
        "bad = [m for m in ('rasterio', 'geopandas', 'dask', 'torchgeo') if m in sys.modules]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (5, 7)])
def test_decoder_upsampling_is_torch_bilinear_with_gradients(size):
    from xtgeo.models.decoder import upsample2

    x = torch.randn(2, 3, *size, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, 3, 2 * size[0], 2 * size[1], dtype=torch.float64)
    ours = upsample2(x)
    theirs = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(ours, theirs)
    assert ours.is_contiguous(memory_format=torch.channels_last)
    grad_ours, = torch.autograd.grad((ours * weights).sum(), x)
    grad_theirs, = torch.autograd.grad((theirs * weights).sum(), x)
    torch.testing.assert_close(grad_ours, grad_theirs)
