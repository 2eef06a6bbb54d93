"""Bytecode passes (-O1): constant folding, branch simplification, unreachable code, peephole.

Each pass reads code left to right and rewrites only the tail of what it has written so far, so
the four passes in pipeline order give the same bytes as applying their rules while the code is
being emitted. The batched compiler (``compilers.batch``) does exactly that, and its output must
equal this pipeline's bit for bit; keep both in step.
"""
from __future__ import annotations

from ..isa import (BLOCK, BR, BR_IF, CONST, ELSE, END, EQZ, GET, IF, LOOP, NEGATED, OPS, RETURN,
                   SET, TEE)
from ..isa import evaluate

Code = list[tuple[int, int]]

# `cmp; eqz` is the negated comparison (isa.NEGATED).


def fold_constants(code: Code) -> Code:
    """A pure opcode whose operands are all constants becomes one constant."""
    out: Code = []
    for op, arg in code:
        n = OPS[op].pops
        if OPS[op].sem is not None and len(out) >= n and all(o == CONST for o, _ in out[-n:]):
            value = evaluate(op, *(a for _, a in out[-n:]))
            del out[-n:]
            out.append((CONST, value))
        else:
            out.append((op, arg))
    return out


def _dead_after(op: int, dead: int) -> int:
    """The nesting count of a dead stretch (1 + blocks opened inside it) after ``op``; 0 when
    ``op`` is the ``end``/``else`` that closes it (that instruction itself is live)."""
    if op in (BLOCK, LOOP, IF):
        return dead + 1
    if op == END or (op == ELSE and dead == 1):
        return dead - 1
    return dead


def simplify_branches(code: Code) -> Code:
    """Branches on constants: ``const c; br_if d`` becomes ``br d`` or nothing; ``const c; if``
    keeps only the arm that runs, without its block (branch depths through it shrink by one)."""
    out: Code = []
    inlined: list[bool] = []  # one per open block of the input: was it an inlined if?
    dead = 0                  # >0: inside the arm of an inlined if that never runs (nesting + 1)
    for op, arg in code:
        if dead:
            dead = _dead_after(op, dead)
            if dead == 0 and op == END:  # (at an else, the live arm follows in the same block)
                inlined.pop()
            continue
        if op in (BR, BR_IF):
            target = len(inlined) - 1 - arg
            assert not inlined[target], "codegen never branches to an if block"
            arg -= sum(inlined[target + 1:])
        if op == BR_IF and out and out[-1][0] == CONST:
            taken = out.pop()[1] != 0
            if taken:
                out.append((BR, arg))
            continue
        if op == IF and out and out[-1][0] == CONST:
            runs_then = out.pop()[1] != 0
            inlined.append(True)
            if not runs_then:
                dead = 1
            continue
        if op == ELSE and inlined[-1]:
            dead = 1  # the then-arm ran: the else-arm never does
            continue
        if op == END:
            if inlined.pop():
                continue
        elif op in (BLOCK, LOOP, IF):
            inlined.append(False)
        out.append((op, arg))
    return out


def remove_unreachable(code: Code) -> Code:
    """Drop code after ``br``/``return`` up to the ``end``/``else`` closing its block."""
    out: Code = []
    dead = 0  # >0: unreachable; counts blocks opened inside the unreachable stretch, plus one
    for op, arg in code:
        if dead:
            dead = _dead_after(op, dead)
            if dead:
                continue
        out.append((op, arg))
        if op in (BR, RETURN):
            dead = 1
    return out


def peephole(code: Code) -> Code:
    """Local rewrites at the tail, repeated until none applies:
    ``set x; get x`` -> ``tee x``; ``cmp; eqz`` -> negated cmp; ``eqz; eqz; br_if/if`` -> drop
    both ``eqz`` (the branch only tests for nonzero)."""
    out: Code = []
    for ins in code:
        out.append(ins)
        while _rewrite_tail(out):
            pass
    return out


def _rewrite_tail(out: Code) -> bool:
    if len(out) >= 2:
        (a, x), (b, y) = out[-2], out[-1]
        if a == SET and b == GET and x == y:
            out[-2:] = [(TEE, x)]
            return True
        if b == EQZ and a in NEGATED:
            out[-2:] = [(NEGATED[a], 0)]
            return True
    if len(out) >= 3 and out[-3][0] == EQZ and out[-2][0] == EQZ and out[-1][0] in (BR_IF, IF):
        out[-3:] = [out[-1]]
        return True
    return False


O1_PASSES = (fold_constants, simplify_branches, remove_unreachable, peephole)
