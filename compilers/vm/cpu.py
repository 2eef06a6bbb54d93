"""The CPU twin of the GPU VM: numba ``prange`` loops over the shared per-run routine.

``link_batch`` and ``execute_batch`` are the jitted batch functions (they never raise: bad
programs get a status); ``link`` and ``execute`` are the numpy-level wrappers that check shapes
and dtypes, raise ``ValueError`` saying what is wrong, and accept torch CPU tensors.
"""
from __future__ import annotations

import sys

import numpy as np
from numba import njit, prange

from ..isa import INT32_MAX, INT32_MIN, MAX_LOCALS, MAX_PARAMS, MAX_STACK
from ..validate import CTL_SCRATCH, ValidationError, link_program
from .shapes import (batch_dims, check_bound, check_fuel, check_int32, check_linked,
                     check_per_program, code_dims)
from .core import run_one, runnable
from .status import DEFAULT_FUEL, E_LENGTH, INVALID, LINK_MESSAGES, Linked, Result

# Runs per parallel task: enough to amortise the task's scratch allocation, few enough that one
# program with many inputs still spreads over every core.
_CHUNK = 64


@njit(parallel=True, cache=True)
def link_batch(code, lengths):
    """Validate and link ``code[b, :lengths[b]]`` for every b: ``(jump[B, L], status, err_pc)``.

    ``status[b]`` is the validator's code (0 ok) or ``E_LENGTH``; ``err_pc[b]`` the offending pc
    (the length on success).
    """
    programs, length = code.shape[0], code.shape[1]
    jump = np.zeros((programs, length), np.int32)
    status = np.zeros(programs, np.int32)
    err_pc = np.zeros(programs, np.int32)
    for b in prange(programs):
        n = lengths[b]
        if n < 0 or n > length:
            status[b] = E_LENGTH
            continue
        ctl = np.empty(CTL_SCRATCH, np.int32)
        s, pc, _ = link_program(code[b], n, jump[b], ctl)
        status[b] = s
        err_pc[b] = pc
    return jump, status, err_pc


@njit(parallel=True, cache=True)
def execute_batch(code, jump, lengths, nparams, inputs, fuel, link_status):
    """Run every program on every input row: ``(value, status, cycles)``, each int32 [B, T].

    ``inputs`` is ``[B, T, P]``, or ``[1, T, P]`` shared by all programs. ``jump`` and
    ``link_status`` must come from ``link_batch`` on the same code and lengths; programs that
    did not link (or whose nparams is out of range) get status INVALID, value 0, cycles 0.
    """
    programs, length = code.shape[0], code.shape[1]
    rows, width = inputs.shape[1], inputs.shape[2]
    shared = inputs.shape[0] == 1
    value = np.zeros((programs, rows), np.int32)
    status = np.zeros((programs, rows), np.int32)
    cycles = np.zeros((programs, rows), np.int32)
    total = programs * rows
    for chunk in prange((total + _CHUNK - 1) // _CHUNK):
        stack = np.empty(MAX_STACK, np.int32)
        local_slots = np.empty(MAX_LOCALS, np.int32)
        for i in range(chunk * _CHUNK, min(total, (chunk + 1) * _CHUNK)):
            b = i // rows
            t = i - b * rows
            if runnable(link_status[b], lengths[b], length, nparams[b], width):
                v, s, c, _ = run_one(code[b], jump[b], lengths[b], nparams[b],
                                  inputs[0 if shared else b, t], fuel, stack, local_slots)
                value[b, t] = v
                status[b, t] = s
                cycles[b, t] = c
            else:
                status[b, t] = INVALID
    return value, status, cycles


@njit(parallel=True, cache=True)
def steps_batch(code, jump, lengths, nparams, inputs, fuel, link_status):
    """Instructions each run executes, int32 [B, T] (0 for programs that cannot run): the
    benchmark's count of VM work. Arguments as for ``execute_batch``."""
    programs, length = code.shape[0], code.shape[1]
    rows, width = inputs.shape[1], inputs.shape[2]
    shared = inputs.shape[0] == 1
    steps = np.zeros((programs, rows), np.int32)
    for b in prange(programs):
        stack = np.empty(MAX_STACK, np.int32)
        local_slots = np.empty(MAX_LOCALS, np.int32)
        row = np.int64(0) if shared else np.int64(b)  # one type for both arms (prange's b)
        if runnable(link_status[b], lengths[b], length, nparams[b], width):
            for t in range(rows):
                _, _, _, n = run_one(code[b], jump[b], lengths[b], nparams[b], inputs[row, t],
                                     fuel, stack, local_slots)
                steps[b, t] = n
    return steps


def _torch_tensor_type():
    # torch is only loaded if the caller already uses it: a tensor cannot exist otherwise.
    torch = sys.modules.get("torch")
    return torch.Tensor if torch is not None else None


def _host_array(name: str, x) -> np.ndarray:
    """``x`` as a numpy array, sharing memory with a CPU tensor; ValueError for CUDA tensors."""
    tensor_type = _torch_tensor_type()
    if tensor_type is not None and isinstance(x, tensor_type):
        if x.device.type != "cpu":
            raise ValueError(f"{name} is on {x.device}: the CPU VM takes numpy arrays or CPU "
                             f"tensors (kiln.compilers.vm.execute sends CUDA tensors to the GPU)")
        return x.detach().numpy()
    return np.asarray(x)


def as_int32(name: str, x) -> np.ndarray:
    """``x`` as a C-contiguous int32 array; ValueError unless it holds int32-ranged integers."""
    arr = _host_array(name, x)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.dtype.itemsize > 4 or arr.dtype == np.uint32:
        if arr.size and (arr.min() < INT32_MIN or arr.max() > INT32_MAX):
            raise ValueError(f"{name} has values outside int32")
    return np.ascontiguousarray(arr, dtype=np.int32)


def per_program(name: str, x, programs: int, default: int) -> np.ndarray:
    """An int (or None: ``default``) broadcast to int32 ``[B]``, or a ``[B]`` array checked."""
    if x is None:
        x = default
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return np.full(programs, check_int32(name, x), dtype=np.int32)
    arr = as_int32(name, x)
    check_per_program(name, arr.shape, programs)
    return arr


def _like(template, record, kind):
    """``record`` with its numpy arrays as torch tensors when ``template`` is a tensor."""
    tensor_type = _torch_tensor_type()
    if tensor_type is not None and isinstance(template, tensor_type):
        torch = sys.modules["torch"]
        return kind(*(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in record))
    return record


def link(code, lengths=None) -> Linked:
    """Link a batch ``code[B, L, 2]`` (``lengths[B]``, default L): see ``link_batch``.

    Returns numpy arrays, or torch tensors when ``code`` is a tensor. Raises ValueError for
    malformed arguments, never for malformed programs (they get a nonzero status).
    """
    code_arr = as_int32("code", code)
    programs, length = code_dims(code_arr.shape)
    lengths_arr = per_program("lengths", lengths, programs, length)
    jump, status, err_pc = link_batch(code_arr, lengths_arr)
    return _like(code, Linked(jump, status, err_pc, code, lengths_arr.copy()), Linked)


def _prepare(code, inputs, nparams, lengths, fuel: int, linked: Linked | None, strict: bool,
             linked_code=None):
    """Check and convert ``execute``'s arguments: the positional arguments of the kernels.

    ``linked_code`` is the object ``linked`` must have been made from (default ``code``)."""
    if linked is not None:
        check_bound(linked, code if linked_code is None else linked_code)
    code_arr = as_int32("code", code)
    inputs_arr = as_int32("inputs", inputs)
    dims = batch_dims(code_arr.shape, inputs_arr.shape)
    lengths_arr = per_program("lengths", lengths, dims.programs, dims.length)
    nparams_arr = per_program("nparams", nparams, dims.programs, 0)
    bad = (nparams_arr < 0) | (nparams_arr > min(dims.width, MAX_PARAMS))
    if bad.any():
        b = int(np.argmax(bad))
        top = min(dims.width, MAX_PARAMS)
        raise ValueError(f"nparams[{b}] = {nparams_arr[b]} is outside 0..{top} (at most the "
                         f"input width P = {dims.width} and MAX_PARAMS = {MAX_PARAMS})")
    fuel = check_fuel(fuel)
    if linked is None:
        jump, link_status, err_pc = link_batch(code_arr, lengths_arr)
    else:
        jump = as_int32("linked.jump", linked.jump)
        link_status = as_int32("linked.status", linked.status)
        err_pc = as_int32("linked.err_pc", linked.err_pc)
        check_linked(jump.shape, link_status.shape, dims.programs, dims.length)
        linked_lengths = as_int32("linked.lengths", linked.lengths)
        if not np.array_equal(linked_lengths, lengths_arr):
            raise ValueError("lengths differ from the lengths that linked validated: pass the "
                             "same lengths to link() and execute(), or link again")
    if strict and link_status.any():
        b = int(np.argmax(link_status != 0))
        raise ValidationError(int(err_pc[b]),
                              f"{LINK_MESSAGES[link_status[b]]} (program {b} of the batch)")
    shaped = inputs_arr[None] if dims.shared else inputs_arr
    return code_arr, jump, lengths_arr, nparams_arr, shaped, fuel, link_status


def execute(code, inputs, nparams, lengths=None, fuel: int = DEFAULT_FUEL, *,
            linked: Linked | None = None, strict: bool = False) -> Result:
    """Run a batch of programs on inputs: ``Result(value, status, cycles)``, each int32 [B, T].

    ``code`` is ``[B, L, 2]``; ``inputs`` ``[T, P]`` (shared) or ``[B, T, P]``; ``nparams`` an
    int or ``[B]``; ``lengths`` ``[B]`` (default L); ``linked`` a previous ``link(code,
    lengths)``, linked here when omitted. Programs that fail to link get status INVALID, or,
    with ``strict``, raise ``ValidationError`` naming the first. Results are numpy arrays, or
    torch tensors when ``code`` is a tensor.
    """
    args = _prepare(code, inputs, nparams, lengths, fuel, linked, strict)
    return _like(code, Result(*execute_batch(*args)), Result)


def count_steps(code, inputs, nparams, lengths=None, fuel: int = DEFAULT_FUEL, *,
                linked: Linked | None = None) -> np.ndarray:
    """Instructions each run executes, int32 [B, T], on the CPU (arguments as ``execute``;
    torch tensors on any device are copied to the host). For benchmarks, not hot paths."""
    host = [x.cpu() if hasattr(x, "cpu") else x for x in (code, inputs, nparams, lengths)]
    if linked is not None:
        jump, status, err_pc, lengths_linked = (
            x.cpu() if hasattr(x, "cpu") else x
            for x in (linked.jump, linked.status, linked.err_pc, linked.lengths))
        linked = Linked(jump, status, err_pc, linked.code, lengths_linked)
    return steps_batch(*_prepare(*host, fuel, linked, False, linked_code=code))
