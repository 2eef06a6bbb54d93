"""Dataflow passes for -O2 on the structured IR: copy propagation and dead-store removal.

Both analyses follow the tree instead of a control-flow graph: an ``If`` joins its two arms,
``break``/``continue``/``return`` end a path, and loops are handled as described in each pass.
"""
from __future__ import annotations

from dataclasses import replace

from . import ir
from .ir import (Apply, Assign, Break, Const, Continue, Expr, ForRange, If, Local, Return, Stmt,
                 TupleAssign, While)
from .ir_tools import assigned_slots, heads, with_heads

# Copy propagation -------------------------------------------------------------------------

# slot -> the Local or Const it currently equals; None where no path reaches (after `return`).
Copies = dict[int, Expr] | None


def propagate_copies(fn: ir.Function) -> ir.Function:
    """After ``x = y`` or ``x = c`` (and ``x = y = e``, which makes y a copy of x), reads of x
    become reads of y (or c) for as long as neither x nor y may have been reassigned.

    The facts flow forward through the tree: an ``If`` keeps the facts both arms agree on; a
    loop starts from the facts that hold on entry less every fact about a variable the loop may
    assign anywhere (its for variable included), which then hold throughout the loop and after
    it. The copies themselves stay (``remove_dead_stores`` drops those no longer read).
    """
    body, _ = _propagate_block(fn.body, {})
    return replace(fn, body=body)


def _substitute(e: Expr, copies: dict[int, Expr]) -> Expr:
    if isinstance(e, Local):
        return copies.get(e.slot, e)
    if isinstance(e, Apply):
        args = tuple(_substitute(a, copies) for a in e.args)
        return e if args == e.args else Apply(e.op, args)
    return e


def _kill(copies: dict[int, Expr], slots: set[int]) -> dict[int, Expr]:
    return {x: v for x, v in copies.items()
            if x not in slots and not (isinstance(v, Local) and v.slot in slots)}


def _join(a: Copies, b: Copies) -> Copies:
    if a is None:
        return b
    if b is None:
        return a
    return {x: v for x, v in a.items() if b.get(x) == v}


def _propagate_block(stmts: tuple[Stmt, ...], copies: Copies) -> tuple[tuple[Stmt, ...], Copies]:
    out = []
    for s in stmts:
        s, copies = _propagate_stmt(s, {} if copies is None else copies)
        out.append(s)
    return tuple(out), copies


def _propagate_stmt(s: Stmt, copies: dict[int, Expr]) -> tuple[Stmt, Copies]:
    if isinstance(s, Assign):
        value = _substitute(s.value, copies)
        after = _kill(copies, set(s.targets))
        if isinstance(value, Const) or (isinstance(value, Local) and value.slot not in s.targets):
            after.update((t, value) for t in s.targets)
        elif len(set(s.targets)) == len(s.targets):
            after.update((t, Local(s.targets[0])) for t in s.targets[1:])
        return Assign(s.targets, value), after
    if isinstance(s, TupleAssign):
        values = tuple(_substitute(v, copies) for v in s.values)
        after = _kill(copies, set(s.targets))
        for t, v in zip(s.targets, values):
            if isinstance(v, Const) or (isinstance(v, Local) and v.slot not in s.targets):
                after[t] = v
        return TupleAssign(s.targets, values), after
    if isinstance(s, If):
        then, a = _propagate_block(s.then, copies)
        orelse, b = _propagate_block(s.orelse, copies)
        return If(_substitute(s.cond, copies), then, orelse), _join(a, b)
    if isinstance(s, While):
        head = _kill(copies, assigned_slots((s,)))
        body, _ = _propagate_block(s.body, head)
        return While(_substitute(s.cond, head), body), head
    if isinstance(s, ForRange):
        head = _kill(copies, assigned_slots((s,)))
        body, _ = _propagate_block(s.body, head)
        return ForRange(s.var, _substitute(s.start, copies), _substitute(s.stop, copies), s.step,
                        body, s.counter, s.limit), head
    if isinstance(s, Return):
        return Return(_substitute(s.value, copies)), None
    return s, None  # break, continue


# Dead stores ------------------------------------------------------------------------------

def remove_dead_stores(fn: ir.Function) -> ir.Function:
    """Drop assignments (and single targets of multi-target or tuple assignments) to variables
    that no path reads before reassigning them, and self-assignments ``x = x``.

    Liveness runs backward over the tree. A loop's live-at-head set is a fixpoint: whole-function
    rounds reuse each loop's set from the round before (starting empty) until no set grows, and
    the statements kept are those of the last round, whose sets are then consistent.
    """
    analysis = _Liveness()
    while True:
        analysis.changed = False
        analysis.loop_index = 0
        body, _ = analysis.block(fn.body, frozenset(), None)
        if not analysis.changed:
            return replace(fn, body=body)


# (live after the loop, live where `continue` goes) for the innermost loop
LoopTargets = tuple[frozenset, frozenset] | None


class _Liveness:
    def __init__(self) -> None:
        self.loop_live: dict[int, frozenset] = {}  # by loop pre-order index: live at its head
        self.changed = False
        self.loop_index = 0

    def block(self, stmts: tuple[Stmt, ...], live: frozenset,
              loop: LoopTargets) -> tuple[tuple[Stmt, ...], frozenset]:
        out: list[Stmt] = []
        for s in reversed(stmts):
            kept, live = self.stmt(s, live, loop)
            if kept is not None:
                out.append(kept)
        return tuple(reversed(out)), live

    def loop_head(self, index: int, live: frozenset) -> None:
        if self.loop_live.get(index) != live:
            self.loop_live[index] = live
            self.changed = True

    def stmt(self, s: Stmt, live: frozenset, loop: LoopTargets) -> tuple[Stmt | None, frozenset]:
        if isinstance(s, Assign):
            targets = tuple(t for t in s.targets if t in live)
            if not targets or s.value == Local(targets[0]) and len(s.targets) == 1:
                return None, live
            return Assign(targets, s.value), (live - set(s.targets)) | ir.reads(s.value)
        if isinstance(s, TupleAssign):
            pairs = [(t, v) for t, v in zip(s.targets, s.values) if t in live]
            after = live - set(s.targets)
            for _, v in pairs:
                after |= ir.reads(v)
            if not pairs:
                return None, live
            if len(pairs) == 1:
                return Assign((pairs[0][0],), pairs[0][1]), after
            return TupleAssign(tuple(t for t, _ in pairs), tuple(v for _, v in pairs)), after
        if isinstance(s, If):
            then, a = self.block(s.then, live, loop)
            orelse, b = self.block(s.orelse, live, loop)
            return If(s.cond, then, orelse), a | b | ir.reads(s.cond)
        if isinstance(s, While):
            index = self.loop_index
            self.loop_index += 1
            head = self.loop_live.get(index, frozenset())
            body, entry = self.block(s.body, head, (live, head))
            head = entry | live | ir.reads(s.cond)
            self.loop_head(index, head)
            return While(s.cond, body), head
        if isinstance(s, ForRange):
            index = self.loop_index
            self.loop_index += 1
            # The body ends by leaving the loop or by starting the next iteration.
            after_body = live | self.loop_live.get(index, frozenset())
            body, entry = self.block(s.body, after_body, (live, after_body))
            iteration = entry - {s.var}  # each iteration starts with `var = counter`
            self.loop_head(index, iteration)
            return (replace(s, body=body),
                    live | iteration | ir.reads(s.start) | ir.reads(s.stop))
        if isinstance(s, Return):
            return s, frozenset(ir.reads(s.value))
        if isinstance(s, Break):
            return s, loop[0]
        if isinstance(s, Continue):
            return s, loop[1]
        raise AssertionError(f"unknown statement {s!r}")


# Reading copies back ----------------------------------------------------------------------

def read_back_copies(fn: ir.Function) -> ir.Function:
    """After ``x = v`` (v a variable or constant), a next statement whose first evaluated
    operand is v reads x instead: the two are equal there, and codegen then emits ``set x;
    get x``, which -O1's peephole makes one ``tee x``. This undoes the one loss of copy
    propagation: it rewrites such reads of x to v even where the copy stays live.

    Only the statement right after the copy changes, and only its first operand in evaluation
    order (codegen's post-order), since only that ``get`` directly follows the ``set``.
    """
    return replace(fn, body=_read_back_block(fn.body))


def _read_back_block(stmts: tuple[Stmt, ...]) -> tuple[Stmt, ...]:
    out: list[Stmt] = []
    for s in stmts:
        if isinstance(s, If):
            s = If(s.cond, _read_back_block(s.then), _read_back_block(s.orelse))
        elif isinstance(s, (While, ForRange)):
            s = replace(s, body=_read_back_block(s.body))
        prev = out[-1] if out else None
        if isinstance(prev, Assign) and isinstance(prev.value, (Local, Const)) \
                and prev.value != Local(prev.targets[-1]):
            s = _read_first_operand(s, prev.value, Local(prev.targets[-1]))
        out.append(s)
    return tuple(out)


def _read_first_operand(s: Stmt, old: Expr, new: Local) -> Stmt:
    """``s`` with its first evaluated operand replaced by ``new`` if that operand is ``old``."""
    first = heads(s)
    if not first or isinstance(s, While):
        return s
    replaced = _replace_first_leaf(first[0], old, new)
    return s if replaced is None else with_heads(s, (replaced,) + tuple(first[1:]))


def _replace_first_leaf(e: Expr, old: Expr, new: Expr) -> Expr | None:
    if isinstance(e, Apply):
        inner = _replace_first_leaf(e.args[0], old, new)
        return None if inner is None else Apply(e.op, (inner,) + e.args[1:])
    return new if e == old else None
