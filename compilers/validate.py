"""The validator: one linear pass that accepts exactly the well-formed programs.

``check_step`` is the rule for one instruction given the pass's state (stack height, open
blocks); ``link_program`` runs it over a whole program and, on success, resolves every branch to
an absolute target so the VMs need no control stack. Both are plain numba-compatible functions:
jitted here for the CPU and by ``compilers.vm.gpu`` for ``numba.cuda``. The same ``check_step``
decides which tokens may come next (``compilers.vocab``), so generation can only end in valid
programs.

A validated program cannot make the VM read or write out of bounds: heights stay within
``MAX_STACK``, slots within ``MAX_LOCALS``, and every jump target is inside the program.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from . import isa
from .isa import (BLOCK, BR, BR_IF, ELSE, END, IF, LOOP, MAX_LOCALS, MAX_NEST, MAX_STACK,
                  NUM_OPS, OP_ARG_KIND, OP_POPS, OP_PUSHES, RETURN)

# Status codes of the pass (0 is success). Messages are indexed by code.
OK = 0
E_OPCODE, E_UNDERFLOW, E_OVERFLOW, E_SLOT, E_DEPTH, E_CTRL_STACK = 1, 2, 3, 4, 5, 6
E_ELSE, E_END, E_NEST, E_UNCLOSED, E_END_STACK, E_OPERAND = 7, 8, 9, 10, 11, 12
MESSAGES = (
    "ok",
    "unknown opcode",
    "operand stack underflow",
    f"operand stack deeper than {MAX_STACK}",
    f"local slot out of range 0..{MAX_LOCALS - 1}",
    "branch depth does not name an open block",
    "control instruction with a non-empty operand stack",
    "else without an open if (or a second else)",
    "end without an open block",
    f"blocks nested deeper than {MAX_NEST}",
    "program ends inside an open block",
    "program ends with values left on the stack",
    "operand on an opcode that takes none (it must be 0)",
)

# Kinds of open block on the control stack.
K_BLOCK, K_LOOP, K_IF, K_ELSE = 0, 1, 2, 3
_CTL_WIDTH = 3  # per open block: kind, start pc, head of the chain of branches awaiting its end


@njit(cache=True)
def check_step(op, arg, height, nest, top_kind):
    """Status of executing instruction (op, arg) in state (height, nest, innermost block kind).

    ``top_kind`` is the kind of the innermost open block (ignored when ``nest == 0``).
    Returns 0 when the instruction is allowed; the new height is ``height - pops + pushes``.
    """
    if op < 0 or op >= NUM_OPS:
        return E_OPCODE
    kind = OP_ARG_KIND[op]
    if kind == 0 and arg != 0:  # else the assembly text, which has no place for it, drops it
        return E_OPERAND
    if kind == 2 and (arg < 0 or arg >= MAX_LOCALS):
        return E_SLOT
    if kind == 3 and (arg < 0 or arg >= nest):
        return E_DEPTH
    after = height - OP_POPS[op]
    if after < 0:
        return E_UNDERFLOW
    if op >= BLOCK:  # control instructions run at an empty stack once their operand is popped
        if after != 0:
            return E_CTRL_STACK
        if op == BLOCK or op == LOOP or op == IF:
            if nest >= MAX_NEST:
                return E_NEST
        elif op == ELSE:
            if nest == 0 or top_kind != K_IF:
                return E_ELSE
        elif op == END:
            if nest == 0:
                return E_END
    if after + OP_PUSHES[op] > MAX_STACK:
        return E_OVERFLOW
    return OK


@njit(cache=True)
def check_end(height, nest):
    """Status of ending the program in this state."""
    if nest != 0:
        return E_UNCLOSED
    if height != 0:
        return E_END_STACK
    return OK


@njit(cache=True)
def link_program(code, n, jump, ctl):
    """Validate ``code[:n]`` and fill ``jump[:n]`` with branch targets.

    ``ctl`` is scratch of at least ``3 * MAX_NEST`` int32. Returns ``(status, pc, max_height)``:
    status 0 and pc ``n`` on success, else the error code and the offending pc (``n`` for errors
    at the end). Targets: ``br``/``br_if`` to a block or if go past its ``end``, to a loop just
    after the ``loop``; ``if`` (condition false) goes past its ``else`` or ``end``; ``else`` past
    the ``end``. Other entries are 0.
    """
    height = 0
    nest = 0
    max_height = 0
    for pc in range(n):
        op = code[pc, 0]
        arg = code[pc, 1]
        top_kind = ctl[(nest - 1) * _CTL_WIDTH] if nest > 0 else -1
        status = check_step(op, arg, height, nest, top_kind)
        if status != OK:
            return status, pc, max_height
        height = height - OP_POPS[op] + OP_PUSHES[op]
        if height > max_height:
            max_height = height
        jump[pc] = 0
        if op == BLOCK or op == LOOP or op == IF:
            base = nest * _CTL_WIDTH
            ctl[base] = K_BLOCK if op == BLOCK else (K_LOOP if op == LOOP else K_IF)
            ctl[base + 1] = pc
            ctl[base + 2] = -1
            nest += 1
        elif op == ELSE:
            base = (nest - 1) * _CTL_WIDTH
            jump[ctl[base + 1]] = pc + 1          # the if's false edge lands after the else
            ctl[base] = K_ELSE
            ctl[base + 1] = pc                     # the else now awaits the end
        elif op == END:
            nest -= 1
            base = nest * _CTL_WIDTH
            kind = ctl[base]
            if kind == K_IF or kind == K_ELSE:
                jump[ctl[base + 1]] = pc + 1
            if kind != K_LOOP:
                b = ctl[base + 2]
                while b >= 0:                      # patch the branches that waited for this end
                    nxt = jump[b]
                    jump[b] = pc + 1
                    b = nxt
        elif op == BR or op == BR_IF:
            base = (nest - 1 - arg) * _CTL_WIDTH
            if ctl[base] == K_LOOP:
                jump[pc] = ctl[base + 1] + 1
            else:
                jump[pc] = ctl[base + 2]           # link into the block's pending chain
                ctl[base + 2] = pc
    status = check_end(height, nest)
    return status, n, max_height


class ValidationError(ValueError):
    """Malformed bytecode: ``pc`` is the offending instruction (len(code) for the end) and
    ``status`` the pass's error code (0 for errors in the array itself)."""

    def __init__(self, pc: int, message: str, status: int = 0):
        self.pc = pc
        self.status = status
        super().__init__(f"invalid bytecode at pc {pc}: {message}")


@dataclass(frozen=True)
class LinkedCode:
    """A validated program with its resolved branch targets."""

    code: np.ndarray      # int32 (n, 2)
    jump: np.ndarray      # int32 (n,)
    max_height: int


def as_code(code) -> np.ndarray:
    """Coerce to an int32 (n, 2) array, or raise ValidationError saying what is wrong."""
    try:
        arr = np.asarray(code)
    except Exception as exc:  # ragged nested lists and the like
        raise ValidationError(0, f"bytecode is not an array of (opcode, arg) pairs: {exc}") from None
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.int32)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValidationError(0, f"bytecode must have shape (n, 2), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValidationError(0, f"bytecode must be integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < isa.INT32_MIN or arr.max() > isa.INT32_MAX):
        bad = int(np.argwhere((arr < isa.INT32_MIN) | (arr > isa.INT32_MAX))[0][0])
        raise ValidationError(bad, "value outside int32")
    return np.ascontiguousarray(arr, dtype=np.int32)


def validate(code) -> LinkedCode:
    """Check a whole program; raise ValidationError (with the pc) if it is malformed."""
    arr = as_code(code)
    n = arr.shape[0]
    jump = np.zeros(max(n, 1), dtype=np.int32)
    ctl = np.zeros(_CTL_WIDTH * MAX_NEST, dtype=np.int32)
    status, pc, max_height = link_program(arr, n, jump, ctl)
    if status != OK:
        raise ValidationError(int(pc), MESSAGES[status], int(status))
    return LinkedCode(arr, jump[:n], int(max_height))


CTL_SCRATCH = _CTL_WIDTH * MAX_NEST
