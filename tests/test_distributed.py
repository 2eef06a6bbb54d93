"""Data-parallel pieces on the CPU with gloo and two processes: gradients averaged over ranks
equal the gradient of the whole batch, and every rank starts from rank 0's weights."""
from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from kiln.training import distributed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2",
                      RANK=str(rank), LOCAL_RANK=str(rank))
    ctx = distributed.setup(torch.device("cpu"))
    torch.manual_seed(100 + rank)  # different initial weights: the broadcast must fix that
    model = torch.nn.Linear(5, 3)
    distributed.broadcast_parameters(model.parameters(), ctx)
    data = torch.randn(8, 5, generator=torch.Generator().manual_seed(7))
    half = data[rank * 4:(rank + 1) * 4]
    model(half).pow(2).mean().backward()
    distributed.average_gradients(model.parameters(), ctx)
    out[rank] = ([p.detach().clone() for p in model.parameters()],
                 [p.grad.clone() for p in model.parameters()],
                 distributed.mean(torch.tensor([float(rank)]), ctx))
    distributed.teardown(ctx)
    assert not dist.is_initialized()


def test_gradients_are_averaged_over_two_gloo_processes() -> None:
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_worker, args=(_free_port(), out), nprocs=2, join=True)
        results = dict(out)
    (weights0, grads0, mean0), (weights1, grads1, mean1) = results[0], results[1]
    for a, b in zip(weights0, weights1):
        torch.testing.assert_close(a, b)
    model = torch.nn.Linear(5, 3)
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights0):
            p.copy_(w)
    data = torch.randn(8, 5, generator=torch.Generator().manual_seed(7))
    # The mean over ranks of per-half means is the whole batch's mean: the same gradient.
    model(data).pow(2).mean().backward()
    for p, g0, g1 in zip(model.parameters(), grads0, grads1):
        torch.testing.assert_close(g0, p.grad)
        torch.testing.assert_close(g1, p.grad)
    assert float(mean0) == float(mean1) == 0.5


def test_one_process_is_a_no_op() -> None:
    ctx = distributed.setup(torch.device("cpu"))
    assert ctx.world_size == 1 and ctx.is_main
    p = torch.nn.Parameter(torch.ones(2))
    p.grad = torch.full((2,), 3.0)
    distributed.average_gradients([p], ctx)
    assert p.grad.tolist() == [3.0, 3.0]
