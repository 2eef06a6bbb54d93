"""Lowering: a checked Python AST (``frontend.Function``) -> kiln IR.

This is where Python's surface forms become IR: augmented assignment becomes a plain one,
``elif`` a nested ``If``, ``and``/``or`` the value-preserving ``andv``/``orv``, a chained
comparison the ``and`` of its links (the shared middle operand is pure, so it may be computed
twice), ``x if c else y`` a ``select``. Each ``for`` loop gets two temp slots, counted down from
the top of the local slots by loop nesting depth, so temps never collide with variables.
"""
from __future__ import annotations

import ast

from .. import frontend
from ..frontend import CompileError, literal_value, range_step
from ..isa import MAX_LOCALS, OP, PY_BUILTIN, PY_CONVERSION, PY_OPERATOR, SELECT
from . import ir


def lower(fn: frontend.Function) -> ir.Function:
    """Lower a checked function to IR; raise CompileError if its loops need too many temps."""
    with frontend.deep_recursion():
        return ir.Function(fn.name, fn.nparams, fn.names, _Lowerer(fn).block(fn.body, 0))


class _Lowerer:
    def __init__(self, fn: frontend.Function):
        self.fn = fn

    def block(self, stmts, for_depth: int) -> tuple[ir.Stmt, ...]:
        return tuple(self.stmt(s, for_depth) for s in stmts if not isinstance(s, ast.Pass))

    def stmt(self, s: ast.stmt, for_depth: int) -> ir.Stmt:
        if isinstance(s, ast.Assign):
            if isinstance(s.targets[0], ast.Tuple):
                return ir.TupleAssign(tuple(self.fn.slot(t.id) for t in s.targets[0].elts),
                                      tuple(self.expr(v) for v in s.value.elts))
            return ir.Assign(tuple(self.fn.slot(t.id) for t in s.targets), self.expr(s.value))
        if isinstance(s, ast.AugAssign):
            slot = self.fn.slot(s.target.id)
            value = ir.Apply(PY_OPERATOR[type(s.op)], (ir.Local(slot), self.expr(s.value)))
            return ir.Assign((slot,), value)
        if isinstance(s, ast.If):
            return ir.If(self.expr(s.test), self.block(s.body, for_depth),
                         self.block(s.orelse, for_depth))
        if isinstance(s, ast.While):
            return ir.While(self.expr(s.test), self.block(s.body, for_depth))
        if isinstance(s, ast.For):
            return self.for_range(s, for_depth)
        if isinstance(s, ast.Break):
            return ir.Break()
        if isinstance(s, ast.Continue):
            return ir.Continue()
        if isinstance(s, ast.Return):
            return ir.Return(ir.Const(0) if s.value is None else self.expr(s.value))
        raise AssertionError(f"unchecked statement {type(s).__name__}")  # frontend rejects it

    def for_range(self, s: ast.For, for_depth: int) -> ir.ForRange:
        counter = MAX_LOCALS - 1 - 2 * for_depth
        limit = counter - 1
        if limit < len(self.fn.names):
            raise CompileError(f"{len(self.fn.names)} variables and {for_depth + 1} nested for "
                               f"loops need more than {MAX_LOCALS} local slots (each loop "
                               f"takes 2)", s.lineno, s.col_offset + 1)
        args = s.iter.args
        start = self.expr(args[0]) if len(args) >= 2 else ir.Const(0)
        stop = self.expr(args[1] if len(args) >= 2 else args[0])
        return ir.ForRange(self.fn.slot(s.target.id), start, stop, range_step(s.iter),
                           self.block(s.body, for_depth + 1), counter, limit)

    def expr(self, e: ast.expr) -> ir.Expr:
        value = literal_value(e)
        if value is not None:
            return ir.Const(value)
        if isinstance(e, ast.Name):
            return ir.Local(self.fn.slot(e.id))
        if isinstance(e, ast.UnaryOp):
            operand = self.expr(e.operand)
            if isinstance(e.op, ast.UAdd):
                return operand
            return ir.Apply(PY_OPERATOR[type(e.op)], (operand,))
        if isinstance(e, ast.BinOp):
            return ir.Apply(PY_OPERATOR[type(e.op)], (self.expr(e.left), self.expr(e.right)))
        if isinstance(e, ast.BoolOp):
            return self.fold_left(PY_OPERATOR[type(e.op)], [self.expr(v) for v in e.values])
        if isinstance(e, ast.Compare):
            operands = [self.expr(e.left)] + [self.expr(c) for c in e.comparators]
            links = [ir.Apply(PY_OPERATOR[type(op)], (operands[i], operands[i + 1]))
                     for i, op in enumerate(e.ops)]
            return self.fold_left(OP["and"], links)
        if isinstance(e, ast.IfExp):
            return ir.Apply(SELECT, (self.expr(e.body), self.expr(e.orelse),
                                           self.expr(e.test)))
        if isinstance(e, ast.Call):
            args = [self.expr(a) for a in e.args]
            if e.func.id in PY_CONVERSION:
                (value,) = args
                for op in PY_CONVERSION[e.func.id]:
                    value = ir.Apply(op, (value,))
                return value
            op = PY_BUILTIN[e.func.id]
            return ir.Apply(op, tuple(args)) if len(args) == 1 else self.fold_left(op, args)
        raise AssertionError(f"unchecked expression {type(e).__name__}")  # frontend rejects it

    @staticmethod
    def fold_left(op: int, args: list[ir.Expr]) -> ir.Expr:
        acc = args[0]
        for arg in args[1:]:
            acc = ir.Apply(op, (acc, arg))
        return acc
