"""The output stream of the batched compiler: -O1 passes applied as instructions are emitted.

``code_passes`` runs four passes in a row, each reading left to right and rewriting only the
tail of its own output. Here each pass is a *stage* that receives the previous stage's output
one instruction at a time and forwards an instruction only once its own rules can no longer
change it, so the composition gives the same bytes as the passes in a row:

1. ``fold_constants`` rewrites only its trailing constants: they wait in ``pend`` until a
   non-foldable instruction arrives;
2. ``simplify_branches`` consumes only a constant at its tail (``const; if``, ``const; br_if``):
   that one constant is held back; arms of inlined ifs that never run are dropped, and branch
   depths shrink by the inlined ifs they cross (one flag per open block in ``inl``);
3. ``remove_unreachable`` only filters;
4. ``peephole`` rewrites the final code's tail in place. ``eqz; eqz; br_if`` cancels pairs of
   a trailing run of ``eqz``, so that run is kept as a count, and the code written so far never
   shrinks: once it is longer than ``max_code``, the program's code is too long.

The validator's stack and nesting rules (``validate.check_step``) run on each instruction once
it is final, that is once another has been written after it (the last is final at the end).
-O0 writes instructions straight to the code.

All state is in ``st`` (int64, slots ``S_*``); ``code`` is the program's output row
``[max_code, 2]``; errors set ``st[S_STATUS]`` (first error wins) and ``st[S_POS]``. The
instruction being emitted travels in ``st`` too, so that the stream compiles once, whatever
the integer types of its callers.
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from ..isa import (BLOCK, BR, BR_IF, CONST, ELSE, END, FIRST_BINARY, FIRST_UNARY, GET, IF,
                   LAST_BINARY, LAST_UNARY, LOOP, NUM_OPS, OP_POPS,
                   OP_PUSHES, RETURN, SELECT, SET, TEE, EQZ, NEGATED)
from ..validate import E_NEST as V_NEST
from ..validate import E_OVERFLOW as V_OVERFLOW
from ..validate import K_IF, check_step
from ..vm.core import alu1, alu2
from .status import E_INTERNAL, E_NEST, E_STACK, E_TOO_LONG, OK

FLUSH = -1  # a pseudo-instruction that pushes everything held through every stage
# The opcode that `op; eqz` becomes, or -1.
NEGATED_OP = np.full(NUM_OPS, -1, np.int32)
for _a, _b in NEGATED.items():
    NEGATED_OP[_a] = _b

(S_STATUS, S_POS, S_OPT, S_CAP, S_LEN, S_OVER_POS, S_LAST_OP, S_LAST_ARG, S_LAST_POS, S_ZRUN,
 S_ZPOS, S_HEIGHT, S_NEST, S_NPEND, S_HELD, S_HVAL, S_HPOS, S_DEAD2, S_NINL, S_DEAD3, S_IN_OP,
 S_IN_ARG, S_IN_POS, STATE_SIZE) = range(24)


@register_jitable
def fail(st, status, pos):
    """Record an error unless one is recorded already."""
    if st[S_STATUS] == OK:
        st[S_STATUS] = status
        st[S_POS] = pos


@register_jitable
def start(st, opt, cap):
    """Reset the stream for a program: optimisation level ``opt``, ``cap`` code rows."""
    for q in range(STATE_SIZE):
        st[q] = 0
    st[S_OPT] = opt
    st[S_CAP] = cap


@register_jitable
def _check_last(st):
    """The validator's rule (``validate.check_step``) for the last instruction written, now
    final. The compiler writes ``else`` only inside an ``if``, so the innermost kind is passed
    as ``if``; the errors the source can cause (too deep) keep their codes, any other is ours."""
    op = st[S_LAST_OP]
    pos = st[S_LAST_POS]
    status = check_step(op, st[S_LAST_ARG], st[S_HEIGHT], st[S_NEST], K_IF)
    if status == V_NEST:
        fail(st, E_NEST, pos)
    elif status == V_OVERFLOW:
        fail(st, E_STACK, pos)
    elif status != OK:
        fail(st, E_INTERNAL, pos)
    st[S_HEIGHT] += OP_PUSHES[op] - OP_POPS[op]
    if op == BLOCK or op == LOOP or op == IF:
        st[S_NEST] += 1
    elif op == END:
        st[S_NEST] -= 1


@register_jitable
def _fold(st, pend, op, arg, pos):
    """Stage 1: a pure opcode whose operands are all (pending) constants becomes one constant.
    Returns how many pending constants go on to stage 2 before ``op``, or -1 when ``op`` was
    absorbed (or the constants overflowed ``pend``)."""
    npend = st[S_NPEND]
    if op == CONST:
        if 2 * npend == len(pend):
            fail(st, E_STACK, pos)
            return -1
        pend[2 * npend] = arg
        pend[2 * npend + 1] = pos
        st[S_NPEND] = npend + 1
        return -1
    fold = (FIRST_BINARY <= op <= LAST_BINARY and npend >= 2) or \
        (FIRST_UNARY <= op <= LAST_UNARY and npend >= 1) or (op == SELECT and npend >= 3)
    if fold:
        top = 2 * npend - 2
        if op <= LAST_BINARY:
            value = alu2(op, pend[top - 2], pend[top])
            npend -= 1
        elif op <= LAST_UNARY:
            value = alu1(op, pend[top])
        else:
            value = pend[top - 4] if pend[top] != 0 else pend[top - 2]
            npend -= 2
        pend[2 * npend - 2] = value
        pend[2 * npend - 1] = pos
        st[S_NPEND] = npend
        return -1
    st[S_NPEND] = 0
    return npend


@register_jitable
def _dead_arm(st, op):
    """Stage 2 inside the arm of an inlined if that never runs: drop ``op``, track nesting."""
    dead = st[S_DEAD2]
    if op == BLOCK or op == LOOP or op == IF:
        dead += 1
    elif op == END or (op == ELSE and dead == 1):
        dead -= 1
        if dead == 0 and op == END:
            st[S_NINL] -= 1
    st[S_DEAD2] = dead


@register_jitable
def _branches(st, inl, op, arg, pos):
    """Stage 2 at -O1: branches on constants. A held constant decides ``br_if``/``if``; arms of
    inlined ifs that never run are dropped; branch depths shrink by the inlined ifs they cross.
    Its output, at most a held constant and one more instruction, is ``(out0, arg0, pos0, out1,
    arg1, stop)`` (op -2: none; ``out1`` is made at ``pos``); ``stop`` after an error."""
    out0, out1 = -2, -2
    arg0, pos0, arg1 = np.int64(0), np.int64(0), arg
    if op == FLUSH:
        if st[S_HELD] != 0:
            out0, arg0, pos0 = CONST, st[S_HVAL], st[S_HPOS]
            st[S_HELD] = 0
        return out0, arg0, pos0, FLUSH, arg1, False
    if st[S_DEAD2] > 0:
        _dead_arm(st, op)
        return out0, arg0, pos0, out1, arg1, False
    ninl = st[S_NINL]
    keep = True
    if op == BR or op == BR_IF:
        target = ninl - 1 - arg
        if target < 0 or inl[target] != 0:
            fail(st, E_INTERNAL, pos)
            return out0, arg0, pos0, out1, arg1, True
        for r in range(target + 1, ninl):
            arg1 -= inl[r]
    if st[S_HELD] != 0 and (op == BR_IF or op == IF):
        st[S_HELD] = 0
        keep = False
        if op == BR_IF:
            if st[S_HVAL] != 0:  # `const k; br_if`: a branch always taken, or none
                out1 = BR
        elif ninl == len(inl):
            fail(st, E_NEST, pos)
            return out0, arg0, pos0, out1, arg1, True
        else:
            inl[ninl] = 1
            st[S_NINL] = ninl + 1
            if st[S_HVAL] == 0:
                st[S_DEAD2] = 1
    elif op == ELSE or op == END:
        if ninl == 0:
            fail(st, E_INTERNAL, pos)
            return out0, arg0, pos0, out1, arg1, True
        if op == END:
            st[S_NINL] = ninl - 1
        if inl[ninl - 1] != 0:
            keep = False
            if op == ELSE:  # the then-arm ran: the else-arm never does
                st[S_DEAD2] = 1
    elif op == BLOCK or op == LOOP or op == IF:
        if ninl == len(inl):
            fail(st, E_NEST, pos)
            return out0, arg0, pos0, out1, arg1, True
        inl[ninl] = 0
        st[S_NINL] = ninl + 1
    if keep:
        if st[S_HELD] != 0:
            out0, arg0, pos0 = CONST, st[S_HVAL], st[S_HPOS]
            st[S_HELD] = 0
        if op == CONST:
            st[S_HELD] = 1
            st[S_HVAL] = arg
            st[S_HPOS] = pos
        else:
            out1 = op
    return out0, arg0, pos0, out1, arg1, False


@register_jitable
def _unreachable(st, op):
    """Stage 3: whether ``op`` survives, dropping code after br/return up to the end/else that
    closes its block (at -O1)."""
    dead = st[S_DEAD3]
    if st[S_OPT] != 0 and dead > 0 and op != FLUSH:
        if op == BLOCK or op == LOOP or op == IF:
            dead += 1
        elif op == END or (op == ELSE and dead == 1):
            dead -= 1
        st[S_DEAD3] = dead
        if dead > 0:
            return False
    if op == BR or op == RETURN:
        st[S_DEAD3] = 1
    return True


@register_jitable
def _peephole(st, op, arg, pos):
    """Stage 4's rules at -O1, rewriting the last instruction in place where one applies.
    Returns how many instructions to write: the trailing ``eqz`` run, then ``op``."""
    writes = 1
    if op == EQZ:
        if st[S_ZRUN] == 0 and st[S_LEN] > 0 and NEGATED_OP[st[S_LAST_OP]] >= 0:
            st[S_LAST_OP] = NEGATED_OP[st[S_LAST_OP]]  # `cmp; eqz`
            st[S_LAST_ARG] = 0
        else:
            st[S_ZRUN] += 1
            st[S_ZPOS] = pos
        writes = 0
    elif op == BR_IF or op == IF:
        st[S_ZRUN] &= 1  # `eqz; eqz; br_if`: the branch only tests for nonzero
    elif op == GET and st[S_ZRUN] == 0 and st[S_LEN] > 0 and \
            st[S_LAST_OP] == SET and st[S_LAST_ARG] == arg:
        st[S_LAST_OP] = TEE  # `set x; get x`
        writes = 0
    if op == FLUSH:
        writes = 0
    writes += st[S_ZRUN] if writes or op == FLUSH else 0
    if writes > 0 or op == FLUSH:
        st[S_ZRUN] = 0
    return writes


@register_jitable
def _write(st, code, op, arg, pos):
    """Append an instruction, now that the one before it is final and validated."""
    n = st[S_LEN]
    if n > 0:
        _check_last(st)
    if n < st[S_CAP]:
        code[n, 0] = op
        code[n, 1] = arg
    elif n == st[S_CAP]:
        st[S_OVER_POS] = pos
    st[S_LAST_OP] = op
    st[S_LAST_ARG] = arg
    st[S_LAST_POS] = pos
    st[S_LEN] = n + 1


@register_jitable
def _final_stages(st, code, op, arg, pos):
    """Stages 3 and 4 and the writes, for one instruction out of stage 2."""
    if not _unreachable(st, op):
        return
    opt = st[S_OPT]
    if opt != 0:
        writes = _peephole(st, op, arg, pos)
    else:
        writes = 0 if op == FLUSH else 1
    for w in range(writes):
        zeros = writes - 1 if op != FLUSH else writes
        if w < zeros:
            wop, warg, wpos = EQZ, np.int64(0), st[S_ZPOS]
        else:
            wop, warg, wpos = op, arg, pos
        _write(st, code, wop, warg, wpos)
    n = st[S_LEN]
    if opt != 0 and 0 < n <= st[S_CAP]:  # a peephole rewrite in place, or no change
        code[n - 1, 0] = st[S_LAST_OP]
        code[n - 1, 1] = st[S_LAST_ARG]


@register_jitable
def _stream(st, code, pend, inl):
    """Push ``st[S_IN_*]`` through the stages (see the module docstring)."""
    op = st[S_IN_OP]
    arg = st[S_IN_ARG]
    pos = st[S_IN_POS]
    opt = st[S_OPT]
    npend = 0
    if opt != 0:
        npend = _fold(st, pend, op, arg, pos)
        if npend < 0:
            return
    for q in range(npend + 1):  # the pending constants, then op, go to stage 2
        if q < npend:
            op2, arg2, pos2 = CONST, np.int64(pend[2 * q]), np.int64(pend[2 * q + 1])
        else:
            op2, arg2, pos2 = op, arg, pos
        if opt == 0:
            out0, arg0, pos0, out1, arg1, stop = -2, np.int64(0), np.int64(0), op2, arg2, False
        else:
            out0, arg0, pos0, out1, arg1, stop = _branches(st, inl, op2, arg2, pos2)
        if stop:
            return
        if out0 != -2:
            _final_stages(st, code, out0, arg0, pos0)
        if out1 != -2:
            _final_stages(st, code, out1, arg1, pos2)


@register_jitable
def emit(st, code, pend, inl, op, arg, pos):
    """Emit instruction ``(op, arg)`` of the -O0 code, made at token ``pos``."""
    st[S_IN_OP] = op
    st[S_IN_ARG] = arg
    st[S_IN_POS] = pos
    _stream(st, code, pend, inl)


@register_jitable
def finish(st, code, pend, inl):
    """End the program: flush every stage, validate the last instruction and the end state.

    Returns the code length (meaningful when ``st[S_STATUS]`` stays OK).
    """
    st[S_IN_OP] = FLUSH
    st[S_IN_POS] = st[S_LAST_POS]
    _stream(st, code, pend, inl)
    n = st[S_LEN]
    if n > 0:
        _check_last(st)
    if st[S_HEIGHT] != 0 or st[S_NEST] != 0:
        fail(st, E_INTERNAL, st[S_LAST_POS])
    if n > st[S_CAP]:
        fail(st, E_TOO_LONG, st[S_OVER_POS])
    return n
