"""Nested tokenization: an image of any size as a row-major grid of square regions, and back.

The image is zero-padded at the bottom and right to whole regions; :class:`RegionGrid` remembers
the true size so that padding can be masked and cropped. Regions are numbered row-major,
``index = i * cols + j``, within each image of the batch (``batch-major`` overall).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class RegionGrid:
    """Geometry of an (H, W) image cut into ``size``-pixel regions: ``rows × cols`` of them."""

    height: int
    width: int
    size: int

    @property
    def rows(self) -> int:
        return -(-self.height // self.size)

    @property
    def cols(self) -> int:
        return -(-self.width // self.size)

    @property
    def count(self) -> int:
        """Regions per image."""
        return self.rows * self.cols

    @property
    def padded_shape(self) -> tuple[int, int]:
        return self.rows * self.size, self.cols * self.size


def pad_to_regions(image: torch.Tensor, grid: RegionGrid) -> torch.Tensor:
    """Zero-pad a (B, C, H, W) image at the bottom and right to whole regions."""
    pad_h, pad_w = grid.padded_shape[0] - grid.height, grid.padded_shape[1] - grid.width
    if pad_h == 0 and pad_w == 0:
        return image
    return F.pad(image, (0, pad_w, 0, pad_h))


def take_regions(padded: torch.Tensor, grid: RegionGrid, start: int, stop: int) -> torch.Tensor:
    """Regions ``start … stop-1`` (batch-major, then row-major) of a padded image: (n, C, s, s).

    Gathers only the requested regions, so the whole image is never copied into region layout.
    """
    batch, chans = padded.shape[:2]
    s = grid.size
    blocks = padded.reshape(batch, chans, grid.rows, s, grid.cols, s)
    index = torch.arange(start, stop, device=padded.device)
    b, rest = index // grid.count, index % grid.count
    return blocks[b, :, rest // grid.cols, :, rest % grid.cols, :]


def stitch(maps: torch.Tensor, grid: RegionGrid) -> torch.Tensor:
    """Region maps (B·R, C, h, w) in grid order → whole-image maps (B, C, rows·h, cols·w), channels-last
    in memory (the decoder's layout). One copy; channels-last region maps are read without conversion."""
    n, chans, h, w = maps.shape
    batch = n // grid.count
    tiled = maps.permute(0, 2, 3, 1).reshape(batch, grid.rows, grid.cols, h, w, chans).transpose(2, 3)
    return tiled.reshape(batch, grid.rows * h, grid.cols * w, chans).permute(0, 3, 1, 2)


def split(image_maps: torch.Tensor, grid: RegionGrid) -> torch.Tensor:
    """Inverse of :func:`stitch`: (B, C, rows·h, cols·w) → (B·R, C, h, w) in grid order."""
    batch, chans, height, width = image_maps.shape
    h, w = height // grid.rows, width // grid.cols
    tiled = image_maps.reshape(batch, chans, grid.rows, h, grid.cols, w).permute(0, 2, 4, 1, 3, 5)
    return tiled.reshape(batch * grid.count, chans, h, w)


def maps_to_tokens(maps: torch.Tensor, grid: RegionGrid) -> torch.Tensor:
    """Region maps (B·R, D, h, w) → context tokens (B, R, h·w, D), each region row-major."""
    n, dim, h, w = maps.shape
    return maps.flatten(2).transpose(1, 2).reshape(n // grid.count, grid.count, h * w, dim)


def tokens_to_maps(tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`maps_to_tokens`: (B, R, h·w, D) → (B·R, D, h, w)."""
    batch, regions, _, dim = tokens.shape
    return tokens.reshape(batch * regions, h, w, dim).permute(0, 3, 1, 2)


def token_positions(grid: RegionGrid, h: int, w: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Each token's (row, col) on the whole image's token grid, (R, h·w, 2), and its validity.

    A token is valid (``True``) when its cell of the region holds at least one image pixel
    rather than only padding. Tokens of region (i, j) sit at rows ``i·h …`` and cols ``j·w …``.
    """
    stride_r, stride_c = grid.size // h, grid.size // w
    reg = torch.arange(grid.count, device=device)
    ti, tj = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    rows = (reg // grid.cols)[:, None] * h + ti.flatten()[None]
    cols = (reg % grid.cols)[:, None] * w + tj.flatten()[None]
    valid = (rows * stride_r < grid.height) & (cols * stride_c < grid.width)
    return torch.stack([rows, cols], dim=-1).float(), valid


def all_tokens_valid(grid: RegionGrid, h: int, w: int) -> bool:
    """Whether every token of :func:`token_positions` is valid, decided on the host (no GPU sync)."""
    stride_r, stride_c = grid.size // h, grid.size // w
    return (grid.rows * h - 1) * stride_r < grid.height and (grid.cols * w - 1) * stride_c < grid.width
