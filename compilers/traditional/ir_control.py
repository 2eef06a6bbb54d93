"""Control-flow passes for -O2: unreachable and redundant control, and branches to selects."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from ..isa import EQZ, MAX_STACK, SELECT
from . import ir
from .ir import Assign, Const, Continue, Expr, ForRange, If, Local, Return, Stmt, While
from .ir_rewrite import simplify_expr
from .ir_rules import is_op
from .ir_tools import (COST, IF_TAKEN, block_falls_through, expr_cost, falls_through, stack_depth,
                       straight_cost)



def condition(e: Expr) -> Expr:
    """A branch condition reduced to what decides it, since a branch only asks whether its
    condition is nonzero: ``x != 0``, ``eqz(eqz(x))``, ``x and c`` (c a nonzero constant)
    -> x; ``x or c``, ``x | c`` -> 1."""
    while True:
        if is_op(e, "ne") and e.args[1] == Const(0):
            e = e.args[0]
        elif is_op(e, "eqz") and is_op(e.args[0], "eqz"):
            e = e.args[0].args[0]
        elif is_op(e, "andv", "orv", "or") and _nonzero_constant(e.args[1]):
            if not is_op(e, "andv"):
                return Const(1)
            e = e.args[0]
        else:
            return e


def _nonzero_constant(e: Expr) -> bool:
    return isinstance(e, Const) and e.value != 0


def simplify_control_flow(fn: ir.Function) -> ir.Function:
    """Remove control flow that cannot run or does nothing:

    - statements after one that never falls through (``return``, ``break``, ``continue``, an
      ``if`` whose arms both end that way, ``while`` on a nonzero constant without ``break``);
    - ``if`` on a constant (the arm that runs is spliced in), ``while`` on 0, a ``for`` over a
      constant empty range, an ``if`` with two empty arms;
    - a ``continue`` that ends a loop body and a ``return 0`` that ends the function (falling
      off the end does the same), also at the end of an ``if`` that ends the block;
    - an ``if`` with an empty then-arm, or whose condition is ``eqz c``, is turned around so no
      ``else`` jump or ``eqz`` is needed.
    Conditions lose tests that restate truth (``condition``).
    """
    body = _trim_tail(_block(fn.body), lambda s: isinstance(s, Return) and s.value == Const(0))
    return replace(fn, body=body)


def _block(stmts: tuple[Stmt, ...]) -> tuple[Stmt, ...]:
    out: list[Stmt] = []
    for s in stmts:
        for kept in _stmt(s):
            out.append(kept)
            if not falls_through(kept):
                return tuple(out)
    return tuple(out)


def _is_continue(s: Stmt) -> bool:
    return isinstance(s, Continue)


def _trim_tail(stmts: tuple[Stmt, ...],
               redundant: Callable[[Stmt], bool]) -> tuple[Stmt, ...]:
    """Drop a last statement that does what falling off the block's end does."""
    while stmts and redundant(stmts[-1]):
        stmts = stmts[:-1]
    if stmts and isinstance(stmts[-1], If):  # its arms end where the block does
        last = stmts[-1]
        return stmts[:-1] + _stmt(If(last.cond, _trim_tail(last.then, redundant),
                                     _trim_tail(last.orelse, redundant)))
    return stmts


def _stmt(s: Stmt) -> tuple[Stmt, ...]:
    if isinstance(s, If):
        cond = condition(s.cond)
        if isinstance(cond, Const):
            return _block(s.then if cond.value != 0 else s.orelse)
        then, orelse = _block(s.then), _block(s.orelse)
        if not then and not orelse:
            return ()
        if not then:
            cond, then, orelse = _negate(cond), orelse, ()
        elif orelse and is_op(cond, "eqz"):
            cond, then, orelse = cond.args[0], orelse, then
        return (If(cond, then, orelse),)
    if isinstance(s, While):
        cond = condition(s.cond)
        if cond == Const(0):
            return ()
        return (While(cond, _trim_tail(_block(s.body), _is_continue)),)
    if isinstance(s, ForRange):
        if isinstance(s.start, Const) and isinstance(s.stop, Const):
            runs = s.start.value < s.stop.value if s.step > 0 else s.start.value > s.stop.value
            if not runs:
                return ()
        return (replace(s, body=_trim_tail(_block(s.body), _is_continue)),)
    return (s,)


def _negate(cond: Expr) -> Expr:
    return condition(simplify_expr(ir.Apply(EQZ, (cond,))))


# Branches to selects ------------------------------------------------------------------------

def convert_branches_to_selects(fn: ir.Function) -> ir.Function:
    """Replace an ``if`` whose arms each assign one variable the same way, or each return, by
    one ``select``: ``if c: x = a else: x = b`` -> ``x = select(a, b, c)``, one-armed ``if c:
    x = a`` -> ``x = select(a, x, c)`` (x's slot is read and written back when c is 0, so this
    is exact even where x may be unassigned), ``if c: return a else: return b`` and ``if c:
    return a`` followed by ``return b`` -> ``return select(a, b, c)``.

    The select is simplified (``ir_rewrite.simplify_expr``: min, max, abs, ``x + c`` for 0/1 c
    ...) and kept only if its cycles are at most those of the branch version's cheaper path,
    the paths counted from codegen's shape (``c, if, A, else, B, end``; ``if`` costs one more
    cycle when it jumps), so the rewrite never costs more on any input. A plain select runs both
    arms, so it pays only where simplification removes work.
    """
    return replace(fn, body=_selects(fn.body))


def _selects(stmts: tuple[Stmt, ...]) -> tuple[Stmt, ...]:
    out: list[Stmt] = []
    i = 0
    while i < len(stmts):
        s = stmts[i]
        if isinstance(s, If):
            s = If(s.cond, _selects(s.then), _selects(s.orelse))
            follower = stmts[i + 1] if i + 1 < len(stmts) else None
            merged, used = _as_select(s, follower)
            if merged is not None:
                out.append(merged)
                i += 1 + used
                continue
        elif isinstance(s, While):
            s = While(s.cond, _selects(s.body))
        elif isinstance(s, ForRange):
            s = replace(s, body=_selects(s.body))
        out.append(s)
        i += 1
    return tuple(out)


def _as_select(s: If, follower: Stmt | None) -> tuple[Stmt | None, int]:
    """The select form of ``s`` and how many following statements it absorbed (1 when
    ``follower`` is the return that the missing else-arm falls into), or None when the shape
    does not fit or the select would cost more."""
    then, orelse = s.then, s.orelse
    if _single_return(then) and not orelse and isinstance(follower, Return):
        merged = Return(_select(then[0].value, follower.value, s.cond))
        return (merged, 1) if _pays(s, merged, straight_cost((follower,))) else (None, 0)
    if _single_return(then) and _single_return(orelse):
        merged = Return(_select(then[0].value, orelse[0].value, s.cond))
        return (merged, 0) if _pays(s, merged) else (None, 0)
    target = _single_target(then if then else orelse)
    if target is None or (then and orelse and _single_target(orelse) != target):
        return None, 0
    arms = [arm[0].value if arm else Local(target) for arm in (then, orelse)]
    merged = Assign((target,), _select(*arms, s.cond))
    return (merged, 0) if _pays(s, merged) else (None, 0)


def _select(a: Expr, b: Expr, c: Expr) -> Expr:
    return simplify_expr(ir.Apply(SELECT, (a, b, c)))


def _single_return(arm: tuple[Stmt, ...]) -> bool:
    return len(arm) == 1 and isinstance(arm[0], Return)


def _single_target(arm: tuple[Stmt, ...]) -> int | None:
    if len(arm) == 1 and isinstance(arm[0], Assign) and len(arm[0].targets) == 1:
        return arm[0].targets[0]
    return None


def _pays(s: If, merged: Assign | Return, else_cost: int = 0) -> bool:
    """Whether ``merged`` costs at most the expected cost of ``s`` (see the pass)."""
    if stack_depth(merged.value) > MAX_STACK:
        return False
    then_path = COST["if"] + straight_cost(s.then)
    if s.orelse and block_falls_through(s.then):
        then_path += COST["else"]
    else_path = COST["if"] + IF_TAKEN + straight_cost(s.orelse) + else_cost
    cond = condition(simplify_expr(s.cond))  # as the branch would test it, once simplified
    # The select must be no costlier than the cheaper path, so that it never loses whatever
    # the inputs: -O2 may then never cost more than the branch on any input.
    return straight_cost((merged,)) <= expr_cost(cond) + min(then_path, else_path)
