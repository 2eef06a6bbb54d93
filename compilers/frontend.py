"""Front end: Python source text -> a checked function in the kiln subset.

``parse_function`` accepts exactly the language of ``docs/language.md`` and raises
``CompileError`` (line, column, message) for anything else, including text that is not Python at
all. It does no evaluation: the reference interpreter and the traditional compiler both walk the
checked ``ast`` it returns, each implementing the semantics on its own.

Variables get slots in order of first appearance in the text, parameters first; the token form
of the source (``compilers.tokens``) numbers names the same way.
"""
from __future__ import annotations

import ast
import sys
import warnings
from dataclasses import dataclass

from .isa import MAX_LOCALS, MAX_PARAMS, wrap

# Builtin functions and their arities (None: two or more).
BUILTINS: dict[str, int | None] = {
    "abs": 1, "min": None, "max": None,
    "lshr": 2, "ult": 2, "ule": 2, "ugt": 2, "uge": 2, "udiv": 2, "urem": 2,
    "int": 1, "bool": 1,  # int(x) is x; bool(x) is 1 if x else 0 (as `not not x`)
}
BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.LShift, ast.RShift,
          ast.BitAnd, ast.BitOr, ast.BitXor)
CMPOPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
MAX_AST_DEPTH = 400     # nesting of expressions and statements
MAX_SOURCE_CHARS = 2_000_000
_RECURSION_LIMIT = 20_000


class CompileError(Exception):
    """A source outside the kiln language: 1-based ``lineno`` and ``col`` (0 when unknown)."""

    def __init__(self, message: str, lineno: int = 0, col: int = 0):
        self.msg = message
        self.lineno = lineno
        self.col = col
        where = f"line {lineno}, column {col}: " if lineno else ""
        super().__init__(where + message)


def _err(node: ast.AST | None, message: str) -> CompileError:
    if node is None or not hasattr(node, "lineno"):
        return CompileError(message)
    return CompileError(message, node.lineno, node.col_offset + 1)


@dataclass(frozen=True)
class Function:
    """A checked kiln function: its AST and its variables in slot order."""

    name: str
    params: tuple[str, ...]
    names: tuple[str, ...]          # every variable, parameters first, then by first appearance
    body: tuple[ast.stmt, ...]
    source: str

    @property
    def nparams(self) -> int:
        return len(self.params)

    def slot(self, name: str) -> int:
        return self.names.index(name)


class deep_recursion:
    """Context manager raising the recursion limit for walkers over deep (bounded) ASTs."""

    def __enter__(self):
        self.old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(self.old, _RECURSION_LIMIT))

    def __exit__(self, *exc):
        sys.setrecursionlimit(self.old)


def parse_function(source: str) -> Function:
    """Parse and check ``source``; raise CompileError for anything outside the language."""
    if not isinstance(source, str):
        raise CompileError(f"source must be a str, got {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise CompileError(f"source longer than {MAX_SOURCE_CHARS} characters")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning for odd escapes
            tree = ast.parse(source)
    except SyntaxError as exc:
        raise CompileError(f"not valid Python: {exc.msg}", exc.lineno or 0,
                           exc.offset or 0) from None
    except (RecursionError, MemoryError):
        raise CompileError(f"source nested more than {MAX_AST_DEPTH} levels deep",
                           *_busiest_line(source)) from None
    except ValueError as exc:  # null bytes, integer literals of over 4300 digits
        raise CompileError(f"not valid Python: {exc}") from None
    try:
        _check_depth(tree)
        with deep_recursion():
            return _Checker(source).module(tree)
    except CompileError as exc:
        raise _in_characters(exc, source) from None


def _busiest_line(source: str) -> tuple[int, int]:
    """``(lineno, col)`` of the start of the logical line with the most tokens: where a
    construct too deep for Python's own parser is (its parser fails without a position)."""
    import io
    import tokenize

    counts: dict[tuple[int, int], int] = {}
    start = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.NEWLINE, tokenize.NL):
                start = None
            elif tok.type not in (tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT):
                start = start or (tok.start[0], tok.start[1] + 1)
                counts[start] = counts.get(start, 0) + 1
    except (tokenize.TokenError, SyntaxError):
        pass
    return max(counts, key=counts.get) if counts else (0, 0)


def _in_characters(exc: CompileError, source: str) -> CompileError:
    """``exc`` with its column counted in characters: ``ast`` counts UTF-8 bytes, so a line
    with ``é`` before the error would report a column past the character."""
    lines = source.splitlines()
    if not exc.col or not 1 <= exc.lineno <= len(lines):
        return exc
    prefix = lines[exc.lineno - 1].encode("utf-8")[:exc.col - 1]
    col = len(prefix.decode("utf-8", errors="ignore")) + 1
    return exc if col == exc.col else CompileError(exc.msg, exc.lineno, col)


def chain_levels(node: ast.AST) -> int:
    """Levels a node's children sit below it: 1, or ``n`` for a flat chain of ``n`` operands
    (``and``/``or``, chained comparisons, ``min``/``max`` arguments), which compiles as ``n - 1``
    nested binary operations and so counts as nested that deep."""
    if isinstance(node, ast.BoolOp):
        return max(1, len(node.values))
    if isinstance(node, ast.Compare):
        return max(1, len(node.comparators) + 1)
    if isinstance(node, ast.Call):
        return max(1, len(node.args))
    return 1


def _check_depth(tree: ast.AST) -> None:
    """Reject trees nested beyond MAX_AST_DEPTH (flat chains counted as nested: see
    ``chain_levels``) before any recursive walk sees them. The error points at the innermost
    construct with a position on the path that crossed the limit."""
    stack = [(tree, 0, None)]
    while stack:
        node, depth, where = stack.pop()
        where = node if hasattr(node, "lineno") else where
        if depth > MAX_AST_DEPTH:
            raise _err(where, f"nested more than {MAX_AST_DEPTH} levels deep (a chain of n "
                              f"operands of and/or, comparisons or min/max counts n levels)")
        below = depth + chain_levels(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(node, ast.Call) and child is node.func:
                stack.append((child, depth + 1, where))
            else:
                stack.append((child, below, where))


def literal_value(node: ast.expr) -> int | None:
    """The int32 value of an int/bool literal node, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (bool, int)):
        return wrap(int(node.value))
    return None


def range_step(node: ast.Call) -> int | None:
    """The constant step of a ``range(...)`` call (None if the step is not a constant)."""
    if len(node.args) < 3:
        return 1
    step = node.args[2]
    if isinstance(step, ast.UnaryOp) and isinstance(step.op, (ast.USub, ast.UAdd)):
        value = literal_value(step.operand)
        if value is None or isinstance(step.op, ast.UAdd):
            return value
        return wrap(-value)
    return literal_value(step)


_ALL = None  # the assigned set after a statement that never falls through


def _meet(a: frozenset | None, b: frozenset | None) -> frozenset | None:
    if a is _ALL:
        return b
    if b is _ALL:
        return a
    return a & b


class _Checker:
    """Checks the subset and definite assignment; collects variables."""

    def __init__(self, source: str):
        self.source = source
        self.variables: set[str] = set()
        self.loop_depth = 0

    def module(self, tree: ast.Module) -> Function:
        body = list(tree.body)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]  # module docstring
        funcs = [s for s in body if isinstance(s, ast.FunctionDef)]
        if not funcs:
            raise _err(body[0] if body else None, "expected one `def` function")
        for stmt in body:
            if not isinstance(stmt, ast.FunctionDef):
                raise _err(stmt, f"only one `def` is allowed at top level, found "
                                 f"{type(stmt).__name__}")
        if len(funcs) > 1:
            raise _err(funcs[1], "only one function per compilation unit")
        return self.function(funcs[0])

    def function(self, fn: ast.FunctionDef) -> Function:
        a = fn.args
        if fn.decorator_list:
            raise _err(fn.decorator_list[0], "decorators are not supported")
        if getattr(fn, "type_params", None):
            raise _err(fn, "type parameters are not supported")
        if a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg or a.defaults or a.kw_defaults:
            raise _err(fn, "only plain positional parameters are supported")
        if len(a.args) > MAX_PARAMS:
            raise _err(a.args[MAX_PARAMS], f"at most {MAX_PARAMS} parameters are supported")
        params = []
        for arg in a.args:
            self._annotation(arg.annotation)
            if arg.arg in BUILTINS or arg.arg == "range":
                raise _err(arg, f"parameter may not be named after builtin {arg.arg!r}")
            if arg.arg in params:
                raise _err(arg, f"duplicate parameter {arg.arg!r}")
            params.append(arg.arg)
        self._annotation(fn.returns)
        body = list(fn.body)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:] or [ast.Pass()]  # docstring
        self.variables.update(params)
        for stmt in body:  # every assigned name is a variable, wherever it is assigned
            self.variables.update(n.id for n in ast.walk(stmt)
                                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
        self.block(body, frozenset(params))
        names = self._slot_order(params, body)
        if len(names) > MAX_LOCALS:
            raise _err(fn, f"function uses {len(names)} variables; at most {MAX_LOCALS} "
                           f"(parameters included) are supported")
        return Function(fn.name, tuple(params), tuple(names), tuple(body), self.source)

    def _annotation(self, node: ast.expr | None) -> None:
        if node is not None and not (isinstance(node, ast.Name) and node.id == "int"):
            raise _err(node, "the only annotation allowed is `int`")

    def _slot_order(self, params: list[str], body: list[ast.stmt]) -> list[str]:
        seen = {}
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and node.id in self.variables:
                    key = (node.lineno, node.col_offset)
                    if node.id not in seen or key < seen[node.id]:
                        seen[node.id] = key
        rest = sorted((n for n in seen if n not in params), key=lambda n: seen[n])
        return params + rest

    # statements ---------------------------------------------------------------------------

    def block(self, stmts: list[ast.stmt], assigned):
        for stmt in stmts:
            assigned = self.stmt(stmt, assigned)
        return assigned

    def stmt(self, s: ast.stmt, A):
        """Check ``s`` given the definitely-assigned set ``A``; return the set after it."""
        if A is _ALL:  # no path reaches this code: every variable counts as assigned
            A = frozenset(self.variables)
        if isinstance(s, ast.Assign):
            values = s.value.elts if isinstance(s.value, ast.Tuple) else [s.value]
            for value in values:
                self.expr(value, A)
            names = []
            for target in s.targets:
                names.extend(self._targets(target, s.value, len(s.targets)))
            return A | frozenset(names)
        if isinstance(s, ast.AugAssign):
            if not isinstance(s.target, ast.Name):
                raise _err(s.target, "augmented assignment needs a plain variable name")
            if not isinstance(s.op, BINOPS):
                raise _err(s, f"operator {_opname(s.op)}= is not supported")
            self._store(s.target)
            self._read(s.target, A)
            self.expr(s.value, A)
            return A
        if isinstance(s, ast.If):
            self.expr(s.test, A)
            return _meet(self.block(s.body, A), self.block(s.orelse, A))
        if isinstance(s, ast.While):
            if s.orelse:
                raise _err(s.orelse[0], "while ... else is not supported")
            self.expr(s.test, A)
            self._loop_body(s.body, A)
            return A
        if isinstance(s, ast.For):
            return self._for(s, A)
        if isinstance(s, (ast.Break, ast.Continue)):
            if self.loop_depth == 0:
                raise _err(s, f"`{type(s).__name__.lower()}` outside a loop")
            return _ALL
        if isinstance(s, ast.Return):
            if s.value is not None:
                self.expr(s.value, A)
            return _ALL
        if isinstance(s, ast.Pass):
            return A
        if isinstance(s, ast.Expr):
            raise _err(s, "an expression on its own has no effect; assign or return it")
        raise _err(s, f"{_stmt_name(s)} statements are not supported")

    def _targets(self, target: ast.expr, value: ast.expr, ntargets: int) -> list[str]:
        if isinstance(target, ast.Name):
            if isinstance(value, ast.Tuple):
                raise _err(value, "a tuple can only be assigned to a tuple of names")
            self._store(target)
            return [target.id]
        if isinstance(target, ast.Tuple) and ntargets == 1:
            if not isinstance(value, ast.Tuple) or len(value.elts) != len(target.elts):
                raise _err(value, "tuple assignment needs a tuple of the same length on the right")
            names = []
            for elt in target.elts:
                if not isinstance(elt, ast.Name):
                    raise _err(elt, "tuple assignment targets must be plain names")
                if elt.id in names:
                    raise _err(elt, f"{elt.id!r} is assigned twice in one tuple assignment")
                self._store(elt)
                names.append(elt.id)
            return names
        raise _err(target, "assignment target must be a name (or a tuple of names)")

    def _store(self, name: ast.Name) -> None:
        if name.id in BUILTINS or name.id == "range":
            raise _err(name, f"cannot assign to builtin {name.id!r}")

    def _loop_body(self, body: list[ast.stmt], A) -> None:
        self.loop_depth += 1
        self.block(body, A)
        self.loop_depth -= 1

    def _for(self, s: ast.For, A):
        if s.orelse:
            raise _err(s.orelse[0], "for ... else is not supported")
        if not isinstance(s.target, ast.Name):
            raise _err(s.target, "for loop target must be a plain name")
        it = s.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                and it.func.id == "range"):
            raise _err(it, "for loops must iterate over range(...)")
        if it.keywords or not 1 <= len(it.args) <= 3:
            raise _err(it, "range takes 1 to 3 positional arguments")
        for arg in it.args:
            if isinstance(arg, ast.Starred):
                raise _err(arg, "starred arguments are not supported")
        if len(it.args) == 3 and not range_step(it):
            raise _err(it.args[2], "range step must be a nonzero integer constant")
        for arg in it.args[:2]:
            self.expr(arg, A)
        self._store(s.target)
        self._loop_body(s.body, A | {s.target.id})
        return A

    # expressions --------------------------------------------------------------------------

    def _read(self, node: ast.Name, A) -> None:
        if node.id not in self.variables and node.id not in A:
            if node.id in BUILTINS or node.id == "range":
                raise _err(node, f"builtin {node.id!r} can only be called")
            raise _err(node, f"name {node.id!r} is not defined")
        if node.id not in A:
            raise _err(node, f"variable {node.id!r} may be read before it is assigned")

    def expr(self, e: ast.expr, A) -> None:
        if isinstance(e, ast.Constant):
            if not isinstance(e.value, (bool, int)):
                raise _err(e, f"only int literals are supported, not {type(e.value).__name__}")
        elif isinstance(e, ast.Name):
            if not isinstance(e.ctx, ast.Load):
                raise _err(e, "unexpected assignment target")
            self._read(e, A)
        elif isinstance(e, ast.UnaryOp):
            self.expr(e.operand, A)
        elif isinstance(e, ast.BinOp):
            if not isinstance(e.op, BINOPS):
                hint = " (use // for integer division)" if isinstance(e.op, ast.Div) else ""
                raise _err(e, f"operator {_opname(e.op)} is not supported{hint}")
            self.expr(e.left, A)
            self.expr(e.right, A)
        elif isinstance(e, ast.BoolOp):
            for v in e.values:
                self.expr(v, A)
        elif isinstance(e, ast.Compare):
            for op in e.ops:
                if not isinstance(op, CMPOPS):
                    raise _err(e, f"comparison {_opname(op)} is not supported")
            self.expr(e.left, A)
            for c in e.comparators:
                self.expr(c, A)
        elif isinstance(e, ast.IfExp):
            self.expr(e.test, A)
            self.expr(e.body, A)
            self.expr(e.orelse, A)
        elif isinstance(e, ast.Call):
            self._call(e, A)
        else:
            raise _err(e, f"{_expr_name(e)} expressions are not supported")

    def _call(self, e: ast.Call, A) -> None:
        if not isinstance(e.func, ast.Name) or e.func.id not in BUILTINS:
            what = e.func.id if isinstance(e.func, ast.Name) else "this expression"
            raise _err(e, f"cannot call {what!r}; callable builtins are "
                          + ", ".join(sorted(BUILTINS)))
        if e.keywords:
            raise _err(e, "keyword arguments are not supported")
        arity = BUILTINS[e.func.id]
        n = len(e.args)
        if (arity is None and n < 2) or (arity is not None and n != arity):
            want = "at least 2" if arity is None else str(arity)
            raise _err(e, f"{e.func.id}() takes {want} arguments, got {n}")
        for arg in e.args:
            if isinstance(arg, ast.Starred):
                raise _err(arg, "starred arguments are not supported")
            self.expr(arg, A)


_OP_SYMBOLS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|",
    ast.BitXor: "^", ast.MatMult: "@", ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<",
    ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Is: "is", ast.IsNot: "is not",
    ast.In: "in", ast.NotIn: "not in",
}


def _opname(op: ast.AST) -> str:
    return _OP_SYMBOLS.get(type(op), type(op).__name__)


def _stmt_name(s: ast.stmt) -> str:
    return {ast.AnnAssign: "annotated assignment", ast.FunctionDef: "nested def",
            ast.Import: "import", ast.ImportFrom: "import", ast.Global: "global",
            ast.Nonlocal: "nonlocal", ast.Try: "try", ast.With: "with", ast.Raise: "raise",
            ast.Assert: "assert", ast.Delete: "del", ast.ClassDef: "class"}.get(
        type(s), type(s).__name__)


def _expr_name(e: ast.expr) -> str:
    return {ast.Lambda: "lambda", ast.List: "list", ast.Tuple: "tuple", ast.Dict: "dict",
            ast.Set: "set", ast.Subscript: "subscript", ast.Attribute: "attribute",
            ast.JoinedStr: "f-string", ast.NamedExpr: "walrus (:=)", ast.Starred: "starred",
            ast.ListComp: "comprehension", ast.GeneratorExp: "generator"}.get(
        type(e), type(e).__name__)
