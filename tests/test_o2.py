"""-O2 IR passes: differential fuzzing against the reference interpreter, validity after every
pass, golden files per pass, and one example per rewrite rule.

Fuzzing is seeded: ``KILN_O2_SEED`` (first seed, default 0) and ``KILN_O2_PROGRAMS`` (how many)
pick the programs, and every failure names the seed that reproduces it. ``KILN_UPDATE_GOLDEN=1``
rewrites the golden files in ``tests/golden/o2/`` instead of comparing them.
"""
from __future__ import annotations

import itertools
import os
import random
import re
from pathlib import Path

import pytest

from kiln.compilers import frontend
from kiln.compilers.asm import disassemble
from kiln.compilers.interpreter import interpret
from kiln.compilers.isa import INT32_MAX, INT32_MIN, MAX_LOCALS, OP, OPS, PURE_OPS, evaluate
from kiln.compilers.programs import generator
from kiln.compilers.programs.suite import load_suite
from kiln.compilers.traditional import ir, ir_passes, pipeline
from kiln.compilers.traditional.codegen import codegen
from kiln.compilers.traditional.ir import Apply, Const, Local
from kiln.compilers.traditional.ir_rewrite import FULL, REDUCE, SIMPLIFY
from kiln.compilers.traditional.ir_tools import expr_cost, stack_depth
from kiln.compilers.traditional.lower import lower
from kiln.compilers.validate import validate
from kiln.compilers.vm import OK, run_reference

GOLDEN = Path(__file__).parent / "golden" / "o2"
UPDATE = os.environ.get("KILN_UPDATE_GOLDEN") == "1"
FIRST_SEED = int(os.environ.get("KILN_O2_SEED", "0"))
PROGRAMS = int(os.environ.get("KILN_O2_PROGRAMS", "120"))
EDGES = (0, 1, -1, 2, -2, 3, 4, 7, 8, 16, 31, 32, 33, 1 << 30, -(1 << 30), INT32_MAX,
         INT32_MAX - 1, INT32_MIN, INT32_MIN + 1)
PASSES = {p.__name__: p for p in ir_passes.O2_PASSES}


# Running bytecode ---------------------------------------------------------------------------

def run_bytecode(code, row, fuel: int = 200_000) -> tuple[int, int]:
    """(value, cycles) of one run on the reference VM, whose parameters are the whole ``row``."""
    value, status, cycles = run_reference(code, row, len(row), fuel)
    assert status == OK, f"out of fuel after {fuel} instructions on {row}"
    return value, cycles


def input_rows(nparams: int, rng: random.Random, n: int = 10) -> list[list[int]]:
    rows = [[EDGES[(i + 3 * j) % len(EDGES)] for j in range(nparams)] for i in range(n // 2)]
    rows += [[rng.choice(EDGES) if rng.random() < 0.3 else rng.randint(-40, 40)
              if rng.random() < 0.5 else rng.randint(INT32_MIN, INT32_MAX)
              for _ in range(nparams)] for _ in range(n - len(rows))]
    return rows


def check_o2(source: str, rows, what: str) -> None:
    """Compile at -O2, checking after every pass that the code is valid and computes what the
    reference interpreter computes on ``rows``; ``what`` says how to reproduce a failure."""
    expected = [int(v) for v in interpret(source, rows)]

    def check(stage: str, result) -> None:
        code = codegen(result) if isinstance(result, ir.Function) else result
        validate(code)
        got = [run_bytecode(code, row)[0] for row in rows]
        if got != expected:
            bad = next(i for i, (g, e) in enumerate(zip(got, expected)) if g != e)
            shown = ir.format_function(result) if isinstance(result, ir.Function) else ""
            pytest.fail(f"{what}: after {stage}, input {rows[bad]} gives {got[bad]}, expected "
                        f"{expected[bad]}\n{source}\n{shown}")

    pipeline.compile_function(frontend.parse_function(source), 2, trace=check)


# A random source generator aimed at the -O2 rules ----------------------------------------

class SourceGen:
    """Random kiln functions that always pass the front end and always terminate: loops run
    over small constant ranges or count a fresh variable up to a small bound. Expressions
    favour edge constants, powers of two, repeated subexpressions and the shapes the rules look
    for; definite assignment is tracked as the front end does, so some variables stay
    unassigned on some paths."""

    BINOPS = ("+", "-", "*", "//", "%", "<<", ">>", "&", "|", "^")
    CMPS = ("<", "<=", ">", ">=", "==", "!=")
    CALLS = ("min", "max", "lshr", "ult", "ule", "ugt", "uge", "udiv", "urem")
    CONSTS = EDGES + (5, 64, 255, -4, -8, -2147483648)

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.lines: list[str] = []
        self.params = [f"p{i}" for i in range(self.rng.randint(1, 3))]
        self.locals = ["x", "y", "z", "w"]
        self.fresh = 0
        self.pool: list[tuple[str, frozenset]] = []  # (expression, names it reads)

    def source(self) -> str:
        readable = frozenset(self.params)
        for name in self.locals:
            if self.rng.random() < 0.6:
                self.emit(1, f"{name} = {self.expr(readable, 2)}")
                readable |= {name}
        readable = self.block(1, readable, in_loop=False, count=self.rng.randint(2, 6))
        if readable is not None:
            self.emit(1, f"return {self.expr(readable, 3)}")
        return f"def f({', '.join(self.params)}):\n" + "\n".join(self.lines) + "\n"

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def const(self) -> str:
        c = self.rng.choice(self.CONSTS)
        return f"({c})" if c < 0 else str(c)

    def expr(self, readable: frozenset, depth: int) -> str:
        rng = self.rng
        usable = [e for e, names in self.pool if names <= readable]
        if usable and rng.random() < 0.15:
            return rng.choice(usable)
        if depth <= 0 or rng.random() < 0.25:
            return rng.choice(sorted(readable)) if rng.random() < 0.6 else self.const()
        sub = lambda: self.expr(readable, depth - 1)  # noqa: E731
        kind = rng.random()
        if kind < 0.35:
            op = rng.choice(self.BINOPS)
            right = self.const() if rng.random() < 0.4 else sub()
            out = f"({sub()} {op} {right})"
        elif kind < 0.45:
            out = f"({sub()} {rng.choice(self.CMPS)} {sub()})"
            if rng.random() < 0.2:
                out = f"({sub()} < {sub()} <= {sub()})"
        elif kind < 0.55:
            out = f"({rng.choice(('-', '~', 'not '))}{sub()})"
        elif kind < 0.62:
            out = f"({sub()} {rng.choice(('and', 'or'))} {sub()})"
        elif kind < 0.72:
            a, b = sub(), sub()
            shape = rng.randrange(4)
            cond = f"{a} {rng.choice(self.CMPS[:4])} {b}" if shape < 2 else sub()
            if shape == 0:
                a, b = rng.sample([a, b], 2)
            elif shape == 1:
                a, b = f"(-{a})", a
            out = f"({a} if {cond} else {b})"
        elif kind < 0.85:
            name = rng.choice(self.CALLS)
            n = rng.choice((2, 3)) if name in ("min", "max") else 2
            args = [sub() for _ in range(n)]
            if name in ("udiv", "urem") and rng.random() < 0.5:
                args[1] = self.const()
            out = f"{name}({', '.join(args)})"
        elif kind < 0.92:
            out = f"abs({sub()})"
        else:
            x = sub()
            out = f"({x} {rng.choice(('-', '^', '==', '&'))} {x})"
        if rng.random() < 0.3:
            self.pool.append((out, frozenset(re.findall(r"[A-Za-z_]\w*", out)) & readable))
        return out

    def target(self) -> str:
        return self.rng.choice(self.locals + self.params)

    def block(self, depth: int, readable: frozenset, in_loop: bool,
              count: int) -> frozenset | None:
        """Emit ``count`` statements; return what is definitely assigned after them (None if
        control never gets past them)."""
        for _ in range(count):
            readable = self.statement(depth, readable, in_loop)
            if readable is None:
                return None
        return readable

    def arm(self, depth: int, readable: frozenset, in_loop: bool) -> frozenset | None:
        start = len(self.lines)
        out = self.block(depth, readable, in_loop, self.rng.randint(1, 2))
        if len(self.lines) == start:
            self.emit(depth, "pass")
        return out

    def statement(self, depth: int, readable: frozenset, in_loop: bool) -> frozenset | None:
        rng = self.rng
        kind = rng.random()
        nested = depth < 3
        if kind < 0.3 or not nested and kind < 0.8:
            t = self.target()
            form = rng.randrange(5)
            if form == 0:
                self.emit(depth, f"{t} {rng.choice(self.BINOPS)}= {self.expr(readable, 2)}"
                          if t in readable else f"{t} = {self.expr(readable, 2)}")
            elif form == 1:
                u = self.target()
                if u == t:
                    self.emit(depth, f"{t} = {rng.choice(sorted(readable))}")
                    return readable | {t}
                self.emit(depth, f"{t}, {u} = {self.expr(readable, 2)}, {self.expr(readable, 2)}")
                return readable | {t, u}
            elif form == 2:
                value = rng.choice(sorted(readable)) if rng.random() < 0.7 else self.const()
                self.emit(depth, f"{t} = {value}")
            elif form == 3:
                u = self.target()
                self.emit(depth, f"{t} = {u} = {self.expr(readable, 2)}")
                return readable | {t, u}
            else:
                self.emit(depth, f"{t} = {self.expr(readable, 3)}")
            return readable | {t}
        if kind < 0.55:
            return self.if_statement(depth, readable, in_loop)
        if kind < 0.7:
            i = f"i{self.fresh}"
            self.fresh += 1
            bounds = rng.choice(["3", "0", "4", "1, 4", "5, 1, -2", "-2, 2", "2, 3"])
            self.emit(depth, f"for {i} in range({bounds}):")
            self.arm(depth + 1, readable | {i}, True)
            return readable
        if kind < 0.8:
            n = f"n{self.fresh}"
            self.fresh += 1
            self.emit(depth, f"{n} = 0")
            cond = f"{n} < {rng.randint(0, 4)}"
            if rng.random() < 0.5:
                cond += f" and {self.expr(readable, 2)}"
            self.emit(depth, f"while {cond}:")
            self.emit(depth + 1, f"{n} += 1")
            self.arm(depth + 1, readable | {n}, True)
            return readable | {n}
        if kind < 0.9 and in_loop:
            self.emit(depth, f"if {self.expr(readable, 2)}:")
            self.emit(depth + 1, rng.choice(("break", "continue")))
            return readable
        if kind < 0.95:
            self.emit(depth, f"if {self.expr(readable, 2)}:")
            self.emit(depth + 1, f"return {self.expr(readable, 2)}")
            return readable
        self.emit(depth, f"return {self.expr(readable, 2)}" if rng.random() < 0.5
                  else "return")
        return None

    def if_statement(self, depth: int, readable: frozenset, in_loop: bool) -> frozenset | None:
        rng = self.rng
        shape = rng.randrange(4)
        t = self.target()
        a = rng.choice(sorted(readable))
        if shape == 0:  # arms assigning one variable: select candidates
            b = self.expr(readable, 1)
            cmp = rng.choice(self.CMPS)
            self.emit(depth, f"if {a} {cmp} {b}:")
            self.emit(depth + 1, f"{t} = {rng.choice([a, b, '1', '0', self.expr(readable, 2)])}")
            if rng.random() < 0.7 or t not in readable:
                self.emit(depth, "else:")
                self.emit(depth + 1, f"{t} = {rng.choice([a, b, '0', self.expr(readable, 2)])}")
                return readable | {t}
            return readable
        if shape == 1 and a in self.locals + self.params:  # `if a < 0: a = -a`, `if c: a += 1`
            self.emit(depth, f"if {rng.choice([f'{a} < 0', f'{a} > 0', self.expr(readable, 1)])}:")
            self.emit(depth + 1, rng.choice([f"{a} = -{a}", f"{a} += 1", f"{a} -= 1",
                                              f"{a} |= 1", f"{a} = {a} << 1"]))
            return readable
        self.emit(depth, f"if {self.expr(readable, 2)}:")
        then = self.arm(depth + 1, readable, in_loop)
        if rng.random() < 0.3:
            self.emit(depth, f"elif {self.expr(readable, 2)}:")
            elif_ = self.arm(depth + 1, readable, in_loop)
            then = elif_ if then is None else then if elif_ is None else then & elif_
        if rng.random() < 0.6:
            self.emit(depth, "else:")
            orelse = self.arm(depth + 1, readable, in_loop)
        else:
            orelse = readable
        if then is None:
            return orelse
        return then if orelse is None else then & orelse


def fuzz_seeds() -> range:
    return range(FIRST_SEED, FIRST_SEED + PROGRAMS)


def test_source_generator_is_valid_and_varied():
    sources = [SourceGen(seed).source() for seed in fuzz_seeds()]
    for seed, src in zip(fuzz_seeds(), sources):
        frontend.parse_function(src)  # raises CompileError with the seed's source
    assert len(set(sources)) == len(sources)


def test_random_programs_match_the_interpreter_after_every_pass():
    for seed in fuzz_seeds():
        src = SourceGen(seed).source()
        rows = input_rows(len(frontend.parse_function(src).params), random.Random(seed))
        check_o2(src, rows, f"seed {seed} (KILN_O2_SEED={seed} KILN_O2_PROGRAMS=1)")


def test_project_generator_programs_match_the_interpreter():
    seed = 1000 + FIRST_SEED
    for index, src in enumerate(generator.generate_sources(PROGRAMS // 2, seed)):
        rows = input_rows(len(frontend.parse_function(src).params), random.Random(index))
        check_o2(src, rows, f"generate_sources(n, seed={seed}) program {index}")


def test_suite_matches_the_interpreter_and_o2_is_no_slower_than_o1():
    cycles = {1: 0, 2: 0}
    for prog in load_suite():
        rows = input_rows(prog.nparams, random.Random(prog.name), n=4)
        expected = [int(v) for v in interpret(prog.source, rows)]
        for opt in (1, 2):
            _, code = pipeline.compile_source(prog.source, opt)
            runs = [run_bytecode(code, row, fuel=2_000_000) for row in rows]
            assert [v for v, _ in runs] == expected, f"suite program {prog.name} at -O{opt}"
            cycles[opt] += sum(c for _, c in runs)
    assert cycles[2] < cycles[1]


# Expression rules: exactness and cost on random trees --------------------------------------

def random_expr(rng: random.Random, depth: int) -> ir.Expr:
    if depth == 0 or rng.random() < 0.25:
        return Const(rng.choice(EDGES)) if rng.random() < 0.5 else Local(rng.randrange(3))
    op = rng.choice(PURE_OPS)
    if op.pops == 2 and rng.random() < 0.2:
        x = random_expr(rng, depth - 1)
        return Apply(op.code, (x, x))
    if op.name == "select" and rng.random() < 0.4:
        a, b = random_expr(rng, depth - 1), random_expr(rng, depth - 1)
        cmp = OP[rng.choice(["lt", "le", "gt", "ge"])]
        cond = Apply(cmp, (rng.choice([a, b]), rng.choice([a, b, Const(0)])))
        arms = rng.choice([(a, b), (Apply(OP["neg"], (a,)), a), (a, Const(0)),
                           (Apply(OP["add"], (a, Const(1))), a)])
        return Apply(op.code, (*arms, cond))
    return Apply(op.code, tuple(random_expr(rng, depth - 1) for _ in range(op.pops)))


def eval_expr(e: ir.Expr, env) -> int:
    if isinstance(e, Const):
        return e.value
    if isinstance(e, Local):
        return env[e.slot]
    return evaluate(e.op, *(eval_expr(a, env) for a in e.args))


@pytest.mark.parametrize("rewriter", [SIMPLIFY, REDUCE, FULL], ids=["algebra", "strength", "all"])
def test_expression_rules_are_exact_never_costlier_nor_deeper(rewriter):
    rng = random.Random(FIRST_SEED)
    envs = [list(t) for t in itertools.product(EDGES[:8], EDGES[-6:], (0, -1, INT32_MIN))]
    for i in range(1500):
        e = random_expr(rng, 4)
        out = rewriter.expr(e)
        assert expr_cost(out) <= expr_cost(e), (i, e, out)
        assert stack_depth(out) <= stack_depth(e), (i, e, out)
        for env in rng.sample(envs, 12) + [[rng.randint(INT32_MIN, INT32_MAX)] * 3]:
            assert eval_expr(out, env) == eval_expr(e, env), (f"tree {i} of seed {FIRST_SEED}",
                                                              env, e, out)


# One example per rule ---------------------------------------------------------------------

def after(pass_name: str, source: str) -> ir.Function:
    return PASSES[pass_name](lower(frontend.parse_function(source)))


def returned(pass_name: str, expr_source: str) -> str:
    fn = after(pass_name, f"def f(x, y):\n    return {expr_source}\n")
    assert len(fn.body) == 1 and isinstance(fn.body[0], ir.Return)
    return ir.format_expr(fn.body[0].value, fn.names)


GRID = [list(r) for r in itertools.product(EDGES, (0, 1, -1, 5, 8, INT32_MIN, INT32_MAX))]

EXPRESSION_RULES = [
    # constant folding (x // 0 == 0, x % 0 == x, wrapping)
    ("fold_constants", "2 + 3 * 4", "14"),
    ("fold_constants", "7 // 0 + (7 % 0)", "7"),
    ("fold_constants", "2147483647 + 1", "-2147483648"),
    ("fold_constants", "(-2147483648) // -1", "-2147483648"),
    ("fold_constants", "1 << 33", "2"),
    ("fold_constants", "x + (2 * 3)", "add(x, 6)"),
    # algebraic identities
    ("simplify_algebra", "x + 0", "x"),
    ("simplify_algebra", "0 + x", "x"),
    ("simplify_algebra", "x - 0", "x"),
    ("simplify_algebra", "x * 1", "x"),
    ("simplify_algebra", "x * 0", "0"),
    ("simplify_algebra", "(x + y) * 0", "0"),
    ("simplify_algebra", "x & 0", "0"),
    ("simplify_algebra", "x | 0", "x"),
    ("simplify_algebra", "x ^ 0", "x"),
    ("simplify_algebra", "x & -1", "x"),
    ("simplify_algebra", "x | -1", "-1"),
    ("simplify_algebra", "x ^ -1", "not(x)"),
    ("simplify_algebra", "x - x", "0"),
    ("simplify_algebra", "x ^ x", "0"),
    ("simplify_algebra", "x == x", "1"),
    ("simplify_algebra", "x < x", "0"),
    ("simplify_algebra", "x % x", "0"),
    ("simplify_algebra", "-(-x)", "x"),
    ("simplify_algebra", "~~x", "x"),
    ("simplify_algebra", "not not not x", "eqz(x)"),
    ("simplify_algebra", "not not (x < y)", "lt(x, y)"),
    ("simplify_algebra", "not (x < y)", "ge(x, y)"),
    ("simplify_algebra", "-(x - y)", "sub(y, x)"),
    ("simplify_algebra", "abs(-x)", "abs(x)"),
    ("simplify_algebra", "abs(abs(x))", "abs(x)"),
    ("simplify_algebra", "y if 1 else x", "y"),
    ("simplify_algebra", "y if 0 else x", "x"),
    ("simplify_algebra", "x if y else x", "x"),
    ("simplify_algebra", "x if not y else 5", "select(5, x, y)"),
    ("simplify_algebra", "1 if x < y else 0", "lt(x, y)"),
    ("simplify_algebra", "0 if x else 1", "eqz(x)"),
    ("simplify_algebra", "x if y > 3 else 0", "and(x, neg(gt(y, 3)))"),
    ("simplify_algebra", "x + 1 if y < 3 else x", "add(x, lt(y, 3))"),
    ("simplify_algebra", "x if y < 3 else x - 1", "sub(x, ge(y, 3))"),
    ("simplify_algebra", "x if x < y else y", "min(x, y)"),
    ("simplify_algebra", "y if x <= y else x", "max(y, x)"),
    ("simplify_algebra", "-x if x < 0 else x", "abs(x)"),
    ("simplify_algebra", "x if x >= 0 else -x", "abs(x)"),
    ("simplify_algebra", "1 and x", "x"),
    ("simplify_algebra", "0 and x", "0"),
    ("simplify_algebra", "0 or x", "x"),
    ("simplify_algebra", "5 or x", "5"),
    ("simplify_algebra", "x and 0", "0"),
    ("simplify_algebra", "x or 0", "x"),
    ("simplify_algebra", "x < 1 and y > 2", "and(lt(x, 1), gt(y, 2))"),
    ("simplify_algebra", "x << 0", "x"),
    ("simplify_algebra", "x >> 32", "x"),
    ("simplify_algebra", "lshr(x, 64)", "x"),
    ("simplify_algebra", "(x << 3) << 4", "shl(x, 7)"),
    ("simplify_algebra", "(x << 30) << 2", "0"),
    ("simplify_algebra", "(x >> 30) >> 5", "shr(x, 31)"),
    ("simplify_algebra", "0 << x", "0"),
    ("simplify_algebra", "-1 >> x", "-1"),
    ("simplify_algebra", "0 - x", "neg(x)"),
    ("simplify_algebra", "min(x, x)", "x"),
    ("simplify_algebra", "max(x, x, x)", "x"),
    ("simplify_algebra", "min(x, 2147483647)", "x"),
    ("simplify_algebra", "max(x, -2147483648)", "x"),
    ("simplify_algebra", "min(x, -2147483648)", "-2147483648"),
    ("simplify_algebra", "max(x, 2147483647)", "2147483647"),
    ("simplify_algebra", "x if y != 0 else 5", "select(x, 5, y)"),
    ("simplify_algebra", "x if x > 0 else -x", "abs(x)"),
    ("simplify_algebra", "x if y > 0 else x << 1", "shl(x, le(y, 0))"),
    ("simplify_algebra", "3 + x", "add(x, 3)"),
    ("simplify_algebra", "3 * (x + y)", "mul(add(x, y), 3)"),
    ("simplify_algebra", "3 < x", "gt(x, 3)"),
    ("simplify_algebra", "ult(3, x)", "ugt(x, 3)"),
    ("simplify_algebra", "x - 5", "add(x, -5)"),
    ("simplify_algebra", "x - (-2147483648)", "add(x, -2147483648)"),
    ("simplify_algebra", "(x + 1) + 2", "add(x, 3)"),
    ("simplify_algebra", "(x - 1) - 2147483647", "add(x, -2147483648)"),
    ("simplify_algebra", "(x * 3) * 5", "mul(x, 15)"),
    ("simplify_algebra", "(x & 12) & 10", "and(x, 8)"),
    ("simplify_algebra", "(x ^ 5) ^ 5", "x"),
    ("simplify_algebra", "min(min(x, 5), 3)", "min(x, 3)"),
    ("simplify_algebra", "x // 1", "x"),
    ("simplify_algebra", "x // 0", "0"),
    ("simplify_algebra", "x // -1", "neg(x)"),
    ("simplify_algebra", "x % 1", "0"),
    ("simplify_algebra", "x % -1", "0"),
    ("simplify_algebra", "x % 0", "x"),
    ("simplify_algebra", "udiv(x, 1)", "x"),
    ("simplify_algebra", "urem(x, 1)", "0"),
    ("simplify_algebra", "0 // x", "0"),
    ("simplify_algebra", "x == 0", "eqz(x)"),
    ("simplify_algebra", "(x < y) != 0", "lt(x, y)"),
    ("simplify_algebra", "(x < y) == 0", "ge(x, y)"),
    ("simplify_algebra", "(x < y) == 1", "lt(x, y)"),
    ("simplify_algebra", "x < -2147483648", "0"),
    ("simplify_algebra", "x <= 2147483647", "1"),
    ("simplify_algebra", "ult(x, 0)", "0"),
    ("simplify_algebra", "uge(x, 0)", "1"),
    ("simplify_algebra", "ugt(x, 0)", "ne(x, 0)"),
    ("simplify_algebra", "ule(x, 0)", "eqz(x)"),
    ("simplify_algebra", "ugt(x, -1)", "0"),
    # strength reduction
    ("reduce_strength", "x * 8", "shl(x, 3)"),
    ("reduce_strength", "x * 2", "shl(x, 1)"),
    ("reduce_strength", "x * -2147483648", "shl(x, 31)"),
    ("reduce_strength", "x * -1", "neg(x)"),
    ("reduce_strength", "x * -4", "neg(shl(x, 2))"),
    ("reduce_strength", "x * 3", "mul(x, 3)"),
    ("reduce_strength", "x // 4", "shr(x, 2)"),
    ("reduce_strength", "x // 1073741824", "shr(x, 30)"),
    ("reduce_strength", "x // -4", "div(x, -4)"),
    ("reduce_strength", "x // -2147483648", "div(x, -2147483648)"),
    ("reduce_strength", "x % 16", "and(x, 15)"),
    ("reduce_strength", "x % -16", "mod(x, -16)"),
    ("reduce_strength", "udiv(x, 8)", "lshr(x, 3)"),
    ("reduce_strength", "udiv(x, -2147483648)", "lshr(x, 31)"),
    ("reduce_strength", "urem(x, 8)", "and(x, 7)"),
    ("reduce_strength", "urem(x, -2147483648)", "and(x, 2147483647)"),
    ("reduce_strength", "x * y + x * y", "shl(mul(x, y), 1)"),
    ("reduce_strength", "x + x", "add(x, x)"),
]


@pytest.mark.parametrize("pass_name,source,expected", EXPRESSION_RULES,
                         ids=[f"{p}:{s}" for p, s, _ in EXPRESSION_RULES])
def test_expression_rule(pass_name, source, expected):
    assert returned(pass_name, source) == expected
    src = f"def f(x, y):\n    return {source}\n"
    before = codegen(lower(frontend.parse_function(src)))
    rewritten = codegen(after(pass_name, src))
    for row in GRID:
        assert run_bytecode(rewritten, row)[0] == run_bytecode(before, row)[0], row
    assert sum(OPS[op].cost for op, _ in rewritten) <= sum(OPS[op].cost for op, _ in before)


STATEMENT_RULES = [
    ("propagate_copies", """
def f(a, b):
    x = a
    k = 5
    y = x + k
    a = 1
    return y + x
""", """
  x = a
  k = 5
  y = add(a, 5)
  a = 1
  return add(y, x)
"""),
    ("propagate_copies", """
def f(a, b):
    x = a
    if b:
        x = b
    return x + a
""", """
  x = a
  if b
    x = b
  return add(x, a)
"""),
    ("propagate_copies", """
def f(a, b):
    x = a
    c = 0
    while c < 5:
        c += 1
        b += x
    return b + x
""", """
  x = a
  c = 0
  while lt(c, 5)
    c = add(c, 1)
    b = add(b, a)
  return add(b, a)
"""),
    ("propagate_copies", """
def f(a, b):
    x = a
    for i in range(3):
        a = a + x
    return a
""", """
  x = a
  for i in range(0, 3, 1)
    a = add(a, x)
  return a
"""),
    ("propagate_copies", """
def f(a, b):
    x = y = a * b
    return y
""", """
  x = y = mul(a, b)
  return x
"""),
    ("simplify_control_flow", """
def f(a, b):
    if 1:
        a = 2
    else:
        a = 3
    while 0:
        a = 4
    for i in range(5, 2):
        a = 5
    if b:
        pass
    return a
    a = 6
""", """
  a = 2
  return a
"""),
    ("simplify_control_flow", """
def f(a, b):
    while a < b:
        a += 1
        if a:
            continue
        else:
            b += 1
            continue
    if a:
        return 0
    return 0
""", """
  while lt(a, b)
    a = add(a, 1)
    if eqz(a)
      b = add(b, 1)
"""),
    ("simplify_control_flow", """
def f(a, b):
    while True:
        return a
    return b
""", """
  while 1
    return a
"""),
    ("simplify_control_flow", """
def f(a, b):
    if not a:
        b = 1
    else:
        b = 2
    if a != 0:
        b += 1
    return b
""", """
  if a
    b = 2
  else
    b = 1
  if a
    b = add(b, 1)
  return b
"""),
    ("simplify_control_flow", """
def f(a, b):
    if a or 3:
        b += 1
    if (b and 7) != 0:
        a = 2
    while not not (a | 1):
        return a
""", """
  b = add(b, 1)
  if b
    a = 2
  while 1
    return a
"""),
    ("remove_dead_stores", """
def f(a, b):
    x = a * b
    x = a + b
    y = x
    a, b = b, a
    y = y
    return x
""", """
  x = add(a, b)
  return x
"""),
    ("remove_dead_stores", """
def f(a, b):
    s = 0
    t = 5
    while a < b:
        s = s + a
        t = a
        a += 1
    for i in range(3):
        u = i
        b = u
    return s + b
""", """
  s = 0
  while lt(a, b)
    s = add(s, a)
    a = add(a, 1)
  for i in range(0, 3, 1)
    u = i
    b = u
  return add(s, b)
"""),
    ("convert_branches_to_selects", """
def f(a, b):
    if a < b:
        m = a
    else:
        m = b
    if a < 0:
        a = -a
    if b > 3:
        a += 1
    if a > b:
        r = a * b + 7
    else:
        r = 7
    if a % 3 == 0:
        b += 1
    if b == 5:
        return 1
    return 0
""", """
  m = min(a, b)
  a = abs(a)
  if gt(b, 3)
    a = add(a, 1)
  if gt(a, b)
    r = add(mul(a, b), 7)
  else
    r = 7
  if eq(mod(a, 3), 0)
    b = add(b, 1)
  return eq(b, 5)
"""),
    ("read_back_copies", """
def f(a, b):
    x = a
    for i in range(a, b):
        x += i
    y = 7
    return 7 + y + x
""", """
  x = a
  for i in range(x, b, 1)
    x = add(x, i)
  y = 7
  return add(add(y, y), x)
"""),
    ("eliminate_common_subexpressions", """
def f(a, b):
    x = a * b + 1
    y = a * b - 1
    z = (a + b) * (a + b) + (a + b * 3) * (a + b * 3)
    a = x * y
    return a * b + x * y + z
""", """
  %6 = mul(a, b)
  x = add(%6, 1)
  y = sub(%6, 1)
  %5 = add(a, mul(b, 3))
  z = add(mul(add(a, b), add(a, b)), mul(%5, %5))
  a = mul(x, y)
  return add(add(mul(a, b), a), z)
"""),
]


@pytest.mark.parametrize("pass_name,source,expected", STATEMENT_RULES,
                         ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(STATEMENT_RULES)])
def test_statement_rule(pass_name, source, expected):
    fn = after(pass_name, source)
    body = ir.format_function(fn).split("\n", 1)[1]
    assert body == expected.lstrip("\n")
    check_o2_pass(source, PASSES[pass_name])


def check_o2_pass(source: str, p) -> None:
    """Pass ``p`` alone on ``source`` gives valid code that agrees with the interpreter."""
    fn = frontend.parse_function(source)
    rows = [list(r) for r in itertools.product(EDGES[:10], (0, 3, -1, INT32_MIN))]
    rows = [(r * 3)[:fn.nparams] for r in rows]
    code = codegen(p(lower(fn)))
    validate(code)
    expected = [int(v) for v in interpret(source, rows)]
    assert [run_bytecode(code, row)[0] for row in rows] == expected


def test_cse_skips_when_no_temp_slot_is_free():
    names = ", ".join(f"v{i}" for i in range(6))
    body = "".join(f"    u{i} = 0\n" for i in range(MAX_LOCALS - 6))
    src = f"def f({names}):\n{body}    return (v0 * v1) + (v0 * v1) * 3\n"
    fn = after("eliminate_common_subexpressions", src)
    assert "%" not in ir.format_function(fn)


def test_cse_temps_stay_below_for_loop_temps():
    src = "def f(a, b):\n    for i in range(a):\n        b = a * b + (a * b) * 5\n    return b\n"
    fn = after("eliminate_common_subexpressions", src)
    loop = fn.body[0]
    temps = [s.targets[0] for s in loop.body if isinstance(s, ir.Assign)
             and s.targets[0] >= len(fn.names)]
    assert temps and all(len(fn.names) <= t < loop.limit for t in temps)


# Golden files -------------------------------------------------------------------------------

GOLDEN_INPUTS = {
    "fold_constants": """
def f(a, b):
    x = 3 * 7 - 1
    y = a + (1 << 4) // 0 + (17 % 0)
    if 2 < 1:
        y = (-2147483648) // -1
    return x + y + udiv(-1, 2)
""",
    "simplify_algebra": """
def f(a, b):
    x = 0 + a * 1 - 0
    y = (b ^ b) | (a & -1)
    z = a if not (a < b) else b
    w = 1 if a == b else 0
    if not not not a:
        x = (x + 1) + 2
    return x + y + z + w - (3 < a)
""",
    "reduce_strength": """
def f(a, b):
    x = a * 16 + b * -1
    y = a // 8 + b % 32
    z = udiv(a, 4) + urem(b, 64) + a * -8
    return x + y + z + (a * 7) + (a // -2)
""",
    "propagate_copies": """
def f(a, b):
    x = a
    y = 10
    z = x + y
    if b:
        y = 3
        z = z + y
    while z < 100:
        z = z + x
        x = x + 1
    return z + y + x
""",
    "simplify_control_flow": """
def f(a, b):
    if 0:
        a = 1
    if not a:
        b = 2
    else:
        b = 3
    for i in range(3, 3):
        b += i
    while a < b:
        a += 2
        if a == 7:
            continue
        else:
            break
        a = 0
    return b
    return a
""",
    "remove_dead_stores": """
def f(a, b):
    t = a * b
    s = 0
    x = 5
    for i in range(4):
        x = i
        s = s + i
        u = s
    y = a
    y = b
    return s + y
""",
    "convert_branches_to_selects": """
def f(a, b, c):
    if a > b:
        x = a
    else:
        x = b
    if c < 0:
        c = -c
    if a < c:
        c = c - 1
    if b:
        y = a * c
    else:
        y = a + c
    if a >= 0:
        return x + y
    return x - y
""",
    "eliminate_common_subexpressions": """
def f(a, b, c):
    x = (a * b) // c
    y = (a * b) // c + 1
    if x > y:
        c = (a + c) * (a + c)
    z = (a * b) % (a - c)
    return x + y + z + (a - c)
""",
    "read_back_copies": """
def f(a, b):
    x = a
    y = a + 1
    z = 5
    if 5 < b:
        b = 5
    t = x = b
    return b + x + y + z + t
""",
    "O2": """
def f(a, b, n):
    total = 0
    for i in range(n % 8):
        if i * 4 < a:
            total += i * 4
        else:
            total += 0
        if total > b:
            total = b
    k = total
    m = k * 2 + k * 2
    return m - m + k if 1 else a
""",
}


def golden_text(name: str, source: str) -> str:
    fn = lower(frontend.parse_function(source))
    parts = [f"; {name}: lowered IR, then the output", ir.format_function(fn).rstrip()]
    if name == "O2":
        for p in ir_passes.O2_PASSES:
            fn = p(fn)
        _, code = pipeline.compile_source(source, 2)
        parts += ["; after all -O2 IR passes", ir.format_function(fn).rstrip(),
                  "; -O2 bytecode", disassemble(code).rstrip()]
    else:
        parts += [f"; after {name}", ir.format_function(PASSES[name](fn)).rstrip()]
    return "; source\n" + source.strip() + "\n" + "\n".join(parts) + "\n"


@pytest.mark.parametrize("name", sorted(GOLDEN_INPUTS))
def test_golden(name):
    path = GOLDEN / f"{name}.txt"
    text = golden_text(name, GOLDEN_INPUTS[name])
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing {path}; run with KILN_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), f"{path} differs; KILN_UPDATE_GOLDEN=1 regenerates it"
    source = GOLDEN_INPUTS[name]
    rows = input_rows(len(frontend.parse_function(source).params), random.Random(name), n=24)
    check_o2(source, rows, f"golden input {name}")


def test_every_pass_has_a_golden_file():
    assert set(PASSES) <= set(GOLDEN_INPUTS)
