"""The GPU compiler: ``numba.cuda`` kernels over ``core.compile_one``, on torch CUDA tensors.

Two kernels (in ``kernels``), selected by ``variant``:

- ``"thread"``: one thread per program. The threads of a warp compile different programs, so
  they diverge, but many programs are in flight. Scratch is a global ``[W, G]`` array, one
  column per thread, so that the warp's accesses at equal offsets coalesce.
- ``"warp"``: one warp per program. The warp copies the token row into shared memory, lane 0
  compiles into a shared code buffer, and the warp writes the code row out, both coalesced; no
  divergence, but one busy lane per warp. Scratch is one global row per warp.

At -O2 there is one kernel, ``thread_kernel_o2`` (one thread per program, whatever
``variant`` says): besides the scratch column, each thread has its -O2 arrays
(``o2.allocate``), about 0.7 MB for 512-token rows, so fewer threads run at once
(``O2_SCRATCH_BYTES`` in all) and each compiles more programs.

The kernels loop over the batch with a grid stride (a fixed number of threads, whose scratch is
allocated once per call), take and return torch CUDA tensors without copies and launch on
torch's current stream, with no host synchronisation, through ``compilers.gpu_launch``.
``kernels`` (and so ``numba.cuda``) is imported on first use, so this module
imports anywhere; under ``NUMBA_ENABLE_CUDASIM=1`` (numba's CUDA simulator, where
``compile_one`` runs as Python) the same kernels take and return numpy arrays, which is how CI
tests them.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..gpu_launch import blocks_for, is_simulator, launch, sm_count
from .core import scratch_size
from .o2 import allocate, array_specs

VARIANTS = ("thread", "warp")
DEFAULT_VARIANT = "thread"  # on an H200: 6.1e5 programs/s against the warp variant's 4.1e5
THREADS = 128               # per block, thread variant
THREADS_PER_SM = 512        # thread variant: resident programs per SM (scratch is per thread)
WARPS = 4                   # per block, warp variant
WARPS_PER_SM = 32           # warp variant: resident programs per SM
_SHARED_BYTES = 48 * 1024   # static shared memory per block
_SIM_PROGRAMS = 64          # simulated threads or warps: few, so that each loops over several
O2_SCRATCH_BYTES = 8 << 30  # -O2: device memory for all threads' IR arrays together


def o2_bytes_per_thread(width: int) -> int:
    """Device bytes of one thread's -O2 arrays for token rows of ``width``."""
    return sum(math.prod(shape) * np.dtype(dtype).itemsize
               for shape, dtype in array_specs(width))


def _warps_per_block(width: int, max_code: int) -> int:
    per_warp = 4 * width + 8 * max_code
    warps = min(WARPS, _SHARED_BYTES // per_warp)
    if warps < 1:
        raise ValueError(f"the warp variant stages a {width}-token row and {max_code} code rows "
                         f"in shared memory ({per_warp} bytes), over {_SHARED_BYTES}: use the "
                         f"thread variant")
    return warps


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return variant


def compile_arrays_sim(tokens: np.ndarray, lengths: np.ndarray, lits: np.ndarray,
                       nlits: np.ndarray, nparams: np.ndarray, nnames: np.ndarray, opt: int,
                       max_code: int, variant: str = DEFAULT_VARIANT
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kernels on the CUDA simulator, on int32 numpy arrays (as ``cpu.compile_arrays``)."""
    if not is_simulator():
        raise RuntimeError("compile_arrays_sim needs NUMBA_ENABLE_CUDASIM=1 before numba.cuda "
                           "is imported")
    from . import kernels

    _check_variant(variant)
    programs, width = tokens.shape
    code = np.zeros((programs, max_code, 2), np.int32)
    out = [np.zeros(programs, np.int32) for _ in range(3)]
    if programs == 0:
        return code, *out
    if opt == 2:
        threads = min(_SIM_PROGRAMS, programs)
        scratch = np.zeros((scratch_size(width), threads), np.int32)
        launch(kernels.thread_kernel_o2, 1, threads, tokens, lengths, lits, nlits, nparams,
               nnames, code, *out, scratch, *allocate(width, threads))
        return code, *out
    args = (tokens, lengths, lits, nlits, nparams, nnames, opt, code, *out)
    if variant == "thread":
        threads = min(_SIM_PROGRAMS, programs)
        scratch = np.zeros((scratch_size(width), threads), np.int32)
        launch(kernels.thread_kernel, 1, threads, *args, scratch)
    else:
        warps = _warps_per_block(width, max_code)
        blocks = min(math.ceil(_SIM_PROGRAMS / warps), math.ceil(programs / warps))
        scratch = np.zeros((blocks * warps, scratch_size(width)), np.int32)
        launch(kernels.warp_kernel(width, max_code, warps), blocks, 32 * warps, *args, scratch)
    return code, *out


def compile_tensors(tokens: Any, lengths: Any, lits: Any, nlits: Any, nparams: Any,
                    nnames: Any, opt: int, max_code: int, variant: str = DEFAULT_VARIANT
                    ) -> tuple[Any, Any, Any, Any]:
    """Compile a batch held in int32 torch CUDA tensors, on their GPU, asynchronously.

    Returns ``(code [B, max_code, 2], lengths, status, err_pos)``, int32 tensors on the same
    device, ready when torch's current stream gets there.
    """
    import torch

    from . import kernels

    _check_variant(variant)
    if is_simulator():
        raise RuntimeError("under the CUDA simulator use compile_arrays_sim (numpy arrays)")
    device = tokens.device
    programs, width = tokens.shape
    code = (torch.zeros if variant == "thread" or opt == 2 else torch.empty)(
        (programs, max_code, 2), dtype=torch.int32, device=device)
    out = [torch.empty(programs, dtype=torch.int32, device=device) for _ in range(3)]
    if programs == 0:
        return code, *out
    sms = sm_count(device.index)
    if opt == 2:
        blocks = blocks_for(programs, THREADS, sms * THREADS_PER_SM // THREADS)
        blocks = max(1, min(blocks, O2_SCRATCH_BYTES // (THREADS * o2_bytes_per_thread(width))))
        threads = blocks * THREADS
        scratch = torch.empty((scratch_size(width), threads), dtype=torch.int32, device=device)
        arrays = [torch.empty((threads,) + shape, dtype=getattr(torch, np.dtype(dtype).name),
                              device=device) for shape, dtype in array_specs(width)]
        launch(kernels.thread_kernel_o2, blocks, THREADS, tokens, lengths, lits, nlits, nparams,
               nnames, code, *out, scratch, *arrays)
        return code, *out
    if variant == "thread":
        blocks = blocks_for(programs, THREADS, sms * THREADS_PER_SM // THREADS)
        scratch = torch.empty((scratch_size(width), blocks * THREADS), dtype=torch.int32,
                              device=device)
        kernel, threads = kernels.thread_kernel, THREADS
    else:
        warps = _warps_per_block(width, max_code)
        blocks = blocks_for(programs, warps, sms * WARPS_PER_SM // warps)
        scratch = torch.empty((blocks * warps, scratch_size(width)), dtype=torch.int32,
                              device=device)
        kernel, threads = kernels.warp_kernel(width, max_code, warps), 32 * warps
    launch(kernel, blocks, threads, tokens, lengths, lits, nlits, nparams, nnames, opt, code,
           *out, scratch)
    return code, *out
