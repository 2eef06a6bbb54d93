"""The algebraic rewrite rules of -O2's expression simplifier (driven by ``ir_rewrite``).

A rule takes the builder, an opcode name and its already simplified operands, and returns a
replacement built with ``build`` (so it is simplified in turn) or None. Every rule is exact for
all int32 operands (expressions are pure and total, so dropping or duplicating an operand is
safe), never raises the node's cycle count nor its operand stack depth, and either lowers the
cycle count or keeps it while moving constants right, so rewriting terminates.
"""
from __future__ import annotations

from typing import Callable, Protocol

from ..isa import BY_NAME, INT32_MAX, INT32_MIN, OPS, wrap
from .ir import Apply, Const, Expr
from .ir_tools import stack_depth


class Builder(Protocol):
    """What a rule builds its replacement with (``ir_rewrite.Rewriter``)."""

    def build(self, name: str, *args: Expr) -> Expr:
        """The simplest form of opcode ``name`` applied to simplified ``args``."""


Rule = Callable[[Builder, str, tuple[Expr, ...]], "Expr | None"]

# Chains `op(op(x, c1), c2)` that fold to `op(x, c)`: (c1, c2) -> c.
REASSOCIATE = {"add": lambda a, b: wrap(a + b), "mul": lambda a, b: wrap(a * b),
               "and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b,
               "min": min, "max": max}
# `select(op(x, 1), x, b)` is `op(x, b)` for a 0/1 value b.
STEP_BY_ONE = {"add", "sub", "or", "xor", "shl", "shr", "lshr"}
NAME = {op.code: op.name for op in OPS}


def is_op(e: Expr, *names: str) -> bool:
    """Whether ``e`` applies one of the named opcodes."""
    return isinstance(e, Apply) and NAME[e.op] in names


def const_value(e: Expr) -> int | None:
    """The value of a constant, else None."""
    return e.value if isinstance(e, Const) else None


def is_bool(e: Expr) -> bool:
    """Whether ``e`` is 0 or 1 for every input."""
    if isinstance(e, Const):
        return e.value in (0, 1)
    if not isinstance(e, Apply):
        return False
    name = NAME[e.op]
    if BY_NAME[name].comparison or name == "eqz":
        return True
    if name == "and":
        return any(is_bool(a) for a in e.args)
    if name in ("or", "xor", "min", "max", "andv", "orv", "mul"):
        return all(is_bool(a) for a in e.args)
    if name == "select":
        return is_bool(e.args[0]) and is_bool(e.args[1])
    if name == "lshr":
        return const_value(e.args[1]) is not None and e.args[1].value & 31 == 31
    return False


def not_deeper(first: Expr, second: Expr) -> bool:
    """Whether swapping two operands keeps the operand stack as shallow: the one evaluated
    second needs a slot more, so a rule may swap only if ``first`` is no deeper."""
    return stack_depth(first) <= stack_depth(second)


def log2(c: int) -> int | None:
    """k if ``c`` read as unsigned 32-bit is 2**k, else None."""
    u = c & 0xFFFFFFFF
    return u.bit_length() - 1 if u and u & (u - 1) == 0 else None


def constants_right(rw: Builder, name: str, args: tuple[Expr, ...]) -> Expr | None:
    """``c op x`` -> ``x op c`` for commutative ops; comparisons are mirrored (``c < x`` ->
    ``x > c``), so the rules below only look for constants on the right."""
    if len(args) == 2 and isinstance(args[0], Const) and not isinstance(args[1], Const):
        op = BY_NAME[name]
        if op.commutative:
            return rw.build(name, args[1], args[0])
        if op.mirrored:
            return rw.build(op.mirrored, args[1], args[0])
    return None


def _operand(rw: Builder, x: Expr, k: Const) -> Expr:
    return x


def _constant(value: int) -> Callable[[Builder, Expr, Const], Expr]:
    return lambda rw, x, k: Const(value)


def _the_constant(rw: Builder, x: Expr, k: Const) -> Expr:
    return k


def _apply(name: str, *extra: Expr) -> Callable[[Builder, Expr, Const], Expr]:
    return lambda rw, x, k: rw.build(name, x, *extra)


# name -> {right constant: replacement}
RIGHT_IDENTITIES: dict[str, dict[int, Callable[[Builder, Expr, Const], Expr]]] = {
    "add": {0: _operand},
    "mul": {0: _constant(0), 1: _operand},
    "and": {0: _constant(0), -1: _operand},
    "or": {0: _operand, -1: _the_constant},
    "xor": {0: _operand, -1: _apply("not")},
    "div": {0: _constant(0), 1: _operand, -1: _apply("neg")},
    "mod": {0: _operand, 1: _constant(0), -1: _constant(0)},
    "udiv": {0: _constant(0), 1: _operand},
    "urem": {0: _operand, 1: _constant(0)},
    "min": {INT32_MAX: _operand, INT32_MIN: _the_constant},
    "max": {INT32_MIN: _operand, INT32_MAX: _the_constant},
    "eq": {0: _apply("eqz")},
    "lt": {INT32_MIN: _constant(0)},
    "ge": {INT32_MIN: _constant(1)},
    "gt": {INT32_MAX: _constant(0)},
    "le": {INT32_MAX: _constant(1)},
    "ult": {0: _constant(0)},
    "uge": {0: _constant(1)},
    "ugt": {-1: _constant(0), 0: _apply("ne", Const(0))},
    "ule": {-1: _constant(1), 0: _apply("eqz")},
    "andv": {0: _constant(0)},
    "orv": {0: _operand},
}


def right_constant(rw: Builder, name: str, args: tuple[Expr, ...]) -> Expr | None:
    """Identities with a constant right operand (``RIGHT_IDENTITIES``): ``x+0``, ``x*1``,
    ``x*0``, ``x&-1``, ``x|-1``, ``x^-1`` -> ``~x``, ``//`` and ``%`` by 0 and ±1, min/max
    with the int32 bounds, comparisons that are constant or reduce to ``eqz``, ``x and 0``,
    ``x or 0``; also ``x-c`` -> ``x+(-c)``, shifts by multiples of 32 -> x, and ``b != 0``,
    ``b == 1`` -> b for a 0/1 operand b."""
    if len(args) != 2 or not isinstance(args[1], Const):
        return None
    x, k = args
    if name == "sub":
        return rw.build("add", x, Const(wrap(-k.value)))
    if name in ("shl", "shr", "lshr") and k.value & 31 == 0:
        return x
    if name in ("ne", "eq") and k.value in (0, 1) and is_bool(x):
        return x if (name == "ne") == (k.value == 0) else rw.build("eqz", x)
    out = RIGHT_IDENTITIES.get(name, {}).get(k.value)
    return out(rw, x, k) if out else None


def left_constant(rw: Builder, name: str, args: tuple[Expr, ...]) -> Expr | None:
    """Constant left operands of non-commutative ops: ``0-x`` -> ``-x``, ``0 << x`` and
    ``0 // x`` and their kin -> 0, ``-1 >> x`` -> -1, ``c and x``, ``c or x``."""
    if len(args) != 2 or not isinstance(args[0], Const):
        return None
    c, x = args[0].value, args[1]
    if name == "sub" and c == 0:
        return rw.build("neg", x)
    if name in ("shl", "shr", "lshr", "div", "mod", "udiv", "urem") and c == 0:
        return args[0]
    if name == "shr" and c == -1:
        return args[0]
    if name == "andv":
        return x if c != 0 else args[0]
    if name == "orv":
        return args[0] if c != 0 else x
    return None


SAME_OPERANDS = {"sub": 0, "xor": 0, "mod": 0, "urem": 0, "ne": 0, "lt": 0, "gt": 0, "ult": 0,
                 "ugt": 0, "eq": 1, "le": 1, "ge": 1, "ule": 1, "uge": 1}


def same_operands(rw: Builder, name: str, args: tuple[Expr, ...]) -> Expr | None:
    """``x op x``: ``x-x``, ``x^x``, ``x%x`` -> 0, ``x==x`` -> 1 (and the other comparisons),
    ``x&x``, ``x|x``, ``min(x,x)``, ``max(x,x)``, ``x and x``, ``x or x`` -> x."""
    if len(args) != 2 or args[0] != args[1]:
        return None
    if name in SAME_OPERANDS:
        return Const(SAME_OPERANDS[name])
    if name in ("and", "or", "min", "max", "andv", "orv"):
        return args[0]
    return None


def reassociate(rw: Builder, name: str, args: tuple[Expr, ...]) -> Expr | None:
    """``(x op c1) op c2`` -> ``x op (c1 op c2)`` for + * & | ^ min max; shifts of shifts by
    constants combine (``(x << a) << b`` -> ``x << (a+b)``, or 0 once 32 bits are shifted
    out)."""
    if len(args) != 2 or not isinstance(args[1], Const) or not is_op(args[0], name):
        return None
    inner = args[0]
    if not isinstance(inner.args[1], Const):
        return None
    a, b = inner.args[1].value, args[1].value
    if name in REASSOCIATE:
        return rw.build(name, inner.args[0], Const(REASSOCIATE[name](a, b)))
    if name in ("shl", "shr", "lshr"):
        total = (a & 31) + (b & 31)
        if total < 32:
            return rw.build(name, inner.args[0], Const(total))
        return rw.build("shr", inner.args[0], Const(31)) if name == "shr" else Const(0)
    return None


def unary(rw: Builder, name: str, args: tuple[Expr, ...]) -> Expr | None:
    """``-(-x)``, ``~~x`` -> x; ``-(a-b)`` -> ``b-a`` (if the stack gets no deeper);
    ``eqz(eqz(b))`` -> b for 0/1 b (so ``eqz(eqz(eqz x))`` -> ``eqz x``); ``eqz(a < b)`` ->
    ``a >= b`` (every comparison); ``abs(abs x)``, ``abs(-x)`` -> ``abs x``."""
    if len(args) != 1 or not isinstance(args[0], Apply):
        return None
    x = args[0]
    inner = NAME[x.op]
    if (name, inner) in (("neg", "neg"), ("not", "not")):
        return x.args[0]
    if name == "neg" and inner == "sub" and not_deeper(x.args[0], x.args[1]):
        return rw.build("sub", x.args[1], x.args[0])
    if name == "eqz" and inner == "eqz" and is_bool(x.args[0]):
        return x.args[0]
    if name == "eqz" and BY_NAME[inner].negated:
        return rw.build(BY_NAME[inner].negated, *x.args)
    if name == "abs" and inner in ("abs", "neg"):
        return rw.build("abs", x.args[0]) if inner == "neg" else x
    return None


def logic(rw: Builder, name: str, args: tuple[Expr, ...]) -> Expr | None:
    """``a and b`` / ``a or b`` on 0/1 operands are bitwise ``&`` / ``|`` (cheaper)."""
    if name in ("andv", "orv") and is_bool(args[0]) and is_bool(args[1]):
        return rw.build("and" if name == "andv" else "or", *args)
    return None


def select(rw: Builder, name: str, args: tuple[Expr, ...]) -> Expr | None:
    """``select(a, b, c)`` (a if c else b): a constant c picks an arm; equal arms are that arm;
    ``eqz c`` swaps the arms (if the stack gets no deeper) and ``c != 0`` is c; then the
    branch-free forms of common shapes:
    ``select(1, 0, b)`` -> b and ``select(0, 1, c)`` -> ``eqz c``; for 0/1 b,
    ``select(a, 0, b)`` -> ``a & -b`` and ``select(x op 1, x, b)`` -> ``x op b``;
    ``select(a, b, a < b)`` -> ``min(a, b)`` (and max, for every signed order);
    ``select(-x, x, x < 0)`` -> ``abs x``."""
    if name != "select":
        return None
    a, b, c = args
    if isinstance(c, Const):
        return a if c.value != 0 else b
    if a == b:
        return a
    if is_op(c, "eqz") and not_deeper(a, b):
        return rw.build("select", b, a, c.args[0])
    if is_op(c, "ne") and const_value(c.args[1]) == 0:
        return rw.build("select", a, b, c.args[0])
    if const_value(a) == 0 and const_value(b) == 1:
        return rw.build("eqz", c)
    if is_bool(c):
        if const_value(a) == 1 and const_value(b) == 0:
            return c
        if const_value(b) == 0:
            return rw.build("and", a, rw.build("neg", c))
        out = step_by_one(rw, b, a, c) or step_by_one(rw, a, b, rw.build("eqz", c))
        if out is not None:
            return out
    return min_max_abs(rw, a, b, c)


def step_by_one(rw: Builder, x: Expr, y: Expr, b: Expr) -> Expr | None:
    """``x op b`` if ``y`` is ``x op 1`` (or ``x + -1``, giving ``x - b``), else None."""
    if not (is_op(y, *STEP_BY_ONE) and y.args[0] == x and isinstance(y.args[1], Const)):
        return None
    op, k = NAME[y.op], y.args[1].value
    if op in STEP_BY_ONE and k == 1:
        return rw.build(op, x, b)
    if op == "add" and k == -1:
        return rw.build("sub", x, b)
    return None


def min_max_abs(rw: Builder, a: Expr, b: Expr, c: Expr) -> Expr | None:
    """The ``select`` forms of min, max and abs (see ``select``)."""
    if not is_op(c, "lt", "le", "gt", "ge"):
        return None
    order = NAME[c.op]
    p, q = c.args
    if (a, b) in ((p, q), (q, p)):
        smaller_first = order in ("lt", "le")
        picks_left = a == p
        return rw.build("min" if smaller_first == picks_left else "max", a, b)
    if const_value(q) == 0:
        negative_first = order in ("lt", "le")
        if negative_first and is_op(a, "neg") and a.args[0] == p and b == p:
            return rw.build("abs", p)
        if not negative_first and is_op(b, "neg") and b.args[0] == p and a == p:
            return rw.build("abs", p)
    return None


ALGEBRA: tuple[Rule, ...] = (constants_right, right_constant, left_constant, same_operands,
                             reassociate, unary, logic, select)
