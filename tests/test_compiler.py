"""Differential tests of the traditional compiler: compile(opt).run == interpret, everywhere."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiln
from kiln.compilers import isa
from kiln.compilers.frontend import parse_function
from kiln.compilers.programs.generator import GenConfig, generate_sources
from kiln.compilers.programs.suite import load_suite
from kiln.compilers.traditional.pipeline import compile_function
from kiln.compilers.validate import validate

EDGE = [0, 1, -1, 2, -2, isa.INT32_MIN, isa.INT32_MAX, isa.INT32_MIN + 1, isa.INT32_MAX - 1,
        2**16, 2**30, -(2**30), 31, 32, 33, 7, -7]


def inputs(nparams: int, rng: np.random.Generator, n_random: int = 12) -> np.ndarray:
    """Edge-case rows (each edge value in every column) plus random rows."""
    if nparams == 0:
        return np.zeros((1, 0), dtype=np.int32)
    edge = np.array([[EDGE[(i + 3 * j) % len(EDGE)] for j in range(nparams)]
                     for i in range(len(EDGE))], dtype=np.int64)
    small = rng.integers(-20, 21, size=(n_random // 2, nparams))
    wide = rng.integers(isa.INT32_MIN, isa.INT32_MAX, size=(n_random - n_random // 2, nparams),
                        endpoint=True)
    return np.concatenate([edge, small, wide]).astype(np.int32)


def check_program(source: str, rng: np.random.Generator, context: str) -> None:
    fn = parse_function(source)
    args = inputs(fn.nparams, rng)
    want = kiln.interpret(source, args)
    for opt in isa_levels():
        def trace(name, result, opt=opt):
            if isinstance(result, list):  # bytecode between passes must stay valid
                validate(np.array(result, dtype=np.int32).reshape(-1, 2))
        compile_function(fn, opt, trace=trace)
        got = kiln.compile(source, opt).run(args)
        bad = np.flatnonzero(got != want)
        assert not len(bad), (f"{context} -O{opt}: args {args[bad[0]].tolist()} gave "
                              f"{got[bad[0]]}, interpreter says {want[bad[0]]}\n{source}")


def isa_levels():
    return (0, 1, 2)


@settings(max_examples=60, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1))
def test_generated_programs_agree_with_interpreter(seed):
    rng = np.random.default_rng(seed)
    for i, source in enumerate(generate_sources(30, seed, GenConfig())):
        check_program(source, rng, f"generator seed {seed} program {i}")


@pytest.mark.parametrize("program", load_suite(), ids=lambda p: p.name)
def test_suite_agrees_with_interpreter(program):
    check_program(program.source, np.random.default_rng(0), f"suite {program.name}")


def test_o2_is_never_costlier_than_o0_on_the_suite():
    rng = np.random.default_rng(0)
    cheaper = 0
    suite = load_suite()
    for program in suite:
        args = inputs(program.nparams, rng)
        c0 = kiln.compile(program.source, 0).cost(args)
        c2 = kiln.compile(program.source, 2).cost(args)
        assert c2 <= c0, f"{program.name}: -O2 costs {c2}, -O0 {c0}"
        cheaper += c2 < c0
    assert cheaper > len(suite) // 2, f"-O2 cheaper on only {cheaper} of {len(suite)}"


@pytest.mark.parametrize("source,args,want", [
    ("def f(a, b):\n    return a < b < 10\n", [[1, 2], [3, 2], [1, 10]], [1, 0, 0]),
    ("def f(n):\n    s = 0\n    for i in range(n, -1, -2147483648):\n        s += 1\n"
     "    return s\n", [[5], [-1], [2147483647]], [1, 0, 1]),
    ("def f(a):\n    for i in range(2147483640, 2147483647, 3):\n        a += 1\n    return a\n",
     [[0]], [3]),
    ("def f(a):\n    x = y = a + 1\n    a, x = x, a\n    return a * 100 + x + y\n", [[1]], [203]),
    ("def f():\n    return\n", [[]], [0]),
    ("def f(a):\n    pass\n", [[5]], [0]),
])
def test_handwritten_corners(source, args, want):
    for opt in isa_levels():
        assert kiln.compile(source, opt).run(args).tolist() == want, f"-O{opt}"
    assert kiln.interpret(source, args).tolist() == want


def test_bad_opt_level():
    with pytest.raises(ValueError, match="optimisation level"):
        kiln.compile("def f():\n    return 1\n", 3)
    with pytest.raises(ValueError, match="optimisation level"):
        kiln.compile("def f():\n    return 1\n", True)


def test_program_api():
    prog = kiln.compile("def add(a, b):\n    return a + b\n", 1)
    assert prog.nparams == 2 and prog.params == ("a", "b") and prog.name == "add"
    assert prog.code.dtype == np.int32 and prog.code.shape[1] == 2
    assert prog.run([[1, 2], [isa.INT32_MAX, 1]]).tolist() == [3, isa.INT32_MIN]
    assert prog.cost([[1, 2]]) == sum(isa.OPS[o].cost for o in prog.code[:, 0])
    assert "add" in prog.asm()
    with pytest.raises(ValueError):
        prog.run([[1, 2, 3]])


def test_out_of_fuel_raises():
    prog = kiln.compile("def f(a):\n    while True:\n        a += 1\n    return a\n")
    with pytest.raises(kiln.OutOfFuel):
        prog.run([[0]], fuel=1000)


def _chain(kind: str, n: int) -> str:
    operands = ["a", "b"] * (n // 2)
    if kind in ("min", "max"):
        return f"def f(a, b):\n    return {kind}({', '.join(operands)})\n"
    if kind == "minmin":
        m = f"min({', '.join(operands)})"
        return f"def f(a, b):\n    return {m} == {m}\n"
    op = {"and": "and", "or": "or", "cmp": "<"}[kind]
    return f"def f(a, b):\n    return {f' {op} '.join(operands)}\n"


@pytest.mark.parametrize("kind", ["and", "or", "min", "cmp", "minmin"])
def test_long_flat_chains_are_a_compile_error_at_the_depth_limit(kind):
    """Chains of thousands of operands once raised RecursionError (or ran for minutes at -O2):
    a chain of n operands counts as n levels of nesting, against MAX_AST_DEPTH."""
    from kiln.compilers.frontend import MAX_AST_DEPTH

    kiln.compile(_chain(kind, 100), 2)
    for n in (MAX_AST_DEPTH + 2, 20_000):
        for opt in (0, 2):
            with pytest.raises(kiln.CompileError, match="nested more than") as exc:
                kiln.compile(_chain(kind, n), opt)
            assert exc.value.lineno == 2 and exc.value.col > 0
        with pytest.raises(kiln.CompileError, match="nested more than"):
            kiln.interpret(_chain(kind, n), [[1, 2]])


@pytest.mark.parametrize("source,snippet", [
    ("def f(a):\n    é = 1; return a / 2\n", "a / 2"),
    ("def f(a):\n    ééé = 1; return a / 2\n", "a / 2"),
    ("def f(a):\n    ééé = 1; return a $ 2\n", "$ 2"),
])
def test_error_columns_count_characters_not_bytes(source, snippet):
    """Columns were UTF-8 byte offsets: past the error on lines with non-ASCII text."""
    with pytest.raises(kiln.CompileError) as exc:
        kiln.compile(source)
    line = source.splitlines()[exc.value.lineno - 1]
    assert line[exc.value.col - 1:].startswith(snippet), (exc.value, line)


def test_limit_errors_point_at_the_construct_that_crossed_the_limit():
    """"control flow nested too deeply" and "expression too deep" once said line 0."""
    nested = "def f(a):\n" + "".join("    " * (i + 1) + f"while a < {i}:\n" for i in range(17)) \
        + "    " * 18 + "a += 1\n    return a\n"
    with pytest.raises(kiln.CompileError, match="control flow nested too deeply") as exc:
        kiln.compile(nested)
    assert (exc.value.lineno, exc.value.col) == (18, 4 * 17 + 1)  # 17th while: 34 > 32 blocks
    expr = "a"
    for _ in range(70):
        expr = f"a - ({expr})"
    with pytest.raises(kiln.CompileError, match="expression too deep") as exc:
        kiln.compile(f"def f(a):\n    b = 1\n    return {expr}\n", 0)
    assert exc.value.lineno == 3 and exc.value.col > 100


@pytest.mark.parametrize("expr", ["-" * 5000 + "a", "not " * 5000 + "a",
                                  "a if a else " * 3000 + "a"])
def test_too_deep_for_pythons_parser_still_has_a_position(expr):
    with pytest.raises(kiln.CompileError, match="nested more than") as exc:
        kiln.compile(f"def f(a):\n    b = a\n    return {expr}\n")
    assert (exc.value.lineno, exc.value.col) == (3, 5)
