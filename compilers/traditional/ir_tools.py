"""Helpers shared by the -O2 IR passes: walking statements, slot sets, cycle costs.

Costs are read off ``isa.OPS`` and follow the fixed bytecode shapes of ``codegen``, so a pass can
tell whether a rewrite makes the code it will become cheaper without generating it.
"""
from __future__ import annotations

from typing import Callable, Iterator

from ..isa import MAX_LOCALS, OP, OPS
from . import ir
from .ir import Apply, Assign, Const, Expr, ForRange, If, Local, Return, Stmt, TupleAssign, While

COST = {name: OPS[OP[name]].cost for name in ("const", "get", "set", "tee", "return", "if",
                                               "else")}
IF_TAKEN = OPS[OP["if"]].taken  # extra cycles when `if` jumps to its else-arm or end


def expr_cost(e: Expr) -> int:
    """Cycles to evaluate ``e`` (each node once, post-order as codegen emits it)."""
    if isinstance(e, Const):
        return COST["const"]
    if isinstance(e, Local):
        return COST["get"]
    return OPS[e.op].cost + sum(expr_cost(a) for a in e.args)


def stack_depth(e: Expr) -> int:
    """Operand stack slots needed to evaluate ``e``."""
    if isinstance(e, Apply):
        return max(i + stack_depth(a) for i, a in enumerate(e.args))
    return 1


def straight_cost(stmts: tuple[Stmt, ...]) -> int | None:
    """Cycles of a block of assignments and returns run top to bottom; None if it has others."""
    total = 0
    for s in stmts:
        if isinstance(s, Assign):
            total += expr_cost(s.value) + len(s.targets) * COST["set"]
        elif isinstance(s, Return):
            total += expr_cost(s.value) + COST["return"]
        else:
            return None
    return total


def heads(s: Stmt) -> tuple[Expr, ...]:
    """The expressions a statement evaluates once, on entry, before it assigns anything."""
    if isinstance(s, Assign):
        return (s.value,)
    if isinstance(s, TupleAssign):
        return s.values
    if isinstance(s, If):
        return (s.cond,)
    if isinstance(s, ForRange):
        return (s.start, s.stop)
    if isinstance(s, Return):
        return (s.value,)
    return ()


def with_heads(s: Stmt, new: tuple[Expr, ...]) -> Stmt:
    """``s`` with its ``heads`` replaced by ``new`` (same length)."""
    if isinstance(s, Assign):
        return Assign(s.targets, new[0])
    if isinstance(s, TupleAssign):
        return TupleAssign(s.targets, new)
    if isinstance(s, If):
        return If(new[0], s.then, s.orelse)
    if isinstance(s, ForRange):
        return ForRange(s.var, new[0], new[1], s.step, s.body, s.counter, s.limit)
    if isinstance(s, Return):
        return Return(new[0])
    return s


def map_exprs(stmts: tuple[Stmt, ...], f: Callable[[Expr], Expr]) -> tuple[Stmt, ...]:
    """Apply ``f`` to every expression of every statement, nested blocks included."""
    out = []
    for s in stmts:
        if isinstance(s, If):
            s = If(f(s.cond), map_exprs(s.then, f), map_exprs(s.orelse, f))
        elif isinstance(s, While):
            s = While(f(s.cond), map_exprs(s.body, f))
        elif isinstance(s, ForRange):
            s = ForRange(s.var, f(s.start), f(s.stop), s.step, map_exprs(s.body, f), s.counter,
                         s.limit)
        else:
            s = with_heads(s, tuple(f(h) for h in heads(s)))
        out.append(s)
    return tuple(out)


def walk(stmts: tuple[Stmt, ...]) -> Iterator[Stmt]:
    """Every statement, nested ones included, in pre-order."""
    for s in stmts:
        yield s
        if isinstance(s, If):
            yield from walk(s.then)
            yield from walk(s.orelse)
        elif isinstance(s, (While, ForRange)):
            yield from walk(s.body)


def assigned_slots(stmts: tuple[Stmt, ...]) -> set[int]:
    """Every variable the statements may assign, nested blocks and for-loop variables included
    (a for loop's counter and limit temps are not variables: no expression reads them)."""
    out: set[int] = set()
    for s in walk(stmts):
        if isinstance(s, (Assign, TupleAssign)):
            out.update(s.targets)
        elif isinstance(s, ForRange):
            out.add(s.var)
    return out


def free_temp_slots(fn: ir.Function) -> list[int]:
    """Slots a pass may use for new temps: above the variables, below every for-loop temp,
    and not used by anything yet (earlier passes' temps included)."""
    floor = MAX_LOCALS
    used: set[int] = set()
    for s in walk(fn.body):
        if isinstance(s, ForRange):
            floor = min(floor, s.limit)
        for e in (s.cond,) if isinstance(s, While) else heads(s):
            used |= ir.reads(e)
    used |= assigned_slots(fn.body)
    return [slot for slot in range(len(fn.names), floor) if slot not in used]


def falls_through(s: Stmt) -> bool:
    """Whether control may reach the statement after ``s``."""
    if ir.is_terminator(s):
        return False
    if isinstance(s, If):
        return block_falls_through(s.then) or block_falls_through(s.orelse)
    if isinstance(s, While):
        forever = isinstance(s.cond, Const) and s.cond.value != 0
        return not forever or breaks_out(s.body)
    return True


def block_falls_through(stmts: tuple[Stmt, ...]) -> bool:
    """Whether control may run off the end of a block."""
    return all(falls_through(s) for s in stmts)


def breaks_out(stmts: tuple[Stmt, ...]) -> bool:
    """Whether a block has a ``break`` that leaves the loop the block is the body of."""
    for s in stmts:
        if isinstance(s, ir.Break):
            return True
        if isinstance(s, If) and (breaks_out(s.then) or breaks_out(s.orelse)):
            return True
    return False
