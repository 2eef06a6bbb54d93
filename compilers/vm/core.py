"""The per-run routine, written once for every target.

``run_one`` interprets one linked program on one input row; ``alu2`` and ``alu1`` are the pure
opcodes' value semantics (``isa.OPS[op].sem``), reused by kernels that fold constants. All are
plain numba-compatible functions with no recursion, exceptions, lists or dicts, reading the ISA's
numeric arrays as globals:

- ``compilers.vm.cpu`` calls them as ``@njit`` functions from its ``prange`` loops;
- ``compilers.vm.gpu`` calls the same dispatchers from ``numba.cuda`` kernels, which compiles them
  as device functions; under the CUDA simulator the kernels call ``run_one.py_func`` instead,
  since the simulator hands kernels array wrappers that only Python code accepts.

Values are int32; the ALU computes in int64 and wraps, so the Python path (``py_func``, with
numpy scalars) and the compiled paths agree bit for bit. Every caller must pass a program that
``validate.link_program`` accepted: the routine trusts its stack heights, slots and jump
targets.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..isa import (BR, BR_IF, CONST, DROP, ELSE, FIRST_BINARY, FIRST_UNARY, GET, IF,
                   LAST_BINARY, LAST_UNARY, MAX_PARAMS, OP, OP_COST, OPS, OP_TAKEN, RETURN, SELECT,
                   SET, TEE)
from .status import OK, OUT_OF_FUEL

_ADD, _SUB, _MUL, _DIV, _MOD, _UDIV = (OP[n] for n in ("add", "sub", "mul", "div", "mod", "udiv"))
_AND, _OR, _XOR, _SHL, _SHR, _LSHR = (OP[n] for n in ("and", "or", "xor", "shl", "shr", "lshr"))
_MIN, _MAX, _EQ, _NE, _LT, _LE, _GT, _GE = (
    OP[n] for n in ("min", "max", "eq", "ne", "lt", "le", "gt", "ge"))
_ULT, _ULE, _UGT, _UGE, _ANDV, _ORV = (OP[n] for n in ("ult", "ule", "ugt", "uge", "andv", "orv"))
_NEG, _NOT, _EQZ, _ABS = (OP[n] for n in ("neg", "not", "eqz", "abs"))

_MASK32 = 0xFFFFFFFF

# The dispatch tests ranges of opcode numbers (a search tree, not a chain of 27 compares): pin
# the numbering it relies on.
assert [OPS[op].name for op in range(FIRST_BINARY, LAST_BINARY + 1)] == [
    "add", "sub", "mul", "div", "mod", "udiv", "urem", "and", "or", "xor", "shl", "shr", "lshr",
    "min", "max", "eq", "ne", "lt", "le", "gt", "ge", "ult", "ule", "ugt", "uge", "andv", "orv"]
assert [OPS[op].name for op in range(FIRST_UNARY, LAST_UNARY + 1)] == ["neg", "not", "eqz", "abs"]
assert (CONST, GET) == (0, 1), "run_one tests `op <= GET` for both"

# The routines never raise; the numpy error model drops numba's division-by-zero checks, which
# the ALU's explicit zero tests make dead anyway.
_jit = njit(cache=True, error_model="numpy")


@_jit
def wrap32(x):
    """Wrap an int64 (numba's, or numpy's in Python) to int32, two's complement."""
    # A truncating cast: compiled code then does the arithmetic feeding it in 32 bits.
    return np.int32(x)


@_jit
def alu2(op, a, b):
    """Value of binary opcode ``op`` (add..orv) on int32 operands, a deeper and b on top.

    Returns an int32; 0 for an opcode outside the binary group.
    """
    x = np.int64(a)
    y = np.int64(b)
    if op <= _XOR:
        if op <= _MUL:
            if op == _ADD:
                return wrap32(x + y)
            if op == _SUB:
                return wrap32(x - y)
            return wrap32(x * y)
        if op >= _AND:
            if op == _AND:
                return wrap32(x & y)
            if op == _OR:
                return wrap32(x | y)
            return wrap32(x ^ y)
        if op == _DIV:
            # floor division; INT_MIN // -1 == 2**31 wraps to INT_MIN
            return wrap32(x // y) if y != 0 else wrap32(0)
        if op == _MOD:
            return wrap32(x % y) if y != 0 else wrap32(x)
        ux = x & _MASK32
        uy = y & _MASK32
        if op == _UDIV:
            return wrap32(ux // uy) if uy != 0 else wrap32(0)
        return wrap32(ux % uy) if uy != 0 else wrap32(x)  # urem
    if op <= _MAX:
        if op == _SHL:
            return wrap32(x << (y & 31))
        if op == _SHR:
            return wrap32(x >> (y & 31))
        if op == _LSHR:
            return wrap32((x & _MASK32) >> (y & 31))
        if op == _MIN:
            return wrap32(x if x <= y else y)
        return wrap32(x if x >= y else y)  # max
    if op <= _GE:
        if op == _EQ:
            return wrap32(x == y)
        if op == _NE:
            return wrap32(x != y)
        if op == _LT:
            return wrap32(x < y)
        if op == _LE:
            return wrap32(x <= y)
        if op == _GT:
            return wrap32(x > y)
        return wrap32(x >= y)  # ge
    if op <= _UGE:
        ux = x & _MASK32
        uy = y & _MASK32
        if op == _ULT:
            return wrap32(ux < uy)
        if op == _ULE:
            return wrap32(ux <= uy)
        if op == _UGT:
            return wrap32(ux > uy)
        return wrap32(ux >= uy)  # uge
    if op == _ANDV:
        return wrap32(y if x != 0 else x)
    if op == _ORV:
        return wrap32(x if x != 0 else y)
    return wrap32(0)


@_jit
def alu1(op, a):
    """Value of unary opcode ``op`` (neg, not, eqz, abs) on an int32 operand, as an int32."""
    x = np.int64(a)
    if op == _EQZ:
        return wrap32(x == 0)
    if op == _NEG:
        return wrap32(-x)
    if op == _NOT:
        return wrap32(~x)
    if op == _ABS:
        return wrap32(x if x >= 0 else -x)  # abs(INT_MIN) wraps to INT_MIN
    return wrap32(0)


@_jit
def runnable(link_status, n, length, nparams, width):
    """Whether a program may run: it linked, its length ``n`` is within the code array's
    ``length``, and ``nparams`` is within the input ``width`` and ``MAX_PARAMS``."""
    return (link_status == 0 and n >= 0 and n <= length and nparams >= 0
            and nparams <= width and nparams <= MAX_PARAMS)


@_jit
def run_one(code, jump, n, nparams, inputs_row, fuel, stack, local_slots):
    """Run linked program ``code[:n]`` on parameters ``inputs_row[:nparams]``.

    ``jump`` holds the link's branch targets; ``stack`` (``MAX_STACK`` int32) and
    ``local_slots`` (``MAX_LOCALS`` int32) are the caller's scratch, contents irrelevant.
    Returns ``(value, status, cycles, steps)``: status OK with the returned value (0 when the
    code runs off its end), or OUT_OF_FUEL with value 0 when a run would execute more than
    ``fuel`` instructions (``0 <= fuel <= MAX_FUEL``, so cycles fit in int32); cycles and steps
    count the instructions that did execute (steps: how many, cycles: their cost).
    """
    for s in range(nparams):
        local_slots[s] = inputs_row[s]
    # Bit s set: slot s holds a value. Unwritten slots read as 0, so no run pays for clearing
    # all MAX_LOCALS slots up front.
    written = (np.int64(1) << nparams) - 1
    # The top of the stack lives in `top` (a register on the GPU); the value at height i
    # (0-based) below it lives in stack[i + 1], so a push always stores the old top, even at
    # height 0 (into stack[0], never read as a value).
    top = np.int32(0)
    # Indices are uint32 and counters int32, cast back after each update (numba would widen
    # them to int64): unsigned indices need no negative-index wraparound, and 32-bit values
    # halve the GPU's integer work. Validation keeps every index in range.
    h = np.uint32(0)
    pc = np.uint32(0)
    end = np.uint32(n)
    fuel_left = np.int32(fuel)
    cycles = np.int32(0)
    while pc < end:
        if fuel_left == 0:
            return np.int32(0), OUT_OF_FUEL, cycles, np.int32(fuel)
        fuel_left = np.int32(fuel_left - 1)
        op = code[pc, 0]
        arg = code[pc, 1]
        cycles = np.int32(cycles + OP_COST[np.uint32(op)])
        if op <= GET:  # const or get, the commonest: one test for both, then share the push
            stack[h] = top
            h = np.uint32(h + 1)
            if op == CONST:
                top = arg
            else:
                top = local_slots[np.uint32(arg)] if (written >> arg) & 1 else np.int32(0)
        elif op >= FIRST_BINARY and op <= LAST_BINARY:
            h = np.uint32(h - 1)
            top = alu2(op, stack[h], top)
        elif op == SET:
            local_slots[np.uint32(arg)] = top
            written |= np.int64(1) << arg
            h = np.uint32(h - 1)
            top = stack[h]
        elif op == TEE:
            local_slots[np.uint32(arg)] = top
            written |= np.int64(1) << arg
        elif op >= FIRST_UNARY and op <= LAST_UNARY:
            top = alu1(op, top)
        elif op == BR_IF:
            h = np.uint32(0)  # control runs at an empty stack once the condition is popped
            if top != 0:
                cycles = np.int32(cycles + OP_TAKEN[op])
                pc = np.uint32(jump[pc])
                continue
        elif op == IF:
            h = np.uint32(0)
            if top == 0:
                cycles = np.int32(cycles + OP_TAKEN[op])
                pc = np.uint32(jump[pc])
                continue
        elif op == BR or op == ELSE:
            pc = np.uint32(jump[pc])
            continue
        elif op == SELECT:
            h = np.uint32(h - 2)
            top = stack[h] if top != 0 else stack[np.uint32(h + 1)]
        elif op == DROP:
            h = np.uint32(h - 1)
            top = stack[h]
        elif op == RETURN:
            return top, OK, cycles, np.int32(fuel - fuel_left)
        # block, loop and end only mark structure: their targets are already in `jump`
        pc = np.uint32(pc + 1)
    return np.int32(0), OK, cycles, np.int32(fuel - fuel_left)
