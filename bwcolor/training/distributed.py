"""Data-parallel training across processes (``torchrun``): process group, ranks, and reductions.

``bwcolor train`` runs unchanged under ``torchrun``: it reads the environment torchrun sets
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``...), joins the process group (NCCL on
CUDA, gloo on CPU), and uses one device per process. Outside torchrun it is one process of one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from bwcolor.errors import UsageError


@dataclass(frozen=True)
class Processes:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, logs and plots, and reports progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def sum(self, *values: float) -> list[float]:
        """The sums over all processes of each of ``values`` (as float64)."""
        if not self.distributed:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64)
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.all_reduce(t)
        return t.cpu().tolist()

    def shard(self, n: int) -> slice:
        """This process's share of a batch of ``n`` items (items rank, rank + world, ...)."""
        return slice(self.rank, n, self.world)

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank_from_environment() -> int:
    return int(os.environ.get("RANK", "0"))


def start(device: torch.device) -> Processes:
    """Join the process group torchrun describes (if any); returns this process's place in it.

    On CUDA each process takes the GPU of its local rank; on CPU the cores are shared out.
    """
    if not launched_by_torchrun():
        return Processes()
    procs = Processes(
        rank=int(os.environ["RANK"]),
        world=int(os.environ["WORLD_SIZE"]),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        local_world=int(os.environ.get("LOCAL_WORLD_SIZE", "1")),
    )
    if device.type == "cuda":
        if procs.local_rank >= torch.cuda.device_count():
            raise UsageError(
                f"torchrun started {procs.local_world} processes on this machine, which has "
                f"{torch.cuda.device_count()} CUDA device(s): use --nproc-per-node="
                f"{torch.cuda.device_count()} (one process per GPU), or --device cpu"
            )
        torch.cuda.set_device(procs.local_rank)
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // procs.local_world))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return procs
