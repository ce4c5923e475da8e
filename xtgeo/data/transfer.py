"""Samples in compact dtypes from the loader to the device, where they stay compact.

A 4096² crop is 470 MB in float32 (image and five target maps); its copy to the GPU and the
loader's pinning of it would cost a training step tens of milliseconds, and two batches on the GPU
(the step's and the next, copied ahead) would hold 0.9 GB. Samples therefore travel and stay as
float16 (image, Gaussian and length maps), int8 (class maps: -1, 0, 1) and uint8 (loss masks):
11 bytes a pixel instead of 28. Their users read them as float32 where they compute: the loss
(:func:`xtgeo.train.losses.xview3_loss`) casts each target it uses, and under bf16 autocast the
model's first layers cast the image. :func:`device_batches` copies each batch on a side CUDA stream
one batch ahead, so the copy overlaps the step before it; :func:`to_device` copies one batch in line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from xtgeo.tasks.xview3 import HEADS, PEAK_LOSS_MASK

#: Dtype of each target kind of :mod:`xtgeo.tasks.xview3` on its way to the device: exact for
#: classes (-1, 0, 1), masks and the Gaussian's peak 1.0; float16 keeps lengths to 0.05 %.
TARGET_DTYPES = {"gaussian": torch.float16, "disc_class": torch.int8, "disc_value": torch.float16}
_DTYPES = {head.name: TARGET_DTYPES[head.target] for head in HEADS} | {PEAK_LOSS_MASK: torch.uint8}


def compact(sample: dict[str, torch.Tensor], image_dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """``sample`` with its target maps in :data:`TARGET_DTYPES` and its image in ``image_dtype``."""
    return {key: value.to(_DTYPES.get(key, image_dtype)) for key, value in sample.items()}


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """``batch`` on ``device``, dtypes kept (copied without blocking from pinned memory)."""
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}


Batch = dict[str, torch.Tensor]


def device_batches(batches: Iterable[Batch], device: torch.device) -> Iterator[Batch]:
    """``batches`` on ``device`` (:func:`to_device`); on CUDA each batch's copy runs on a side stream while
    the step before it computes, and the current stream waits for that copy alone."""
    if device.type != "cuda":
        yield from (to_device(batch, device) for batch in batches)
        return
    side = torch.cuda.Stream(device)
    pending = None
    for batch in batches:
        copying = side_copy(batch, device, side)
        if pending is not None:
            yield ready(*pending, device)
        pending = copying
    if pending is not None:
        yield ready(*pending, device)


def side_copy(batch: Batch, device: torch.device, stream: torch.cuda.Stream) -> tuple[Batch, torch.cuda.Event]:
    """``batch`` copied to ``device`` on ``stream`` (:func:`to_device`), and the event that marks the copy's end."""
    with torch.cuda.stream(stream):
        moved = to_device(batch, device)
        copied = torch.cuda.Event()
        copied.record(stream)
    return moved, copied


def ready(moved: Batch, copied: torch.cuda.Event, device: torch.device) -> Batch:
    """``moved`` (from :func:`side_copy`) for the current stream, which waits for the copy alone."""
    current = torch.cuda.current_stream(device)
    current.wait_event(copied)
    for value in moved.values():
        value.record_stream(current)  # its memory is not reused while the current stream reads it
    return moved
