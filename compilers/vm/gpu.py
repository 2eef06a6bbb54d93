"""The GPU VM: ``numba.cuda`` kernels over the shared per-run routine, on torch CUDA tensors.

- ``link``: a thread per program runs ``validate.link_program`` (scratch for its block stack
  in ``cuda.local.array``).
- ``execute``: item ``i`` is (program ``b``, input row ``t``) with ``t`` fastest, and
  consecutive threads take consecutive items, so a warp runs one program on different inputs
  and takes the same branches. Each thread keeps its operand stack and local slots in
  ``cuda.local.array`` and runs ``core.run_one``.

Both loop with a grid stride over a grid of at most ``_BLOCKS_PER_SM`` blocks per SM: numba
zero-fills local arrays when a thread starts, so a thread per item would pay that on every run.

Both take and return torch CUDA tensors without copies and launch on torch's current stream,
with no host synchronisation, through ``compilers.gpu_launch``. ``numba.cuda`` is imported on
first use, so this module imports anywhere; under ``NUMBA_ENABLE_CUDASIM=1`` (numba's CUDA
simulator, where torch has no CUDA) the same kernels take and return numpy arrays, which is how
CI tests them.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, NamedTuple

import numpy as np

from .. import gpu_launch, validate
from ..isa import MAX_LOCALS, MAX_PARAMS, MAX_STACK
from . import core
from .shapes import (batch_dims, check_bound, check_fuel, check_int32, check_linked,
                     check_per_program, code_dims)
from .cpu import as_int32
from .status import DEFAULT_FUEL, E_LENGTH, E_UNLINKED, INVALID, Linked, Result

_THREADS = 256        # per block on the GPU
_BLOCKS_PER_SM = 16   # resident and queued blocks: measured best on an H200 (8: 7% slower)
# Simulated launches are small, so that simulated threads also loop over several items.
_SIM_THREADS, _SIM_BLOCKS = 32, 2


class _Kernels(NamedTuple):
    simulator: bool
    link: Any
    execute: Any


_kernels: _Kernels | None = None
# numba.cuda, bound on first use (see gpu_launch.numba_cuda).
cuda: Any = None


def _build() -> _Kernels:
    global cuda
    from numba import int32

    cuda = gpu_launch.numba_cuda()
    simulator = gpu_launch.is_simulator()
    # On the GPU, numba compiles the @njit dispatchers that a kernel calls as device functions.
    # The simulator runs kernels as Python and hands them array wrappers that compiled code
    # rejects, so there the kernels call the Python functions (whose scalar-only callees may
    # stay compiled).
    link_program = validate.link_program.py_func if simulator else validate.link_program
    run_one = core.run_one.py_func if simulator else core.run_one
    runnable = core.runnable
    ctl_scratch = validate.CTL_SCRATCH

    @cuda.jit
    def link_kernel(code, lengths, jump, status_pc):
        ctl = cuda.local.array(ctl_scratch, int32)
        b = cuda.grid(1)
        while b < code.shape[0]:
            n = lengths[b]
            if n < 0 or n > code.shape[1]:
                status_pc[0, b] = E_LENGTH
                status_pc[1, b] = 0
            else:
                s, pc, _ = link_program(code[b], n, jump[b], ctl)
                status_pc[0, b] = s
                status_pc[1, b] = pc
            b += cuda.gridsize(1)

    @cuda.jit
    def execute_kernel(code, jump, lengths, nparams, inputs, fuel, link_status, out):
        stack = cuda.local.array(MAX_STACK, int32)
        local_slots = cuda.local.array(MAX_LOCALS, int32)
        rows = out.shape[2]
        i = cuda.grid(1)
        while i < out.shape[1] * rows:
            # t fastest: a warp's threads run one program on different inputs. Unsigned, so
            # indexing skips numba's negative-index wraparound.
            b = np.uint32(i // rows)
            t = np.uint32(i - b * rows)
            row = b if inputs.shape[0] > 1 else np.uint32(0)
            if runnable(link_status[b], lengths[b], code.shape[1], nparams[b], inputs.shape[2]):
                v, s, c, _ = run_one(code[b], jump[b], lengths[b], nparams[b], inputs[row, t], fuel,
                                  stack, local_slots)
                out[0, b, t] = v
                out[1, b, t] = s
                out[2, b, t] = c
            else:
                out[0, b, t] = 0
                out[1, b, t] = INVALID
                out[2, b, t] = 0
            i += cuda.gridsize(1)

    return _Kernels(simulator, link_kernel, execute_kernel)


def _get() -> _Kernels:
    global _kernels
    if _kernels is None:
        _kernels = _build()
    return _kernels


def is_simulator() -> bool:
    """Whether the kernels run on numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    return _get().simulator


@functools.lru_cache(maxsize=16)
def _constant(device, stream: int, programs: int, value: int):
    """``[programs]`` int32 copies of ``value`` on ``device``, made once per stream (and so
    filled in the order of the kernels that read it): the kernels only read them, and a
    repeated call then allocates and fills nothing."""
    import torch

    return torch.full((programs,), value, dtype=torch.int32, device=device)


class _Device:
    """Array handling for one call: torch CUDA tensors on the GPU, numpy in the simulator."""

    def __init__(self, kernels: _Kernels, code):
        self.kernels = kernels
        if kernels.simulator:
            self.torch = None
            self.device = None
            return
        self.torch = sys.modules.get("torch")
        if self.torch is None or not isinstance(code, self.torch.Tensor) or not code.is_cuda:
            raise ValueError(f"the GPU VM takes torch CUDA tensors, got code of type "
                             f"{type(code).__name__} (use kiln.compilers.vm.execute, which sends "
                             f"numpy arrays and CPU tensors to the CPU VM)")
        self.device = code.device

    def int32(self, name: str, x):
        """``x`` checked to be an int32 array on this device (numpy in the simulator)."""
        if self.torch is None:
            return as_int32(name, x)
        if not isinstance(x, self.torch.Tensor) or x.device != self.device:
            raise ValueError(f"{name} must be a torch tensor on {self.device}, got "
                             f"{getattr(x, 'device', type(x).__name__)}")
        if x.dtype != self.torch.int32:
            raise ValueError(f"{name} must have dtype torch.int32, got {x.dtype} "
                             f"(convert with .int())")
        return x

    def per_program(self, name: str, x, programs: int, default: int):
        """An int (or None: ``default``) broadcast to ``[B]``, or a ``[B]`` int32 array checked."""
        if x is None:
            x = default
        if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
            check_int32(name, x)
            if self.torch is None:
                return np.full(programs, x, dtype=np.int32)
            stream = gpu_launch.current_stream(self.torch, self.device.index)
            return _constant(self.device, stream, programs, int(x))
        arr = self.int32(name, x)
        check_per_program(name, tuple(arr.shape), programs)
        return arr

    def new(self, shape: tuple[int, ...], zero: bool = False):
        """A fresh int32 array; zeroed when asked (an async memset on the GPU)."""
        if self.torch is None:
            return np.zeros(shape, dtype=np.int32)
        make = self.torch.zeros if zero else self.torch.empty
        return make(shape, dtype=self.torch.int32, device=self.device)

    def launch(self, kernel, items: int, *args) -> None:
        """Launch ``kernel`` over ``items`` on torch's current stream (no sync)."""
        if items == 0:
            return
        if self.torch is None:
            gpu_launch.launch(kernel, gpu_launch.blocks_for(items, _SIM_THREADS, _SIM_BLOCKS),
                              _SIM_THREADS, *args)
            return
        sms = gpu_launch.sm_count(self.device.index)
        gpu_launch.launch(kernel, gpu_launch.blocks_for(items, _THREADS, sms * _BLOCKS_PER_SM),
                          _THREADS, *args)


def link(code, lengths=None) -> Linked:
    """Link a batch ``code[B, L, 2]`` on the GPU: ``Linked(jump[B, L], status[B], err_pc[B])``.

    ``lengths`` is an int32 ``[B]`` tensor (default: L for all). Malformed programs get a
    nonzero status (a validator code, or ``E_LENGTH``); nothing waits for the kernel.
    """
    dev = _Device(_get(), code)
    code_arr = dev.int32("code", code)
    programs, length = code_dims(tuple(code_arr.shape))
    lengths = dev.per_program("lengths", lengths, programs, length)
    jump = dev.new((programs, length), zero=True)
    status_pc = dev.new((2, programs))  # one allocation and one array view for numba, not two
    dev.launch(dev.kernels.link, programs, code_arr, lengths, jump, status_pc)
    return Linked(jump, status_pc[0], status_pc[1], code,
                  lengths.copy() if dev.torch is None else lengths.clone())


def execute(code, inputs, nparams, lengths=None, fuel: int = DEFAULT_FUEL, *,
            linked: Linked | None = None) -> Result:
    """Run a batch on the GPU: ``Result(value, status, cycles)``, int32 tensors [B, T].

    Arguments as ``compilers.vm.cpu.execute``, as int32 tensors on one CUDA device. Programs that
    fail to link, or whose ``nparams`` is outside ``0..min(P, MAX_PARAMS)`` (checked on the
    device: checking on the host would need a sync), get status INVALID.
    """
    if linked is not None:
        check_bound(linked, code)
    dev = _Device(_get(), code)
    code = dev.int32("code", code)
    inputs = dev.int32("inputs", inputs)
    dims = batch_dims(tuple(code.shape), tuple(inputs.shape))
    if isinstance(nparams, (int, np.integer)) and not 0 <= nparams <= min(dims.width, MAX_PARAMS):
        raise ValueError(f"nparams = {nparams} is outside 0..{min(dims.width, MAX_PARAMS)} (at "
                         f"most the input width P and MAX_PARAMS = {MAX_PARAMS})")
    lengths = dev.per_program("lengths", lengths, dims.programs, dims.length)
    nparams = dev.per_program("nparams", nparams, dims.programs, 0)
    fuel = check_fuel(fuel)
    if linked is None:
        linked = link(code, lengths)
    jump = dev.int32("linked.jump", linked.jump)
    link_status = dev.int32("linked.status", linked.status)
    check_linked(tuple(jump.shape), tuple(link_status.shape), dims.programs, dims.length)
    linked_lengths = dev.int32("linked.lengths", linked.lengths)
    check_per_program("linked.lengths", tuple(linked_lengths.shape), dims.programs)
    # Lengths the link did not validate make a program INVALID, decided on the device (raising
    # would need the comparison on the host: a sync).
    where = np.where if dev.torch is None else dev.torch.where
    link_status = where(lengths == linked_lengths, link_status, E_UNLINKED)
    shaped = inputs[None] if dims.shared else inputs
    out = dev.new((3, dims.programs, dims.rows))  # one allocation and array view, not three
    dev.launch(dev.kernels.execute, dims.programs * dims.rows, code, jump, lengths, nparams,
               shaped, fuel, link_status, out)
    return Result(out[0], out[1], out[2])
