"""The CUDA twin of the CPU generator: one thread per program runs ``gen_one``.

``gen_one`` is a ``register_jitable`` routine, so ``numba.cuda`` compiles the very same code as a
device function; its scratch lives in ``cuda.local.array``. The kernel writes torch CUDA tensors
in place (no copies) on torch's current stream, through ``compilers.gpu_launch``, and nothing
waits for it: the batch is ready when that stream gets there. Callers use
``generator.generate_batch(..., device=...)``, which comes here for a CUDA device. Under
``NUMBA_ENABLE_CUDASIM=1`` (numba's CUDA simulator, which runs kernels as Python) the kernel fills
numpy arrays instead, which is how CI checks it against the CPU generator bit for bit.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from .. import gpu_launch
from ..tokens import NUM_LITS, TokenBatch
from .generator import (ESTACK, MAX_BLOCKS, NUM_BFIELDS, NUM_STATE, GenConfig, batch_from_arrays,
                        gen_one)

_THREADS = 128  # per block: the routine is branchy and uses ~6 KB of local memory per thread

# numba.cuda, bound on first use (see gpu_launch.numba_cuda).
cuda: Any = None


@functools.cache
def _kernel() -> Any:
    global cuda
    from numba import int64

    cuda = gpu_launch.numba_cuda()

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

    return generate_kernel


@functools.lru_cache(maxsize=64)
def _knobs_on(config: GenConfig, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(config.to_array()).to(device)


def generate_on_cuda(n: int, seed: int, config: GenConfig, device: Any) -> TokenBatch:
    """``generator.generate_batch`` on a CUDA device (``seed`` already checked): the batch's
    tensors are on ``device`` (None: the current CUDA device), nothing synchronised. Under the
    CUDA simulator ``device`` is ignored and the tensors are on the CPU."""
    kernel = _kernel()
    blocks = gpu_launch.blocks_for(n, _THREADS, 1 << 30)
    if gpu_launch.is_simulator():
        tokens = np.zeros((n, config.max_tokens), np.int32)
        lits = np.zeros((n, NUM_LITS), np.int32)
        meta = np.zeros((4, n), np.int32)
        if n:
            gpu_launch.launch(kernel, blocks, _THREADS, seed, config.to_array(), tokens, lits,
                              meta)
        return batch_from_arrays(torch.from_numpy(tokens), torch.from_numpy(lits),
                                 torch.from_numpy(meta))
    device = gpu_launch.cuda_device(device)
    tokens = torch.zeros((n, config.max_tokens), dtype=torch.int32, device=device)
    lits = torch.zeros((n, NUM_LITS), dtype=torch.int32, device=device)
    meta = torch.zeros((4, n), dtype=torch.int32, device=device)
    if n:
        gpu_launch.launch(kernel, blocks, _THREADS, seed, _knobs_on(config, device), tokens,
                          lits, meta)
    return batch_from_arrays(tokens, lits, meta)
