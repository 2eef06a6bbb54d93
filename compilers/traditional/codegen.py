"""Code generation: kiln IR -> bytecode, one fixed shape per construct.

These shapes are part of the contract with the batched compiler (``compilers.batch``), which
must emit the same bytes from source tokens; ``docs/compiler.md`` lists them. In short:

- expressions: post-order, each operand then its opcode (``select``: then, else, condition);
- ``x = y = e``: ``e, tee x, set y``; ``a, b = e1, e2``: ``e1, e2, set b, set a``;
- ``if c: T else: E``: ``c, if, T, else, E, end`` (no ``else`` when E is empty);
- ``while c: B``: ``block, loop, c, eqz, br_if 1, B, br 0, end, end``;
- ``for v in range(a, b, s)`` with temps C (counter) and S (limit), for s > 0::

      a, set C, b, set S,
      block, get C, get S, lt, eqz, br_if 0,
        loop, block, get C, set v, BODY, end,
          get S, get C, sub, const s, ugt, eqz, br_if 1,
          get C, const s, add, set C, br 0,
        end,
      end

  (for s < 0: ``gt`` in the entry test, ``get C, get S, sub, const -s`` in the exit test);
  ``break`` leaves the outer block, ``continue`` ends the inner one (so the step still runs).
  The exit test compares the distance to the limit as unsigned, so stepping never overflows;
- ``return e``: ``e, return``; falling off the end needs no code (the VM returns 0).
"""
from __future__ import annotations

from ..isa import OP, wrap
from . import ir

Code = list[tuple[int, int]]


def codegen(fn: ir.Function) -> Code:
    """Bytecode for a lowered function, as a list of (opcode, arg)."""
    out: Code = []
    _Gen(out).block(fn.body)
    return out


class _Gen:
    def __init__(self, out: Code):
        self.out = out
        # One entry per open block: "loop" (continue target), "break" (break target), None.
        self.blocks: list[str | None] = []

    def emit(self, name: str, arg: int = 0) -> None:
        self.out.append((OP[name], arg))

    def depth_of(self, role: str) -> int:
        for depth, r in enumerate(reversed(self.blocks)):
            if r == role:
                return depth
        raise AssertionError(f"no enclosing {role} target")  # frontend checks loop nesting

    def open(self, name: str, role: str | None) -> None:
        self.emit(name)
        self.blocks.append(role)

    def close(self) -> None:
        self.emit("end")
        self.blocks.pop()

    def block(self, stmts: tuple[ir.Stmt, ...]) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s: ir.Stmt) -> None:
        if isinstance(s, ir.Assign):
            self.expr(s.value)
            for t in s.targets[:-1]:
                self.emit("tee", t)
            self.emit("set", s.targets[-1])
        elif isinstance(s, ir.TupleAssign):
            for v in s.values:
                self.expr(v)
            for t in reversed(s.targets):
                self.emit("set", t)
        elif isinstance(s, ir.If):
            self.expr(s.cond)
            self.open("if", None)
            self.block(s.then)
            if s.orelse:
                self.emit("else")
                self.block(s.orelse)
            self.close()
        elif isinstance(s, ir.While):
            self.open("block", "break")
            self.open("loop", "continue")
            self.expr(s.cond)
            self.emit("eqz")
            self.emit("br_if", 1)
            self.block(s.body)
            self.emit("br", 0)
            self.close()
            self.close()
        elif isinstance(s, ir.ForRange):
            self.for_range(s)
        elif isinstance(s, ir.Break):
            self.emit("br", self.depth_of("break"))
        elif isinstance(s, ir.Continue):
            self.emit("br", self.depth_of("continue"))
        elif isinstance(s, ir.Return):
            self.expr(s.value)
            self.emit("return")
        else:
            raise AssertionError(f"unknown statement {s!r}")

    def for_range(self, s: ir.ForRange) -> None:
        c, lim, step = s.counter, s.limit, s.step
        up = step > 0
        self.expr(s.start)
        self.emit("set", c)
        self.expr(s.stop)
        self.emit("set", lim)
        self.open("block", "break")
        self.emit("get", c)
        self.emit("get", lim)
        self.emit("lt" if up else "gt")
        self.emit("eqz")
        self.emit("br_if", 0)
        self.open("loop", None)
        self.open("block", "continue")
        self.emit("get", c)
        self.emit("set", s.var)
        self.block(s.body)
        self.close()
        self.emit("get", lim if up else c)
        self.emit("get", c if up else lim)
        self.emit("sub")
        self.emit("const", step if up else wrap(-step))
        self.emit("ugt")
        self.emit("eqz")
        self.emit("br_if", 1)
        self.emit("get", c)
        self.emit("const", step)
        self.emit("add")
        self.emit("set", c)
        self.emit("br", 0)
        self.close()
        self.close()

    def expr(self, e: ir.Expr) -> None:
        if isinstance(e, ir.Const):
            self.emit("const", e.value)
        elif isinstance(e, ir.Local):
            self.emit("get", e.slot)
        else:
            for arg in e.args:
                self.expr(arg)
            self.out.append((e.op, 0))
