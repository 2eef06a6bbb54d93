"""The traditional compiler's pipeline: front end, lowering, IR passes, codegen, code passes.

``-O0`` is the direct translation; ``-O1`` adds the bytecode passes (constant folding, branch
simplification, unreachable-code removal, peephole); ``-O2`` first runs the IR passes of
``ir_passes.O2_PASSES``. Every pass is a named function, and ``compile_function(...,
trace=...)`` hands each intermediate result to a callback, which the tests use to validate the
program after every pass.
"""
from __future__ import annotations

import ast
from typing import Callable

import numpy as np

from .. import frontend
from ..frontend import CompileError
from ..isa import MAX_NEST, MAX_STACK
from ..validate import E_NEST, E_OVERFLOW, ValidationError, validate
from . import code_passes, ir_passes
from .codegen import codegen
from .lower import lower

OPT_LEVELS = (0, 1, 2)
IR_PASSES = {0: (), 1: (), 2: ir_passes.O2_PASSES}
CODE_PASSES = {0: (), 1: code_passes.O1_PASSES, 2: code_passes.O1_PASSES}

Trace = Callable[[str, object], None]


def check_opt(opt: object) -> int:
    """Return ``opt`` if it is a valid optimisation level, else raise ValueError."""
    if isinstance(opt, bool) or not isinstance(opt, (int, np.integer)) or opt not in OPT_LEVELS:
        raise ValueError(f"optimisation level must be one of {OPT_LEVELS}, got {opt!r}")
    return int(opt)


def compile_function(fn: frontend.Function, opt: int, trace: Trace | None = None) -> np.ndarray:
    """Compile a checked function to validated bytecode (int32 array of shape (n, 2))."""
    opt = check_opt(opt)
    with frontend.deep_recursion():
        lowered = _run((lower,), fn, trace)
        lowered = _run(IR_PASSES[opt], lowered, trace)
        code = _run((codegen,), lowered, trace)
    code = _run(CODE_PASSES[opt], code, trace)
    arr = np.array(code, dtype=np.int32).reshape(-1, 2)
    try:
        validate(arr)
    except ValidationError as exc:
        if exc.status == E_OVERFLOW:
            raise CompileError(f"expression too deep: it needs more than {MAX_STACK} operand "
                               f"stack slots", *_position(_deepest_expression(fn))) from None
        if exc.status == E_NEST:
            raise CompileError(f"control flow nested too deeply: more than {MAX_NEST} open "
                               f"blocks (each if takes 1, while 2, for 3)",
                               *_position(_deepest_block(fn))) from None
        raise AssertionError(f"compiler produced invalid code for {fn.name}: {exc}") from exc
    return arr


def _position(node: ast.AST | None) -> tuple[int, int]:
    """``(lineno, col)`` of a node for a CompileError (1-based; 0, 0 when there is none)."""
    if node is None:
        return 0, 0
    return node.lineno, node.col_offset + 1


def _deepest_block(fn: frontend.Function) -> ast.stmt | None:
    """The first statement whose blocks (if 1, while 2, for 3, as the error says) nest beyond
    ``MAX_NEST``, else the deepest (where the code's own blocks crossed the limit)."""
    cost = {ast.If: 1, ast.While: 2, ast.For: 3}
    best, best_depth = None, -1
    stack = [(stmt, 0) for stmt in reversed(fn.body)]
    while stack:
        stmt, depth = stack.pop()
        depth += cost.get(type(stmt), 0)
        if depth > MAX_NEST:
            return stmt  # the first, in source order, to cross the limit
        if depth > best_depth:
            best, best_depth = stmt, depth
        children = getattr(stmt, "body", []) + getattr(stmt, "orelse", [])
        stack.extend((child, depth) for child in reversed(children))
    return best


def _deepest_expression(fn: frontend.Function) -> ast.expr | None:
    """The expression that needs the most operand stack slots (an operand evaluated while
    ``k`` values wait needs ``k`` more): where the stack limit was crossed."""
    best, best_need = None, -1
    stack: list[tuple[ast.AST, int]] = [(stmt, 0) for stmt in fn.body]
    while stack:
        node, waiting = stack.pop()
        if isinstance(node, ast.expr) and waiting > best_need:
            best, best_need = node, waiting
        operands = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)]
        for i, child in enumerate(operands):
            stack.append((child, waiting + i if isinstance(node, ast.expr) else waiting))
        stack.extend((c, 0) for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt))
    return best


def _run(steps, value, trace: Trace | None):
    """Apply each step in order, handing every result to ``trace`` under the step's name."""
    for step in steps:
        value = step(value)
        if trace:
            trace(step.__name__, value)
    return value


def compile_source(source: str, opt: int = 1) -> tuple[frontend.Function, np.ndarray]:
    """Parse, check and compile source text."""
    check_opt(opt)
    fn = frontend.parse_function(source)
    try:
        return fn, compile_function(fn, opt)
    except RecursionError:  # the front end's depth limit should make this unreachable
        raise CompileError(f"program nested too deeply to compile (at most "
                           f"{frontend.MAX_AST_DEPTH} levels)") from None
