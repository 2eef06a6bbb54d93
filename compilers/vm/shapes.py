"""The shape contract of a batch, checked on metadata alone (so the GPU path never syncs).

A batch is ``code[B, L, 2]`` (programs padded to L instructions, ``lengths[B]`` saying how many
are real), ``nparams[B]``, and ``inputs`` either ``[T, P]`` (every program runs the same T rows)
or ``[B, T, P]`` (each program its own rows). Outputs are ``[B, T]``.
"""
from __future__ import annotations

import operator
from typing import NamedTuple

from .status import MAX_FUEL, Linked


class BatchDims(NamedTuple):
    """Sizes of a batch: programs, code length, input rows, input width, shared inputs."""

    programs: int
    length: int
    rows: int
    width: int
    shared: bool


def code_dims(code_shape: tuple[int, ...]) -> tuple[int, int]:
    """``(B, L)`` of a code batch, or ValueError unless its shape is ``[B, L, 2]``."""
    if len(code_shape) != 3 or code_shape[2] != 2:
        raise ValueError(f"code must have shape [B, L, 2] (a batch of (opcode, arg) rows; for "
                         f"one program use code[None]), got {list(code_shape)}")
    return int(code_shape[0]), int(code_shape[1])


def batch_dims(code_shape: tuple[int, ...], inputs_shape: tuple[int, ...]) -> BatchDims:
    """Check code ``[B, L, 2]`` against inputs ``[T, P]`` or ``[B, T, P]``; ValueError if off."""
    b, length = code_dims(code_shape)
    if len(inputs_shape) == 2:
        return BatchDims(b, length, int(inputs_shape[0]), int(inputs_shape[1]), True)
    if len(inputs_shape) == 3 and inputs_shape[0] == b:
        return BatchDims(b, length, int(inputs_shape[1]), int(inputs_shape[2]), False)
    raise ValueError(f"inputs must have shape [T, P] (shared by all programs) or [B, T, P] with "
                     f"B = {b} programs, got {list(inputs_shape)}")


def check_per_program(name: str, shape: tuple[int, ...], programs: int) -> None:
    """ValueError unless a per-program vector has shape ``[B]``."""
    if tuple(shape) != (programs,):
        raise ValueError(f"{name} must have shape [B] = [{programs}], got {list(shape)}")


def check_linked(jump_shape: tuple[int, ...], status_shape: tuple[int, ...],
                 programs: int, length: int) -> None:
    """ValueError unless a link result fits a ``[B, L, 2]`` code batch."""
    if tuple(jump_shape) != (programs, length) or tuple(status_shape) != (programs,):
        raise ValueError(f"linked must come from linking this code: jump [B, L] = "
                         f"[{programs}, {length}] and status [B], got jump {list(jump_shape)} "
                         f"and status {list(status_shape)}")


def check_bound(linked, code) -> None:
    """ValueError unless ``linked`` came from ``link`` of this very ``code`` object."""
    if not isinstance(linked, Linked):
        raise TypeError(f"linked must be the Linked that link(code, lengths) returned, got "
                        f"{type(linked).__name__}")
    if linked.code is None or linked.lengths is None:
        raise ValueError("linked must come from kiln.compilers.vm.link(code, lengths): it "
                         "records the code and lengths it validated")
    if linked.code is not code:
        raise ValueError("linked was made by link() of another code array: pass the same code "
                         "object that was linked (or link this one)")


def check_int32(name: str, value: int) -> int:
    """``value`` (a scalar for every program), or ValueError unless it fits int32."""
    if not -(2**31) <= value < 2**31:
        raise ValueError(f"{name} = {value} is outside int32")
    return value


def check_fuel(fuel: int) -> int:
    """The fuel as an int, or ValueError unless it is in ``0..MAX_FUEL``."""
    try:
        value = operator.index(fuel)
    except TypeError:
        value = -1
    if isinstance(fuel, bool) or not 0 <= value <= MAX_FUEL:
        raise ValueError(f"fuel must be an int in 0..{MAX_FUEL} (so cycles fit in int32), "
                         f"got {fuel!r}")
    return value
