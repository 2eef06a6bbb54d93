"""Common-subexpression elimination for -O2, within straight-line runs of statements."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, replace

from ..isa import OPS
from . import ir
from .ir import Apply, Assign, Const, Expr, ForRange, If, Local, Stmt, While
from .ir_tools import COST, assigned_slots, free_temp_slots, heads, with_heads


def eliminate_common_subexpressions(fn: ir.Function) -> ir.Function:
    """Compute a repeated operation once when that saves cycles.

    Within one block, an operation ``e`` that occurs several times in the expressions its
    statements evaluate on entry (assigned values, returned values, ``if`` conditions, ``for``
    bounds), with nothing it reads assigned in between, is evaluated once: into the variable
    of an earlier ``x = e`` that is not reassigned before the last use, else into a fresh temp
    slot (``ir_tools.free_temp_slots``; none free: skipped) assigned just before the first use.
    Candidates are taken greedily by cycles saved, counting the temp's ``set`` and each
    ``get``; only a net saving is taken. ``while`` conditions and nested blocks are separate
    runs (each nested block is handled on its own).
    """
    temps = free_temp_slots(fn)
    return replace(fn, body=_block(fn.body, temps))


@dataclass
class _Run:
    """The occurrences of one expression while nothing it reads is reassigned."""

    expr: Expr
    cost: int
    first: int
    last: int
    count: int


# Each round applies the best runs whose statement ranges are disjoint; a long block whose runs
# all nest could otherwise take a round per run, so rounds are capped to bound compile time.
MAX_ROUNDS = 64


def _block(stmts: tuple[Stmt, ...], temps: list[int]) -> tuple[Stmt, ...]:
    stmts = tuple(_nested(s, temps) for s in stmts)
    for _ in range(MAX_ROUNDS):
        chosen = _choose(stmts, temps)
        if not chosen:
            break
        # Back to front, so inserting a temp's assignment leaves the earlier indices valid.
        for run, holder in sorted(chosen, key=lambda c: -c[0].first):
            stmts = _apply(stmts, run, holder)
    return stmts


def _nested(s: Stmt, temps: list[int]) -> Stmt:
    if isinstance(s, If):
        return If(s.cond, _block(s.then, temps), _block(s.orelse, temps))
    if isinstance(s, (While, ForRange)):
        return replace(s, body=_block(s.body, temps))
    return s


class _Numbering:
    """Value numbers for a block's expressions (equal trees, equal numbers), and the runs of
    each operation's occurrences, found in one pass over the statements."""

    def __init__(self, stmts: tuple[Stmt, ...]):
        self.numbers: dict[tuple, int] = {}
        self.reads: list[frozenset[int]] = []
        self.costs: list[int] = []
        self.open: dict[int, _Run] = {}  # in the order the runs opened
        self.runs: list[_Run] = []
        for i, s in enumerate(stmts):
            for h in heads(s):
                self.number(h, i)
            if ir.is_terminator(s):
                self.runs.extend(self.open.values())
                self.open.clear()
            killed = assigned_slots((s,))
            if killed:  # runs close in the order they opened (which breaks ties in _choose)
                for n in [n for n in self.open if self.reads[n] & killed]:
                    self.runs.append(self.open.pop(n))
        self.runs.extend(self.open.values())

    def number(self, e: Expr, i: int) -> int:
        if isinstance(e, Const):
            key: tuple = ("const", e.value)
        elif isinstance(e, Local):
            key = ("get", e.slot)
        else:
            key = (e.op, *(self.number(a, i) for a in e.args))
        n = self.numbers.get(key)
        if n is None:
            n = self.numbers[key] = len(self.costs)
            if isinstance(e, Apply):
                self.reads.append(frozenset().union(*(self.reads[k] for k in key[1:])))
                self.costs.append(OPS[e.op].cost + sum(self.costs[k] for k in key[1:]))
            else:
                self.reads.append(frozenset((e.slot,)) if isinstance(e, Local) else frozenset())
                self.costs.append(COST[key[0]])
        if isinstance(e, Apply):
            run = self.open.get(n)
            if run is None:
                self.open[n] = _Run(e, self.costs[n], i, i, 1)
            else:
                run.last, run.count = i, run.count + 1
        return n


def _choose(stmts: tuple[Stmt, ...], temps: list[int]) -> list[tuple[_Run, int]]:
    """Runs worth evaluating once, best saving first, with pairwise disjoint statement ranges
    (so applying one leaves the others' occurrences alone), each with the variable to hold its
    value: an existing one, or a temp taken from ``temps``."""
    get, set_ = COST["get"], COST["set"]
    assigned_at: dict[int, list[int]] = {}
    for i, s in enumerate(stmts):
        for slot in assigned_slots((s,)):
            assigned_at.setdefault(slot, []).append(i)

    def holder(run: _Run) -> int | None:
        first = stmts[run.first]
        if isinstance(first, Assign) and first.value == run.expr:
            for x in first.targets:
                # The last statement reads the value before it assigns anything.
                at = assigned_at.get(x, [])
                k = bisect.bisect_right(at, run.first)
                if k == len(at) or at[k] >= run.last:
                    return x
        return None

    candidates = []
    for run in _Numbering(stmts).runs:
        if run.count < 2:
            continue
        x = holder(run)
        if x is not None:
            candidates.append(((run.count - 1) * (run.cost - get), run.first, run, x))
        else:
            value = (run.count - 1) * run.cost - set_ - run.count * get
            candidates.append((value, run.first, run, None))
    candidates.sort(key=lambda c: (-c[0], c[1]))
    chosen: list[tuple[_Run, int]] = []
    starts: list[int] = []  # chosen ranges, sorted by start
    ends: dict[int, int] = {}
    for value, first, run, x in candidates:
        if value <= 0:
            break
        k = bisect.bisect_right(starts, first)
        if (k and ends[starts[k - 1]] >= first) or (k < len(starts) and starts[k] <= run.last):
            continue
        if x is None:
            if not temps:
                continue
            x = temps.pop(0)
        bisect.insort(starts, first)
        ends[first] = run.last
        chosen.append((run, x))
    return chosen


def _apply(stmts: tuple[Stmt, ...], run: _Run, holder: int) -> tuple[Stmt, ...]:
    """Evaluate ``run`` once into ``holder``: a new assignment before the first occurrence,
    unless the first occurrence is already the value assigned to ``holder``."""
    out = list(stmts)
    first = stmts[run.first]
    fresh = not (isinstance(first, Assign) and holder in first.targets
                 and first.value == run.expr)
    for i in range(run.first + (not fresh), run.last + 1):
        out[i] = with_heads(out[i], tuple(_replace(h, run.expr, Local(holder))
                                          for h in heads(out[i])))
    if fresh:
        out.insert(run.first, Assign((holder,), run.expr))
    return tuple(out)


def _replace(e: Expr, old: Expr, new: Expr) -> Expr:
    if e == old:
        return new
    if isinstance(e, Apply):
        args = tuple(_replace(a, old, new) for a in e.args)
        return e if args == e.args else Apply(e.op, args)
    return e
