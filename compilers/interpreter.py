"""The reference interpreter: the definition of the kiln language's semantics.

``interpret`` parses a source with ``frontend.parse_function`` and evaluates the checked Python
``ast`` directly, over Python ints wrapped to int32 after every operation. It is written from
``docs/language.md`` alone and shares no semantics with the ISA, so that the interpreter and the
compiler + VM check each other.

The tree is translated once into nested Python closures (one per node), which are then run for
each input row. Statement closures return a signal (fall through, break, continue or return);
a row's state is one list: its variables by slot, then the return value, then the fuel left.

Fuel here counts *source* steps: one unit for each executed statement and one for each loop
iteration. The VMs count fuel in executed *instructions*, so the two budgets are not comparable.
"""
from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from .frontend import CompileError, Function, deep_recursion, literal_value, parse_function, \
    range_step
from .isa import wrap

__all__ = ["OutOfFuel", "as_args", "interpret"]

_M = 0xFFFFFFFF
_B = 0x80000000  # ((x + _B) & _M) - _B wraps x to int32, inlined for speed

# Statement signals; None means "fall through".
_BREAK, _CONTINUE, _RETURN = 1, 2, 3

Env = list[int]
Expr = Callable[[Env], int]
Stmt = Callable[[Env], "int | None"]


class OutOfFuel(RuntimeError):
    """An input row ran out of fuel.

    ``row`` is the index of the row, ``fuel`` the budget each row had and ``unit`` what the
    budget counts: this interpreter counts statements and loop iterations, the VMs count
    instructions.
    """

    def __init__(self, row: int, fuel: int, unit: str = "statements and loop iterations"):
        self.row = row
        self.fuel = fuel
        self.unit = unit
        super().__init__(f"input row {row} ran out of fuel ({fuel} {unit})")


class _Exhausted(Exception):
    """Raised inside a row; ``interpret`` turns it into OutOfFuel with the row index."""


# Expressions ------------------------------------------------------------------------------

def _floordiv(a: int, b: int) -> int:
    return 0 if b == 0 else ((a // b + _B) & _M) - _B  # INT_MIN // -1 wraps to INT_MIN


def _mod(a: int, b: int) -> int:
    return a if b == 0 else a % b  # |a % b| < |b|: always in range


def _udiv(a: int, b: int) -> int:
    b &= _M
    return 0 if b == 0 else (((a & _M) // b + _B) & _M) - _B


def _urem(a: int, b: int) -> int:
    b &= _M
    return a if b == 0 else (((a & _M) % b + _B) & _M) - _B


def _lshr(a: int, n: int) -> int:
    return ((((a & _M) >> (n & 31)) + _B) & _M) - _B  # a shift by 0 keeps bit 31


def _abs(a: int) -> int:
    return ((abs(a) + _B) & _M) - _B


def _binop(op: type, left: Expr, right: Expr) -> Expr:
    """Closure for ``left op right``; results of ``& | ^ >> %`` need no wrap on int32 operands."""
    if op is ast.Add:
        return lambda e: ((left(e) + right(e) + _B) & _M) - _B
    if op is ast.Sub:
        return lambda e: ((left(e) - right(e) + _B) & _M) - _B
    if op is ast.Mult:
        return lambda e: ((left(e) * right(e) + _B) & _M) - _B
    if op is ast.FloorDiv:
        return lambda e: _floordiv(left(e), right(e))
    if op is ast.Mod:
        return lambda e: _mod(left(e), right(e))
    if op is ast.LShift:
        return lambda e: (((left(e) << (right(e) & 31)) + _B) & _M) - _B
    if op is ast.RShift:
        return lambda e: left(e) >> (right(e) & 31)
    if op is ast.BitAnd:
        return lambda e: left(e) & right(e)
    if op is ast.BitOr:
        return lambda e: left(e) | right(e)
    if op is ast.BitXor:
        return lambda e: left(e) ^ right(e)
    raise CompileError(f"operator {op.__name__} is not supported")  # the front end rejects it


_COMPARE: dict[type, Callable[[int, int], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}


def _unsigned(cmp: Callable[[int, int], bool]) -> Callable[[int, int], int]:
    return lambda a, b: 1 if cmp(a & _M, b & _M) else 0


_CALLS: dict[str, Callable[..., int]] = {
    "abs": _abs, "lshr": _lshr, "udiv": _udiv, "urem": _urem,
    "ult": _unsigned(operator.lt), "ule": _unsigned(operator.le),
    "ugt": _unsigned(operator.gt), "uge": _unsigned(operator.ge),
    "int": lambda a: a, "bool": lambda a: 1 if a else 0,
}


class _Translator:
    """Turns a checked Function into closures; ``slots`` maps variable names to env indices."""

    def __init__(self, fn: Function, exact: bool):
        self.exact = exact           # charge fuel statement by statement (see ``block``)
        self.slots = {name: i for i, name in enumerate(fn.names)}
        self.ret = len(fn.names)     # env index of the return value
        self.fuel = self.ret + 1     # env index of the fuel left

    def expr(self, node: ast.expr) -> Expr:
        value = literal_value(node)
        if value is not None:
            return lambda e: value
        if isinstance(node, ast.Name):
            return operator.itemgetter(self.slots[node.id])
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return _binop(type(node.op), self.expr(node.left), self.expr(node.right))
        if isinstance(node, ast.BoolOp):
            return self._boolop(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            test, body, orelse = self.expr(node.test), self.expr(node.body), self.expr(node.orelse)
            return lambda e: body(e) if test(e) else orelse(e)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise _unsupported(node)

    def _unary(self, node: ast.UnaryOp) -> Expr:
        operand = self.expr(node.operand)
        if isinstance(node.op, ast.USub):
            return lambda e: ((_B - operand(e)) & _M) - _B
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Invert):
            return lambda e: ~operand(e)
        return lambda e: 0 if operand(e) else 1  # not

    def _boolop(self, node: ast.BoolOp) -> Expr:
        *firsts, last = [self.expr(v) for v in node.values]
        if isinstance(node.op, ast.And):
            def and_(e: Env) -> int:
                for f in firsts:
                    v = f(e)
                    if v == 0:
                        return v
                return last(e)
            return and_

        def or_(e: Env) -> int:
            for f in firsts:
                v = f(e)
                if v != 0:
                    return v
            return last(e)
        return or_

    def _compare(self, node: ast.Compare) -> Expr:
        left = self.expr(node.left)
        if len(node.ops) == 1:
            cmp, right = _COMPARE[type(node.ops[0])], self.expr(node.comparators[0])
            return lambda e: 1 if cmp(left(e), right(e)) else 0
        links = [(_COMPARE[type(op)], self.expr(c)) for op, c in zip(node.ops, node.comparators)]

        def chain(e: Env) -> int:
            a = left(e)
            for cmp, g in links:  # each middle operand evaluated once, stopping at the first 0
                b = g(e)
                if not cmp(a, b):
                    return 0
                a = b
            return 1
        return chain

    def _call(self, node: ast.Call) -> Expr:
        name = node.func.id
        args = [self.expr(a) for a in node.args]
        if name in ("min", "max"):
            pick = min if name == "min" else max
            return lambda e: pick([a(e) for a in args])
        f = _CALLS[name]
        if len(args) == 1:
            (a,) = args
            return lambda e: f(a(e))
        a, b = args
        return lambda e: f(a(e), b(e))

    # statements -----------------------------------------------------------------------------

    def block(self, stmts: Sequence[ast.stmt], entry_cost: int = 0) -> Stmt:
        """One closure for a statement list; each executed statement costs one unit of fuel.

        ``entry_cost`` more units are charged each time the block is entered (a loop body's
        iteration). The exact closure charges one statement at a time. The fast one charges the
        whole block on entry and refunds what an early exit skips: it never charges less than
        has run, so a row it completes also completes exactly, but near the end of the fuel it
        may give up early; ``interpret`` then reruns that row exactly.
        """
        compiled = tuple(self.stmt(s) for s in stmts)
        fuel = self.fuel
        if self.exact:
            def exact(e: Env) -> int | None:
                e[fuel] -= entry_cost
                if e[fuel] < 0:
                    raise _Exhausted
                for s in compiled:
                    e[fuel] -= 1
                    if e[fuel] < 0:
                        raise _Exhausted
                    signal = s(e)
                    if signal:
                        return signal
                return None
            return exact

        total = entry_cost + len(compiled)
        with_refunds = tuple(zip(compiled, range(len(compiled) - 1, -1, -1)))

        def fast(e: Env) -> int | None:
            left = e[fuel] - total
            if left < 0:
                raise _Exhausted
            e[fuel] = left
            for s, unused in with_refunds:
                signal = s(e)
                if signal:
                    e[fuel] += unused
                    return signal
            return None
        return fast

    def stmt(self, s: ast.stmt) -> Stmt:
        if isinstance(s, ast.Assign):
            return self._assign(s)
        if isinstance(s, ast.AugAssign):
            slot = self.slots[s.target.id]
            update = _binop(type(s.op), operator.itemgetter(slot), self.expr(s.value))

            def aug(e: Env) -> None:
                e[slot] = update(e)
            return aug
        if isinstance(s, ast.If):
            test, body, orelse = self.expr(s.test), self.block(s.body), self.block(s.orelse)
            return lambda e: body(e) if test(e) else orelse(e)
        if isinstance(s, ast.While):
            return self._while(s)
        if isinstance(s, ast.For):
            return self._for(s)
        if isinstance(s, ast.Return):
            ret = self.ret
            value = self.expr(s.value) if s.value is not None else (lambda e: 0)

            def return_(e: Env) -> int:
                e[ret] = value(e)
                return _RETURN
            return return_
        if isinstance(s, ast.Break):
            return lambda e: _BREAK
        if isinstance(s, ast.Continue):
            return lambda e: _CONTINUE
        if isinstance(s, ast.Pass):
            return lambda e: None
        raise _unsupported(s)

    def _assign(self, s: ast.Assign) -> Stmt:
        if len(s.targets) == 1 and isinstance(s.targets[0], ast.Tuple):
            slots = [self.slots[t.id] for t in s.targets[0].elts]
            values = [self.expr(v) for v in s.value.elts]

            def assign_tuple(e: Env) -> None:
                new = [v(e) for v in values]  # all right-hand sides before any store
                for slot, x in zip(slots, new):
                    e[slot] = x
            return assign_tuple
        if isinstance(s.value, ast.Tuple):
            raise _unsupported(s.value)
        value = self.expr(s.value)
        slots = [self.slots[t.id] for t in s.targets]
        if len(slots) == 1:
            slot = slots[0]

            def assign(e: Env) -> None:
                e[slot] = value(e)
            return assign

        def assign_chain(e: Env) -> None:
            x = value(e)
            for slot in slots:
                e[slot] = x
        return assign_chain

    def _while(self, s: ast.While) -> Stmt:
        test, body = self.expr(s.test), self.block(s.body, entry_cost=1)

        def while_(e: Env) -> int | None:
            while test(e):
                signal = body(e)
                if signal == _BREAK:
                    break
                if signal == _RETURN:
                    return signal
            return None
        return while_

    def _for(self, s: ast.For) -> Stmt:
        call = s.iter
        bounds = [self.expr(a) for a in call.args[:2]]
        start, stop = bounds if len(bounds) == 2 else (lambda e: 0, bounds[0])
        step, slot = range_step(call), self.slots[s.target.id]
        body = self.block(s.body, entry_cost=1)

        def for_(e: Env) -> int | None:
            # Bounds are evaluated once, on entry; every value of the range lies between two
            # int32 bounds, so the target needs no wrap. Assigning the target in the body does
            # not change the next value, as in Python.
            for i in range(start(e), stop(e), step):
                e[slot] = i
                signal = body(e)
                if signal == _BREAK:
                    break
                if signal == _RETURN:
                    return signal
            return None
        return for_


def _unsupported(node: ast.AST) -> CompileError:
    # The front end rejects these; this keeps the promise that bad sources raise only
    # CompileError should it ever let one through.
    return CompileError(f"{type(node).__name__} is not supported here",
                        getattr(node, "lineno", 0), getattr(node, "col_offset", -1) + 1)


@functools.lru_cache(maxsize=1024)
def _compile(source: str, exact: bool = False) -> tuple[Function, Stmt]:
    fn = parse_function(source)
    with deep_recursion():
        return fn, _Translator(fn, exact).block(fn.body)


def _run_row(body: Stmt, row: list[int], nlocals: int, fuel: int) -> int:
    env = row + [0] * nlocals + [0, fuel]  # variables by slot, return value, fuel left
    body(env)
    return env[-2]


def as_args(args: npt.ArrayLike, nparams: int) -> np.ndarray:
    """Validate argument rows and return them as an int32 array of shape ``(N, nparams)``.

    ``args`` has shape ``(N, nparams)``, or ``(nparams,)`` for one row. Integer values of any
    size are wrapped to int32 (``True``/``False`` count as 1/0); anything else is a ValueError
    that names the expected shape.
    """
    want = f"expected integer args of shape (N, {nparams}), or ({nparams},) for one row"
    try:
        array = np.asarray(args)
        if array.dtype.kind not in "iub" and not isinstance(args, np.ndarray):
            # Python ints beyond int64, or mixing signs beyond 2**63, turn into object or
            # float64 arrays: look at the original values instead.
            array = np.asarray(args, dtype=object)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{want}; could not read args as an array: {exc}") from None
    if array.ndim == 1 and array.shape[0] == nparams:
        array = array.reshape(1, nparams)
    if array.ndim != 2 or array.shape[1] != nparams:
        raise ValueError(f"{want}, got shape {array.shape}")
    if array.size == 0:  # e.g. np.asarray([]) is float64: no values, nothing to check
        return np.zeros(array.shape, dtype=np.int32)
    if array.dtype.kind in "iub":
        return array.astype(np.int32)  # integer casts truncate modulo 2**32: a wrap
    flat = array.ravel().tolist()
    for x in flat:
        if not isinstance(x, (int, np.integer)):
            raise ValueError(f"{want}, got a {type(x).__name__} value ({x!r})")
    return np.array([wrap(x) for x in flat], dtype=np.int32).reshape(array.shape)


def interpret(source: str, args: npt.ArrayLike, *, fuel: int = 1_000_000) -> np.ndarray:
    """Run the kiln function in ``source`` on each row of ``args``; return int32 results.

    ``args`` has shape ``(N, nparams)``, or ``(nparams,)`` for a single row (the result then
    has shape ``(1,)``); integer values are wrapped to int32. Each row may execute at most
    ``fuel`` statements and loop iterations together.

    Raises ``CompileError`` if ``source`` is outside the language, ``ValueError`` for badly
    shaped or non-integer ``args`` and ``OutOfFuel`` when a row exhausts its fuel.
    """
    if isinstance(fuel, bool) or not isinstance(fuel, (int, np.integer)) or fuel < 0:
        raise ValueError(f"fuel must be a non-negative int, got {fuel!r}")
    if not isinstance(source, str):  # before the cache, which needs a hashable key
        raise CompileError(f"source must be a str, got {type(source).__name__}")
    fn, body = _compile(source)
    rows = as_args(args, fn.nparams).tolist()
    nlocals = len(fn.names) - fn.nparams
    out = np.empty(len(rows), dtype=np.int32)
    fuel = int(fuel)
    with deep_recursion():
        for r, row in enumerate(rows):
            try:
                out[r] = _run_row(body, row, nlocals, fuel)
            except _Exhausted:
                try:
                    out[r] = _run_row(_compile(source, exact=True)[1], row, nlocals, fuel)
                except _Exhausted:
                    raise OutOfFuel(r, fuel) from None
    return out
