"""Malformed input: sources and bytecode get CompileError / ValidationError and nothing else."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kiln
from kiln.compilers import isa
from kiln.compilers.programs.suite import load_suite
from kiln.compilers.validate import ValidationError, validate


def compile_or_reject(source: str, context: str) -> None:
    """Compiling must succeed at every level or raise CompileError; interpret must agree."""
    try:
        kiln.compile(source, 1)
    except kiln.CompileError as exc:
        assert exc.lineno >= 0 and exc.col >= 0 and str(exc), context
        with pytest.raises(kiln.CompileError):
            kiln.interpret(source, np.zeros((1, 0), dtype=np.int32))
        return
    except Exception as exc:  # pragma: no cover - the failure report
        raise AssertionError(f"{context}: {type(exc).__name__}: {exc}\n{source!r}") from exc
    for opt in (0, 2):
        kiln.compile(source, opt)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(data):
    compile_or_reject(data.decode("latin-1"), "random bytes")


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(alphabet="def f(a, b):\n    return if else while for in range x y 0 1 + - * "
                        "// % < > = == and or not : ( ) ,", max_size=120))
def test_random_python_like_text(text):
    compile_or_reject(text, "python-like text")


def test_truncated_and_mutated_suite_programs():
    rng = np.random.default_rng(0)
    for program in load_suite():
        src = program.source
        for cut in range(0, len(src), 9):
            compile_or_reject(src[:cut], f"{program.name} truncated at {cut}")
        for trial in range(10):
            i = int(rng.integers(0, len(src)))
            mutated = src[:i] + rng.choice(list(":()=+-*\n \t0xa")) + src[i + 1:]
            compile_or_reject(mutated, f"{program.name} mutated at {i} (trial {trial})")


UNSUPPORTED = [
    "import os", "x = 1", "def f(a):\n    return a / 2", "def f(a):\n    return a ** 2",
    "def f(a):\n    return [a]", "def f(a):\n    return 'a'", "def f(a):\n    return 1.5",
    "def f(a):\n    return g(a)", "def f(*a):\n    return 0", "def f(a=1):\n    return a",
    "def f(a, b, c, d, e, f1, g):\n    return 0", "def f(a):\n    a.x = 1",
    "def f(a):\n    while a:\n        a -= 1\n    else:\n        pass\n    return a",
    "def f(a):\n    for i in [1, 2]:\n        pass\n    return a",
    "def f(a):\n    for i in range(0, 5, a):\n        pass\n    return a",
    "def f(a):\n    for i in range(0, 5, 0):\n        pass\n    return a",
    "def f(a):\n    try:\n        pass\n    except E:\n        pass",
    "def f(a):\n    lambda: 0", "def f(a):\n    return (b := 1)", "def f(a):\n    break",
    "def f(a):\n    if a:\n        b = 1\n    return b", "def f(a):\n    return abs(a, a)",
    "def f(a):\n    return min(a)", "def f(a):\n    abs = 1", "def f(a):\n    return a is 1",
    "def f(a):\n    global x", "def f(a):\n    a, a = 1, 2", "def f(a):\n    a, b = 1",
    "def f(a):\n    a + 1", "@dec\ndef f(a):\n    return a", "def f(a) -> str:\n    return a",
    "def f(a):\n    return\ndef g():\n    return 1", "class A:\n    pass", "",
    "def f(a):\n    return x", "def f(a):\n    return range", "def f(a, a):\n    return a",
    "async def f(a):\n    return a", "def f(a):\n    return abs(*a)",
    "def f(a):\n    return min(a, b=2)", "def f(a):\n    del a",
    "def f(a):\n    a = 1, 2", "def f(a):\n    a = b = 1, 2",
    "def f(x):\n    for i in range(0, 10, -x):\n        pass\n    return x",
    "def f(x):\n" + "".join("    " * (i + 1) + "if x:\n" for i in range(40)) + "    " * 41
    + "x = 1\n",
]


@pytest.mark.parametrize("source", UNSUPPORTED)
def test_unsupported_python_is_a_compile_error(source):
    with pytest.raises(kiln.CompileError) as info:
        kiln.compile(source)
    assert str(info.value)


@pytest.mark.parametrize("source", [
    "def f(a):\n    return " + "(" * 1000 + "a" + ")" * 1000,
    "def f(a):\n    return " + "-" * 5000 + "a",
    "def f(a):\n    return " + " + ".join(["a"] * 20000),
    "def f(a):\n" + "".join("    " * (i + 1) + "if a:\n" for i in range(120)) + "    " * 121
    + "pass\n",
    "def f(a):\n    return " + "1" * 5000,
])
def test_deep_or_huge_sources_are_rejected_cleanly(source):
    with pytest.raises(kiln.CompileError):
        kiln.compile(source)


def test_huge_literal_wraps():
    prog = kiln.compile("def f():\n    return 123456789012345678901234567890\n")
    assert prog.run([[]]).tolist() == [isa.wrap(123456789012345678901234567890)]


def test_right_nested_expression_too_deep_for_the_stack():
    source = "def f(a):\n    return " + "a + (" * 70 + "a" + ")" * 70
    with pytest.raises(kiln.CompileError, match="stack"):
        kiln.compile(source, 0)


def test_ten_thousand_line_functions():
    body = "".join(f"    a = a + {i % 7}\n    b = b ^ a\n" for i in range(5000))
    source = f"def f(a, b):\n{body}    return a + b\n"
    prog = kiln.compile(source, 1)
    assert prog.run([[1, 2]]).tolist() == kiln.interpret(source, [[1, 2]]).tolist()
    many = "def f(a):\n" + "".join(f"    v{i} = a + {i}\n" for i in range(10000)) + "    return a\n"
    with pytest.raises(kiln.CompileError, match="variables"):
        kiln.compile(many)


def test_non_string_source():
    with pytest.raises(kiln.CompileError, match="str"):
        kiln.compile(b"def f(): return 1")


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, isa.NUM_OPS + 2), st.integers(-40, 40)), max_size=40))
def test_malformed_bytecode_is_rejected_or_runs(pairs):
    code = np.array(pairs, dtype=np.int32).reshape(-1, 2)
    try:
        validate(code)
    except ValidationError as exc:
        assert 0 <= exc.pc <= len(code)
        return
    prog = kiln.Program("fuzz", ("a", "b"), code)
    values, status, cycles = prog.execute(np.array([[1, 2], [isa.INT32_MIN, -1]]), fuel=500)
    assert values.shape == status.shape == cycles.shape == (2,)
