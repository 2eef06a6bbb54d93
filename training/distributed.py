"""Data-parallel training on ``torch.distributed``: each process its own env lanes, gradients
averaged over processes, rank 0 logs and checkpoints.

``kiln train --nproc N`` relaunches itself under ``torchrun`` (``launch``); each process then
calls ``setup``, which joins the process group torchrun describes in the environment (NCCL on
CUDA, gloo on the CPU). With one process every function here is a no-op, so the training loop
calls them unconditionally.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    collective_device: str = "cpu"  # where tensors for collectives live (NCCL: this GPU)

    @property
    def is_main(self) -> bool:
        """True on the process that logs and checkpoints."""
        return self.rank == 0


def setup(device: torch.device) -> Dist:
    """Join torchrun's process group if there is one (``WORLD_SIZE`` > 1 in the environment)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Dist()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), world_size, local_rank,
                f"cuda:{local_rank}" if device.type == "cuda" else "cpu")


def device_for(device: torch.device, ctx: Dist) -> torch.device:
    """Each process's own GPU (``cuda:LOCAL_RANK``); the CPU stays the CPU."""
    if device.type == "cuda" and ctx.world_size > 1:
        return torch.device("cuda", ctx.local_rank)
    return device


def broadcast_parameters(tensors: Iterable[torch.Tensor], ctx: Dist) -> None:
    """Give every process rank 0's values (the same starting weights everywhere)."""
    if ctx.world_size > 1:
        for tensor in tensors:
            dist.broadcast(tensor.data, 0)


def average_gradients(parameters: Iterable[torch.nn.Parameter], ctx: Dist) -> None:
    """Replace each gradient by its mean over processes, in one all-reduce of a flat buffer."""
    if ctx.world_size == 1:
        return
    params = [p for p in parameters if p.grad is not None]
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= ctx.world_size
    offset = 0
    for p in params:
        n = p.grad.numel()
        p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
        offset += n


def mean(values: torch.Tensor, ctx: Dist) -> torch.Tensor:
    """The element-wise mean of ``values`` over processes (statistics for logging)."""
    if ctx.world_size == 1:
        return values
    values = values.clone()
    dist.all_reduce(values)
    return values / ctx.world_size


def agree(flag: bool, ctx: Dist) -> bool:
    """True on every process if ``flag`` is true on any (decisions taken by the clock)."""
    if ctx.world_size == 1:
        return flag
    value = torch.tensor([float(flag)], device=ctx.collective_device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def finish(ctx: Dist) -> None:
    """Wait until every process has finished its work. A process that left the group while
    rank 0 was still evaluating or checkpointing could make gloo abort (seen once in CI)."""
    if ctx.world_size > 1 and dist.is_initialized():
        dist.barrier()


def teardown(ctx: Dist) -> None:
    if ctx.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def launch(nproc: int, argv: Sequence[str]) -> int:
    """Run ``kiln <argv>`` in ``nproc`` processes under torchrun; the exit status of the job."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "kiln", *argv]
    return subprocess.call(command)
