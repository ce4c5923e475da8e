"""The region encoder: a timm backbone that turns each region into multi-scale feature maps."""

from __future__ import annotations

from typing import Any

import timm
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from xtgeo.errors import ConfigError
from xtgeo.models.pretrained import load_verified, read_state_dict, resolve_weights
from xtgeo.models.tokenize import RegionGrid, take_regions


def _timm_model(name: str, region_size: int, **options: Any) -> nn.Module:
    """``timm.create_model``, built for ``region_size`` where the backbone has a fixed input size."""
    try:
        try:
            return timm.create_model(name, img_size=region_size, **options)
        except TypeError as err:
            if "img_size" not in str(err):
                raise
            return timm.create_model(name, **options)
    except (TypeError, ValueError, AssertionError, RuntimeError) as err:
        raise ConfigError(f"region_encoder: cannot build {name} for region_size {region_size}: {err}") from None


def create_backbone(
    name: str, in_chans: int, region_size: int, pretrained_file: str | None = None, **kwargs: Any
) -> nn.Module:
    """A timm ``features_only`` backbone for ``region_size`` inputs with ``in_chans`` channels.

    Pretrained weights come only from this machine: ``pretrained_file`` is a file, a Hugging Face
    cache folder or a name found in the local cache (:func:`xtgeo.models.pretrained.resolve_weights`).
    They are loaded into the whole timm model and verified (:func:`~xtgeo.models.pretrained.load_verified`:
    a file that fits poorly is refused, naming it), then handed to the features-only backbone.
    Backbones with a fixed input size (Swin, ViT) are built for ``region_size``.
    """
    options: dict[str, Any] = dict(in_chans=in_chans, **kwargs)
    if pretrained_file is None:
        return _timm_model(name, region_size, features_only=True, **options)
    path = resolve_weights(pretrained_file)
    whole = _timm_model(name, region_size, num_classes=0, **options)
    load_verified(whole, read_state_dict(path), str(path), in_chans)
    # timm's own loader moves the verified tensors into the features-only model (same names, same
    # shapes, the input convolution already has in_chans channels)
    verified = dict(state_dict=whole.state_dict(), input_size=(in_chans, *whole.pretrained_cfg["input_size"][1:]))
    return _timm_model(name, region_size, features_only=True, pretrained=True, pretrained_cfg_overlay=verified,
                       **options)


class RegionEncoder(nn.Module):
    """Encodes every region of a padded image in micro-batches of ``region_batch`` regions
    (:meth:`micro_batch`).

    ``grad_checkpointing`` runs each micro-batch under activation checkpointing, so that only
    the micro-batch's output maps are kept for backward: memory then grows with the number of
    regions only by their feature maps. Under autocast the maps are stored in the autocast dtype.
    """

    def __init__(
        self,
        name: str,
        in_chans: int,
        region_size: int,
        region_batch: int,
        pretrained_file: str | None = None,
        grad_checkpointing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.body = create_backbone(name, in_chans, region_size, pretrained_file, **kwargs)
        self.in_chans, self.region_size, self.region_batch = in_chans, region_size, region_batch
        self.grad_checkpointing = grad_checkpointing
        self.channels: list[int] = list(self.body.feature_info.channels())
        self.reductions: list[int] = list(self.body.feature_info.reduction())
        self.channels_last = str(getattr(self.body, "output_fmt", "NCHW")).endswith("NHWC")

    def encode(self, regions: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps of a stack of regions (n, C, s, s): one (n, C_l, s/r_l, s/r_l) per level,
        channels-last in memory."""
        maps = self.body(regions)
        if self.channels_last:
            maps = [m.permute(0, 3, 1, 2) for m in maps]
        if torch.is_autocast_enabled(regions.device.type):
            dtype = torch.get_autocast_dtype(regions.device.type)
            maps = [m.to(dtype) for m in maps]
        return [m.contiguous(memory_format=torch.channels_last) for m in maps]  # NHWC maps: no copy

    def _encode_range(self, padded: torch.Tensor, grid: RegionGrid, start: int, stop: int):
        return tuple(self.encode(take_regions(padded, grid, start, stop)))

    def micro_batch(self, total: int) -> int:
        """Regions encoded at once, of ``total``: ``region_batch``, except in training without
        checkpointing, which keeps every region's activations anyway: there micro-batches would
        save no memory, only multiply the kernel launches (the GPU waited for them) and the
        gradient accumulations, so all regions go in one call."""
        if torch.is_grad_enabled() and not self.grad_checkpointing:
            return total
        return self.region_batch

    def forward(self, padded: torch.Tensor, grid: RegionGrid) -> list[torch.Tensor]:
        """Maps of all regions of a padded (B, C, H', W') image: per level (B·R, C_l, h_l, w_l)."""
        total = padded.shape[0] * grid.count
        use_ckpt = self.grad_checkpointing and torch.is_grad_enabled()
        per_call = self.micro_batch(total)
        parts = []
        for start in range(0, total, per_call):
            stop = min(start + per_call, total)
            if use_ckpt:
                parts.append(checkpoint(self._encode_range, padded, grid, start, stop, use_reentrant=False))
            else:
                parts.append(self._encode_range(padded, grid, start, stop))
        if len(parts) == 1:
            return list(parts[0])
        return [torch.cat(level, dim=0) for level in zip(*parts)]
