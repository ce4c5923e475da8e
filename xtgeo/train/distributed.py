"""torch.distributed helpers: who am I, start/stop the process group, launch N local processes."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from xtgeo.errors import XtgeoError, one_line


@dataclass(frozen=True)
class Rank:
    """This process's place in the run: global ``rank``, ``world`` size and ``local`` rank."""

    rank: int = 0
    world: int = 1
    local: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def from_environment() -> Rank:
    """The rank that ``torchrun`` set in the environment (single process when not launched by it)."""
    return Rank(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                int(os.environ.get("LOCAL_RANK", 0)))


def device_for(rank: Rank, wanted: str) -> torch.device:
    """``cuda:<local rank>`` when CUDA is wanted ("auto"/"cuda") and present, else CPU."""
    if wanted == "cuda" and not torch.cuda.is_available():
        raise XtgeoError("train.device: cuda was asked for but no CUDA device is available")
    if wanted != "cpu" and torch.cuda.is_available():
        torch.cuda.set_device(rank.local)
        return torch.device("cuda", rank.local)
    return torch.device("cpu")


def init_group(rank: Rank, device: torch.device) -> None:
    """Join the process group (NCCL on CUDA, gloo on CPU) when there is more than one process."""
    if rank.world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=rank.rank, world_size=rank.world,
                                device_id=device if device.type == "cuda" else None)


def close_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum of ``values`` over all processes (identity for one process)."""
    if dist.is_initialized():
        dist.all_reduce(values)
    return values


def all_min(values: torch.Tensor) -> torch.Tensor:
    """Element-wise minimum of ``values`` over all processes (identity for one process)."""
    if dist.is_initialized():
        dist.all_reduce(values, op=dist.ReduceOp.MIN)
    return values


def all_max(values: torch.Tensor) -> torch.Tensor:
    """Element-wise maximum of ``values`` over all processes (identity for one process)."""
    if dist.is_initialized():
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return values


def gather(items: list[Any]) -> list[Any]:
    """Every process's ``items`` (picklable), concatenated in rank order, on every process."""
    if not dist.is_initialized():
        return list(items)
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, items)
    return [item for part in parts for item in part]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _entry(local: int, world: int, fn: Callable[..., Any], args: tuple) -> None:
    os.environ.update(RANK=str(local), LOCAL_RANK=str(local), WORLD_SIZE=str(world))
    fn(*args)


def launch(nprocs: int, fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` in ``nprocs`` local processes with torchrun's environment variables.

    An :class:`XtgeoError` raised in a process comes back as one :class:`XtgeoError` here.
    """
    import torch.multiprocessing as mp

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ["MASTER_PORT"] = str(_free_port())
    try:
        mp.spawn(_entry, args=(nprocs, fn, args), nprocs=nprocs, join=True)
    except mp.ProcessRaisedException as err:
        if any(line.startswith("xtgeo.errors.") for line in str(err).splitlines()):
            raise XtgeoError(one_line(err)) from None
        raise
