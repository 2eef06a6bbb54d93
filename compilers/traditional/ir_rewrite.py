"""Expression rewriting for -O2: constant folding, algebraic simplification, strength reduction.

A ``Rewriter`` simplifies an expression bottom-up: each node is rebuilt from its (already
simplified) operands by ``build``, which tries the rules in order; a rule returns a replacement
built with ``build`` again, or None. The algebraic rules live in ``ir_rules``; folding and
strength reduction, which are passes of their own, are here. All rules share the contract
stated in ``ir_rules``: exact on int32, never costlier, never deeper.
"""
from __future__ import annotations

from dataclasses import replace

from ..isa import OP, evaluate, wrap
from . import ir
from .ir import Apply, Const, Expr
from .ir_rules import ALGEBRA, NAME, Rule, log2
from .ir_tools import expr_cost, map_exprs


class Rewriter:
    """Bottom-up expression simplifier over an ordered list of rules."""

    def __init__(self, *rules: Rule):
        self.rules = rules

    def build(self, name: str, *args: Expr) -> Expr:
        """The simplest form of opcode ``name`` applied to simplified ``args``."""
        for rule in self.rules:
            out = rule(self, name, args)
            if out is not None:
                return out
        return Apply(OP[name], args)

    def expr(self, e: Expr) -> Expr:
        """Simplify a whole expression tree."""
        if isinstance(e, Apply):
            return self.build(NAME[e.op], *(self.expr(a) for a in e.args))
        return e

    def function(self, fn: ir.Function) -> ir.Function:
        """Simplify every expression of a function."""
        return replace(fn, body=map_exprs(fn.body, self.expr))


# Constant folding -------------------------------------------------------------------------

def fold(rw: Rewriter, name: str, args: tuple[Expr, ...]) -> Expr | None:
    """All operands constant: the constant result, computed by the ISA table's semantics."""
    if all(isinstance(a, Const) for a in args):
        return Const(evaluate(OP[name], *(a.value for a in args)))
    return None


# Strength reduction -----------------------------------------------------------------------

def strength(rw: Rewriter, name: str, args: tuple[Expr, ...]) -> Expr | None:
    """Cheaper ops for multiplication and division by constants: ``x * 2**k`` -> ``x << k``,
    ``x * -1`` -> ``-x``, ``x * -(2**k)`` -> ``-(x << k)``; ``x // 2**k`` -> ``x >> k`` and
    ``x % 2**k`` -> ``x & (2**k - 1)`` (floor division by a positive power of two is an
    arithmetic shift); ``udiv``/``urem`` by ``2**k`` (unsigned, up to 2**31) -> ``lshr``/``&``;
    ``x + x`` -> ``x << 1`` when x costs more than a constant."""
    if len(args) != 2:
        return None
    x, rhs = args
    if name == "add" and x == rhs and expr_cost(x) > expr_cost(Const(1)):
        return rw.build("shl", x, Const(1))
    if not isinstance(rhs, Const):
        return None
    c = rhs.value
    k = log2(c)
    if name == "mul":
        if k is not None and k >= 1:
            return rw.build("shl", x, Const(k))
        if c == -1:
            return rw.build("neg", x)
        k = log2(-c)
        if c < 0 and k is not None and 1 <= k <= 30:
            return rw.build("neg", rw.build("shl", x, Const(k)))
        return None
    if k is None or k < 1:
        return None
    if name in ("div", "mod") and c > 0:
        return rw.build("shr", x, Const(k)) if name == "div" else rw.build("and", x, Const(c - 1))
    if name == "udiv":
        return rw.build("lshr", x, Const(k))
    if name == "urem":
        return rw.build("and", x, Const(wrap((1 << k) - 1)))
    return None


FOLD = Rewriter(fold)
SIMPLIFY = Rewriter(fold, *ALGEBRA)
REDUCE = Rewriter(fold, strength)
FULL = Rewriter(fold, *ALGEBRA, strength)


def simplify_expr(e: Expr) -> Expr:
    """``e`` with every rule applied: folding, algebra and strength reduction together."""
    return FULL.expr(e)


def fold_constants(fn: ir.Function) -> ir.Function:
    """Replace every operation whose operands are all constants by its value (``isa.evaluate``,
    so ``x // 0 == 0`` and wrapping follow the ISA). Nothing else changes."""
    return FOLD.function(fn)


def simplify_algebra(fn: ir.Function) -> ir.Function:
    """Apply the algebraic identities of ``ir_rules.ALGEBRA`` (and folding) to every
    expression, bottom-up: exact on int32, never costlier; constants move to the right of
    commutative ops and comparisons."""
    return SIMPLIFY.function(fn)


def reduce_strength(fn: ir.Function) -> ir.Function:
    """Replace multiplication and division by constants with shifts, masks and negation where
    that is exact for every int32 and cheaper by the ISA table (see ``strength``)."""
    return REDUCE.function(fn)
