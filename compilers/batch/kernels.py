"""The CUDA kernels of the batched compiler (``gpu`` imports this module on first use).

Importing it imports ``numba.cuda``; under ``NUMBA_ENABLE_CUDASIM=1`` that is numba's simulator,
where the kernels run as Python. The kernels reach ``cuda`` as a module global because the
simulator swaps the globals that name it while a kernel runs.
"""
from __future__ import annotations

import functools
from typing import Any

from numba import cuda, int32, int64

from .core import compile_one, compile_one_o2
from .stream import STATE_SIZE


# Cached on disk: compiling the whole compiler for the GPU takes a minute or more.
@cuda.jit(cache=True)
def thread_kernel(tokens, lengths, lits, nlits, nparams, nnames, opt, code, out_len, status,
                  err_pos, scratch):
    """One thread per program, grid-stride; ``scratch[:, g]`` is thread g's scratch."""
    st = cuda.local.array(STATE_SIZE, int64)
    g = cuda.grid(1)
    b = g
    while b < tokens.shape[0]:
        s, pos, n = compile_one(tokens[b], lengths[b], lits[b], nlits[b], nparams[b],
                                nnames[b], opt, code[b], scratch[:, g], st)
        status[b] = s
        err_pos[b] = pos
        out_len[b] = n
        b += cuda.gridsize(1)


@cuda.jit(cache=True)
def thread_kernel_o2(tokens, lengths, lits, nlits, nparams, nnames, code, out_len, status,
                     err_pos, scratch, ex, htab, sm, pool, meta, work):
    """-O2, one thread per program, grid-stride; thread g's scratch is ``scratch[:, g]`` and
    its -O2 arrays the rows ``ex[g]``, ``htab[g]``... (``o2.allocate``)."""
    st = cuda.local.array(STATE_SIZE, int64)
    g = cuda.grid(1)
    b = g
    while b < tokens.shape[0]:
        s, pos, n = compile_one_o2(tokens[b], lengths[b], lits[b], nlits[b], nparams[b],
                                   nnames[b], code[b], scratch[:, g], st, ex[g], htab[g], sm[g],
                                   pool[g], meta[g], work[g])
        status[b] = s
        err_pos[b] = pos
        out_len[b] = n
        b += cuda.gridsize(1)


@functools.lru_cache(maxsize=32)
def warp_kernel(width: int, max_code: int, warps: int) -> Any:
    """One warp per program, ``warps`` per block, for token rows of ``width`` and code rows of
    ``max_code`` (the sizes of its shared buffers, which must be compile-time constants)."""

    @cuda.jit
    def kernel(tokens, lengths, lits, nlits, nparams, nnames, opt, code, out_len, status,
               err_pos, scratch):
        row = cuda.shared.array((warps, width), int32)
        out = cuda.shared.array((warps, max_code, 2), int32)
        st = cuda.local.array(STATE_SIZE, int64)
        lane = cuda.threadIdx.x % 32
        w = cuda.threadIdx.x // 32
        gw = cuda.blockIdx.x * warps + w
        first = cuda.blockIdx.x * warps
        # Rounds are the same for every warp of a block, so that all reach each barrier.
        while first < tokens.shape[0]:
            b = first + w
            if b < tokens.shape[0]:
                for j in range(lane, width, 32):
                    row[w, j] = tokens[b, j]
                for j in range(lane, max_code, 32):
                    out[w, j, 0] = 0
                    out[w, j, 1] = 0
            cuda.syncthreads()
            if b < tokens.shape[0] and lane == 0:
                s, pos, n = compile_one(row[w], lengths[b], lits[b], nlits[b], nparams[b],
                                        nnames[b], opt, out[w], scratch[gw], st)
                status[b] = s
                err_pos[b] = pos
                out_len[b] = n
            cuda.syncthreads()
            if b < tokens.shape[0]:
                for j in range(lane, max_code, 32):
                    code[b, j, 0] = out[w, j, 0]
                    code[b, j, 1] = out[w, j, 1]
            cuda.syncthreads()
            first += cuda.gridDim.x * warps

    return kernel
