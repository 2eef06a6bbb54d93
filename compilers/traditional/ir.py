"""kiln IR: a structured tree of statements over pure expression trees.

Expressions are pure and total (no calls, no traps), so evaluation order never matters and any
expression may be duplicated, shared or reordered; the passes rely on this. Every operator is an
opcode of ``isa.OPS`` applied to argument expressions, so the IR needs no operator table of its
own. Loops keep Python's shape (``While``, ``ForRange``) so that code generation can give each
its canonical bytecode; ``Break``/``Continue`` refer to the innermost loop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..isa import OPS


@dataclass(frozen=True)
class Const:
    value: int


@dataclass(frozen=True)
class Local:
    slot: int


@dataclass(frozen=True)
class Apply:
    """A pure opcode applied to its operands (deepest stack operand first)."""

    op: int
    args: tuple["Expr", ...]


Expr = Union[Const, Local, Apply]


@dataclass(frozen=True)
class Assign:
    """``t0 = t1 = ... = value``: every target gets the value, in order."""

    targets: tuple[int, ...]
    value: Expr


@dataclass(frozen=True)
class TupleAssign:
    """``t0, t1, ... = v0, v1, ...``: all values first, then the (distinct) targets."""

    targets: tuple[int, ...]
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class If:
    cond: Expr
    then: tuple["Stmt", ...]
    orelse: tuple["Stmt", ...]


@dataclass(frozen=True)
class While:
    cond: Expr
    body: tuple["Stmt", ...]


@dataclass(frozen=True)
class ForRange:
    """``for var in range(start, stop, step)``; ``counter``/``limit`` are the temp slots."""

    var: int
    start: Expr
    stop: Expr
    step: int
    body: tuple["Stmt", ...]
    counter: int
    limit: int


@dataclass(frozen=True)
class Break:
    pass


@dataclass(frozen=True)
class Continue:
    pass


@dataclass(frozen=True)
class Return:
    value: Expr


Stmt = Union[Assign, TupleAssign, If, While, ForRange, Break, Continue, Return]


@dataclass(frozen=True)
class Function:
    """A lowered function: its statements and variable names in slot order."""

    name: str
    nparams: int
    names: tuple[str, ...]
    body: tuple[Stmt, ...]


def is_terminator(stmt: Stmt) -> bool:
    """Whether control never falls through ``stmt`` to the next statement."""
    return isinstance(stmt, (Break, Continue, Return))


def reads(expr: Expr) -> set[int]:
    """Slots an expression reads."""
    if isinstance(expr, Local):
        return {expr.slot}
    if isinstance(expr, Apply):
        out: set[int] = set()
        for arg in expr.args:
            out |= reads(arg)
        return out
    return set()


def format_expr(expr: Expr, names: tuple[str, ...] = ()) -> str:
    """A readable rendering, for debugging and golden files."""
    if isinstance(expr, Const):
        return str(expr.value)
    if isinstance(expr, Local):
        return names[expr.slot] if expr.slot < len(names) else f"%{expr.slot}"
    args = ", ".join(format_expr(a, names) for a in expr.args)
    return f"{OPS[expr.op].name}({args})"


def format_function(fn: Function) -> str:
    """The IR as indented text."""
    lines = [f"func {fn.name}({', '.join(fn.names[:fn.nparams])})"]

    def name(slot: int) -> str:
        return fn.names[slot] if slot < len(fn.names) else f"%{slot}"

    def block(stmts: tuple[Stmt, ...], depth: int) -> None:
        pad = "  " * depth
        for s in stmts:
            if isinstance(s, Assign):
                lines.append(pad + " = ".join(map(name, s.targets)) + " = "
                             + format_expr(s.value, fn.names))
            elif isinstance(s, TupleAssign):
                lines.append(pad + ", ".join(map(name, s.targets)) + " = "
                             + ", ".join(format_expr(v, fn.names) for v in s.values))
            elif isinstance(s, If):
                lines.append(pad + "if " + format_expr(s.cond, fn.names))
                block(s.then, depth + 1)
                if s.orelse:
                    lines.append(pad + "else")
                    block(s.orelse, depth + 1)
            elif isinstance(s, While):
                lines.append(pad + "while " + format_expr(s.cond, fn.names))
                block(s.body, depth + 1)
            elif isinstance(s, ForRange):
                lines.append(f"{pad}for {name(s.var)} in range({format_expr(s.start, fn.names)}, "
                             f"{format_expr(s.stop, fn.names)}, {s.step})")
                block(s.body, depth + 1)
            elif isinstance(s, Return):
                lines.append(pad + "return " + format_expr(s.value, fn.names))
            else:
                lines.append(pad + type(s).__name__.lower())

    block(fn.body, 1)
    return "\n".join(lines) + "\n"
