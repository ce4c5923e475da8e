"""Whole-scene inference: windows read ahead in strips → xT model → blended full-scene maps.

``read_window(window) -> (x, valid)`` supplies the model input of a window or of a strip of one,
float32 (C, h, w), and its validity mask, bool (h, w); it is called from reader threads (give each
thread its own file handle) and must depend on each pixel alone. Windows without any valid pixel
are skipped. Imports only numpy and torch.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from itertools import islice
from typing import Any, TypeVar

import numpy as np
import torch

from xtgeo.data.transfer import ready, side_copy, to_device
from xtgeo.errors import XtgeoError
from xtgeo.predict.windows import GridWindow, SceneMaps, WindowGrid
from xtgeo.tasks.xview3 import HEADS

T = TypeVar("T")
R = TypeVar("R")
#: Strips read ahead per reader thread: 2 (16 readers: 4 windows of 8 strips) keeps a compiled model
#: fed, while 4 made the first window wait 0.25 s instead of 0.10 s for the 7 windows read beside it.
STRIPS_AHEAD = 2
WindowReader = Callable[[GridWindow], tuple[np.ndarray, np.ndarray]]


def prefetch(fn: Callable[[T], R], items: Iterable[T], workers: int = 2, depth: int = 3) -> Iterator[R]:
    """``map(fn, items)`` run ahead in ``workers`` threads, at most ``depth`` results pending, in order."""
    items = iter(items)
    with ThreadPoolExecutor(max(workers, 1), thread_name_prefix="xtgeo-read") as pool:
        pending = deque(pool.submit(fn, item) for item in islice(items, max(depth, 1)))
        try:
            while pending:
                result = pending.popleft().result()
                pending.extend(pool.submit(fn, item) for item in islice(items, 1))
                yield result
        finally:
            for future in pending:
                future.cancel()


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter)."""
    items = iter(items)
    while chunk := list(islice(items, size)):
        yield chunk


class WindowBatch:
    """Windows read together: their model input (B, C, h, w) and validity (B, h, w) as tensors."""

    def __init__(self, windows: list[GridWindow], x: torch.Tensor, valid: torch.Tensor):
        self.windows, self.x, self.valid = windows, x, valid


#: Rows of a window read at once: the tile height of raw and prepared scene GeoTIFFs, so that a
#: strip decodes only its own tiles.
STRIP_ROWS = 512


def window_strips(window: GridWindow, rows: int = STRIP_ROWS) -> list[GridWindow]:
    """``window`` cut into full-width strips at the scene rows that are multiples of ``rows``."""
    bottom = window.row + window.height
    cuts = [window.row, *range((window.row // rows + 1) * rows, bottom, rows), bottom]
    return [replace(window, row=top, height=end - top) for top, end in zip(cuts, cuts[1:])]


class BatchBuffer:
    """One batch of windows assembled from strips that reader threads read in parallel (thread-safe
    :meth:`put`): the model input (B, C, h, w) float32 and validity (B, h, w), pinned for a GPU."""

    def __init__(self, windows: list[GridWindow], pin: bool):
        self.windows, self.pin = windows, pin
        self.x: torch.Tensor | None = None
        self.valid: torch.Tensor | None = None
        self._lock = threading.Lock()

    def put(self, k: int, strip: GridWindow, x: np.ndarray, valid: np.ndarray) -> None:
        """Copy one strip of window ``k`` (``x`` (C, rows, w), ``valid`` (rows, w)) into place."""
        with self._lock:  # the first strip read gives the channel count
            if self.x is None:
                shape = (len(self.windows), x.shape[0], self.windows[0].height, self.windows[0].width)
                self.x = torch.empty(shape, dtype=torch.float32, pin_memory=self.pin)
                self.valid = torch.empty((shape[0], *shape[2:]), dtype=torch.bool, pin_memory=self.pin)
        top = strip.row - self.windows[k].row
        self.x[k, :, top: top + strip.height].numpy()[...] = x
        self.valid[k, top: top + strip.height].numpy()[...] = valid

    def batch(self) -> WindowBatch:
        """The windows with at least one valid pixel (once every strip is in)."""
        kept = [k for k in range(len(self.windows)) if bool(self.valid[k].any())]
        if len(kept) == len(self.windows):
            return WindowBatch(self.windows, self.x, self.valid)
        index = torch.tensor(kept, dtype=torch.long)
        return WindowBatch([self.windows[k] for k in kept], self.x[index], self.valid[index])


def strip_reads(windows: Iterable[GridWindow], batch_size: int,
                pin: bool) -> Iterator[tuple[BatchBuffer, int, GridWindow, bool]]:
    """(buffer, window index in it, strip, whether it is the buffer's last strip) for every strip of
    every window (e.g. of a :class:`WindowGrid`), in order, batches of ``batch_size`` windows to a buffer."""
    for chunk in batched(windows, batch_size):
        buffer = BatchBuffer(chunk, pin)
        parts = [(k, strip) for k, window in enumerate(chunk) for strip in window_strips(window)]
        for n, (k, strip) in enumerate(parts):
            yield buffer, k, strip, n == len(parts) - 1


#: One dihedral view of a window: quarter turns (counter-clockwise), applied after a left-right mirror if True.
View = tuple[int, bool]
#: Test-time augmentation: the views whose outputs are averaged, by name.
TTA_VIEWS: dict[str, tuple[View, ...]] = {
    "none": ((0, False),),
    "rot180": ((0, False), (2, False)),
    "flips": ((0, False), (0, True), (2, False), (2, True)),  # identity, left-right, rot180, up-down
    "d4": tuple((turns, mirror) for mirror in (False, True) for turns in range(4)),  # all 8
}


def to_view(image: torch.Tensor, view: View) -> torch.Tensor:
    """``image`` (..., h, w) as the model sees it in ``view`` ((w, h) after an odd number of turns)."""
    turns, mirror = view
    return torch.rot90(image.flip(-1) if mirror else image, turns, dims=(-2, -1))


def from_view(image: torch.Tensor, view: View) -> torch.Tensor:
    """The inverse of :func:`to_view`: an output in ``view`` put back on the window's pixels."""
    turns, mirror = view
    image = torch.rot90(image, -turns, dims=(-2, -1))
    return image.flip(-1) if mirror else image


def head_outputs(raw: dict[str, torch.Tensor], valid: torch.Tensor) -> dict[str, torch.Tensor]:
    """Model outputs (B, 1, h, w) → probabilities / metres (B, h, w); the peak head is 0 on nodata."""
    out = {}
    for head in HEADS:
        value = raw[head.name][:, 0].float()
        if head.activation == "logit":
            value = torch.sigmoid(value)
        if head.decoding == "peaks":
            value = value * valid
        out[head.name] = value
    return out


class Predictor:
    """Runs a model, or an ensemble of models, over window batches on one device, halving the batch
    (then the regions per backbone call) on GPU out-of-memory.

    Every model sees every view of ``tta`` (a name of :data:`TTA_VIEWS`); the outputs are mapped
    back to the window's pixels, put through the heads' activations (:func:`head_outputs`) and
    averaged: probabilities and metres, never logits. ``compile_model`` applies ``torch.compile`` to
    each model's per-pixel stages (an :class:`~xtgeo.models.XT`): the first window then takes a
    one-time compilation (per window shape: a second one for the turned views of a non-square
    window), later windows run faster.
    """

    def __init__(self, model: torch.nn.Module | Sequence[torch.nn.Module], device: torch.device | str,
                 batch_size: int = 1, compile_model: bool = False, tta: str = "none"):
        if tta not in TTA_VIEWS:
            raise XtgeoError(f"--tta-views {tta}: not one of {', '.join(TTA_VIEWS)}")
        self.device = torch.device(device)
        self.models = [m.to(self.device).eval() for m in ([model] if isinstance(model, torch.nn.Module) else model)]
        if compile_model:
            for m in self.models:
                m.compile_stages()
        self.views = TTA_VIEWS[tta]
        self.batch_size = max(int(batch_size), 1)
        self.autocast = self.device.type == "cuda"
        #: Held by the scene whose windows are running (:func:`predict_maps`): scenes that share
        #: this predictor take its models in turn, each with the whole device.
        self.turn = threading.Lock()
        #: A GPU's windows are copied on their own stream, beside the model still running on the last.
        self.copy_stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # every window has the same shape

    def to_device(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``tensors`` on the device: on a GPU copied on :attr:`copy_stream`, which the model waits for."""
        if self.copy_stream is None:
            return to_device(tensors, self.device)
        return ready(*side_copy(tensors, self.device, self.copy_stream), self.device)

    def _forward(self, x: torch.Tensor, valid: torch.Tensor) -> dict[str, torch.Tensor]:
        moved = self.to_device({"x": x, "valid": valid})
        x, valid = moved["x"], moved["valid"]
        total: dict[str, torch.Tensor] = {}
        with torch.inference_mode(), torch.autocast(self.device.type, torch.bfloat16, enabled=self.autocast):
            for model in self.models:
                for view in self.views:
                    raw = model(to_view(x, view))
                    out = head_outputs({name: from_view(value, view) for name, value in raw.items()}, valid)
                    total = out if not total else {name: total[name].add_(value) for name, value in out.items()}
            count = len(self.models) * len(self.views)
            return total if count == 1 else {name: value.div_(count) for name, value in total.items()}

    def forward(self, batch: WindowBatch) -> Iterator[tuple[GridWindow, dict[str, torch.Tensor]]]:
        """(window, outputs) for every window of the batch, in chunks of the current batch size."""
        start = 0
        while start < len(batch.windows):
            stop = start + self.batch_size
            try:
                out = self._forward(batch.x[start:stop], batch.valid[start:stop])
            except torch.OutOfMemoryError:
                self._shrink(batch)
                continue
            for k, window in enumerate(batch.windows[start:stop]):
                yield window, {h: v[k] for h, v in out.items()}
            start = stop

    def _shrink(self, batch: WindowBatch) -> None:
        """After running out of memory: halve the windows per pass, then each model's regions per
        backbone call (``encoder.region_batch``); an error naming what to change when both are 1."""
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        if self.batch_size > 1:
            self.batch_size //= 2
            return
        encoders = [m.encoder for m in self.models if getattr(getattr(m, "encoder", None), "region_batch", 1) > 1]
        for encoder in encoders:
            encoder.region_batch //= 2
        if not encoders:
            h, w = batch.x.shape[-2:]
            raise XtgeoError(
                f"out of memory on {self.device} with one {h}x{w} window, one region per backbone call: use a "
                "smaller --window-size (e.g. half) or --device cpu"
            )


def predict_maps(
    predictor: Predictor,
    grid: WindowGrid,
    read_window: WindowReader,
    *,
    readers: int = 2,
    on_windows: Callable[[int], Any] | None = None,
    track_valid: bool = False,
) -> SceneMaps:
    """Blend the model's outputs over every window of ``grid`` into :class:`SceneMaps` on its device.

    ``readers`` threads read ahead (:data:`STRIPS_AHEAD` strips each), every window in row strips
    (:func:`window_strips`) taken in order by all of them, so that windows, the first one too, are
    ready at the readers' combined rate rather than one thread's. The first batch is read before
    the predictor's :attr:`~Predictor.turn` is taken, and the turn is given back as soon as the
    last window is on the device: another scene on the same predictor runs its windows meanwhile,
    so a GPU waits neither for this scene's first reads nor for the work on its maps.
    ``on_windows(n)`` is called after each batch of ``n`` windows; ``track_valid`` also keeps the
    validity of every pixel (``SceneMaps.valid``).
    """
    maps = SceneMaps(grid, predictor.device, track_valid=track_valid)

    def read_strip(part: tuple[BatchBuffer, int, GridWindow, bool]) -> tuple[BatchBuffer, bool]:
        buffer, k, strip, last = part
        buffer.put(k, strip, *read_window(strip))
        return buffer, last

    parts = strip_reads(grid, predictor.batch_size, pin=predictor.device.type == "cuda")
    with ExitStack() as turn:
        on_device = False
        for buffer, last in prefetch(read_strip, parts, readers, STRIPS_AHEAD * readers):
            if not last:
                continue
            batch = buffer.batch()
            if not on_device:  # the first batch is read: now wait for the device
                turn.enter_context(predictor.turn)
                on_device = True
            for window, valid in zip(batch.windows, batch.valid):
                maps.mark_valid(window, valid)
            for window, outputs in predictor.forward(batch):
                maps.add(window, outputs)
            if on_windows is not None:
                on_windows(len(buffer.windows))
    return maps
