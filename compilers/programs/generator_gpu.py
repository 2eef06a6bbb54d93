"""The CUDA twin of ``generator.generate_batch``: one thread per program runs ``gen_one``.

``gen_one`` is a ``register_jitable`` routine, so ``numba.cuda`` compiles the very same code as a
device function; its scratch lives in ``cuda.local.array``. The kernel writes torch CUDA tensors
in place (viewed through ``__cuda_array_interface__``, no copies) on torch's current stream, and
nothing waits for it: the batch is ready when that stream gets there. ``numba.cuda`` is imported
on first use, so this module imports anywhere; under ``NUMBA_ENABLE_CUDASIM=1`` (numba's CUDA
simulator, which runs kernels as Python) the kernel fills numpy arrays instead, which is how CI
checks it against the CPU generator bit for bit.
"""
from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np
import torch

from ..tokens import NUM_LITS, TokenBatch
from .generator import (ESTACK, MAX_BLOCKS, NUM_BFIELDS, NUM_STATE, GenConfig, batch_from_arrays,
                        check_config, check_count, check_seed, gen_one)

_THREADS = 128  # per block: the routine is branchy and uses ~6 KB of local memory per thread

# numba.cuda, bound on first use. The kernel must reach it as a module global: the simulator
# swaps the globals that name it for its own emulation while a kernel runs.
cuda: Any = None


@functools.cache
def _kernel() -> tuple[Any, bool]:
    """The compiled kernel and whether it runs on the simulator."""
    global cuda
    from numba import config, int64
    from numba import cuda as numba_cuda

    cuda = numba_cuda

    @cuda.jit
    def generate_kernel(seed, knobs, tokens, lits, meta):
        i = cuda.grid(1)
        if i < tokens.shape[0]:
            st = cuda.local.array(NUM_STATE, int64)
            blocks = cuda.local.array((MAX_BLOCKS, NUM_BFIELDS), int64)
            es = cuda.local.array((ESTACK, 4), int64)
            length, nlits, nparams, nnames = gen_one(seed, i, knobs, tokens[i], lits[i], st,
                                                     blocks, es)
            meta[0, i] = length
            meta[1, i] = nlits
            meta[2, i] = nparams
            meta[3, i] = nnames

    return generate_kernel, bool(config.ENABLE_CUDASIM)


@functools.lru_cache(maxsize=64)
def _knobs_on(config: GenConfig, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(config.to_array()).to(device)


def generate_batch_cuda(n: int, seed: int, config: GenConfig | None = None,
                        device: torch.device | str | None = None) -> TokenBatch:
    """Programs ``0..n-1`` of stream ``seed`` generated on the GPU, identical to
    ``generator.generate_batch``'s: a TokenBatch of int32 tensors on ``device`` (default: the
    current CUDA device), ``config.max_tokens`` wide. Nothing is synchronised.

    Under the CUDA simulator ``device`` is ignored and the tensors are on the CPU.
    """
    n, seed, config = check_count(n), check_seed(seed), check_config(config)
    kernel, simulator = _kernel()
    blocks = max(1, math.ceil(n / _THREADS))
    if simulator:
        tokens = np.zeros((n, config.max_tokens), np.int32)
        lits = np.zeros((n, NUM_LITS), np.int32)
        meta = np.zeros((4, n), np.int32)
        if n:
            kernel[blocks, _THREADS](seed, config.to_array(), tokens, lits, meta)
        return batch_from_arrays(torch.from_numpy(tokens), torch.from_numpy(lits),
                                 torch.from_numpy(meta))
    device = torch.device("cuda" if device is None else device)
    if device.type != "cuda":
        raise ValueError(f"generate_batch_cuda needs a CUDA device, got {device} (use "
                         f"generator.generate_batch on the CPU)")
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    tokens = torch.zeros((n, config.max_tokens), dtype=torch.int32, device=device)
    lits = torch.zeros((n, NUM_LITS), dtype=torch.int32, device=device)
    meta = torch.zeros((4, n), dtype=torch.int32, device=device)
    if n:
        knobs = _knobs_on(config, device)
        with cuda.gpus[device.index]:
            stream = cuda.external_stream(torch.cuda.current_stream(device).cuda_stream)
            # sync=False: the kernel runs on the tensors' own stream, so numba must not make the
            # host wait for it.
            views = [cuda.as_cuda_array(t, sync=False) for t in (knobs, tokens, lits, meta)]
            with warnings.catch_warnings():
                # A small batch is a small grid, which numba flags as low occupancy.
                warnings.filterwarnings("ignore", message=".*Grid size .* under-utilization")
                kernel[blocks, _THREADS, stream](seed, *views)
    return batch_from_arrays(tokens, lits, meta)
