"""The random program generator: reproducible, valid, canonical, varied, terminating, on knob.

Every failure message names the seed and program index that reproduce it:
``generate_batch(index + 1, seed, config).source(index)``.
"""
from __future__ import annotations

import ast
import collections
import dataclasses

import numpy as np
import pytest

from kiln.compilers import tokens as T
from kiln.compilers.frontend import parse_function
from kiln.compilers.interpreter import OutOfFuel, interpret
from kiln.compilers.programs import generator
from kiln.compilers.programs.generator import (BOOLOP_NAMES, K_P_IF, NUM_KNOBS, UNOP_NAMES,
                                               GenConfig, bitmask, generate_batch,
                                               generate_sources)
from kiln.compilers.tokens import BINOP_SYMBOLS, BUILTIN_NAMES, CMP_SYMBOLS, tokenize

FIELDS = ("tokens", "lengths", "lits", "nlits", "nparams", "nnames")
EDGE = [0, 1, -1, 2, 31, 2**31 - 1, -2**31, -7]
SEED = 20251121


def inputs(nparams: int, index: int) -> np.ndarray:
    edge = [[EDGE[(i + k) % len(EDGE)] for k in range(nparams)] for i in range(len(EDGE))]
    rand = np.random.default_rng(index).integers(-2**31, 2**31, (3, nparams)).tolist()
    return np.array(edge + rand, dtype=np.int64).reshape(len(edge) + len(rand), nparams)


def same(a, b) -> bool:
    return all(np.array_equal(getattr(a, f).numpy(), getattr(b, f).numpy()) for f in FIELDS)


def programs(n: int, seed: int, config: GenConfig | None = None):
    """(index, source, checked function, token row) for every generated program."""
    batch = generate_batch(n, seed, config)
    for i in range(n):
        t = batch.tokenized(i)
        source = T.detokenize(t)
        yield i, source, parse_function(source), t


@pytest.fixture(scope="module")
def default_programs():
    return list(programs(2000, SEED))


def test_reproducible_and_independent_of_batch_size() -> None:
    a, b = generate_batch(64, 7), generate_batch(64, 7)
    assert same(a, b)
    prefix = generate_batch(10, 7)
    assert all(a.tokenized(i) == prefix.tokenized(i) for i in range(10))
    other = generate_batch(64, 8)
    assert sum(a.tokenized(i) == other.tokenized(i) for i in range(64)) < 4
    assert generate_sources(10, 7) == [a.source(i) for i in range(10)]
    big = generate_batch(3, 2**63 - 1)
    assert int(big.lengths.min()) > 0
    for bad in (-1, 2**63):
        with pytest.raises(ValueError, match="seed"):
            generate_batch(1, bad)
    assert len(generate_batch(0, 1)) == 0


def test_valid_and_canonical(default_programs) -> None:
    width = GenConfig().max_tokens
    for i, source, fn, t in default_programs:
        where = f"seed {SEED} program {i}:\n{source}"
        assert tokenize(source) == t, where
        assert len(t.tokens) <= width and t.tokens.dtype == np.int32, where
        assert len(fn.names) == t.nnames <= 16 and t.nlits <= T.NUM_LITS, where


def test_variety(default_programs) -> None:
    """Every construct the default knobs enable shows up in 2,000 programs."""
    seen: collections.Counter = collections.Counter()
    for _, source, fn, t in default_programs:
        seen.update({T.source_token_name(x) for x in t.tokens})
        for stmt in fn.body:
            seen["top " + type(stmt).__name__] += 1
        for node in ast.walk(ast.parse(source)):
            kind = type(node).__name__
            seen[kind] += 1
            if isinstance(node, ast.If):
                if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
                    seen["elif"] += 1
                elif node.orelse:
                    seen["else"] += 1
            elif isinstance(node, ast.Compare) and len(node.ops) > 1:
                seen["chained compare"] += 1
            elif isinstance(node, ast.Assign):
                seen["tuple assign" if isinstance(node.targets[0], ast.Tuple)
                     else "chained assign" if len(node.targets) > 1 else "assign"] += 1
            elif isinstance(node, ast.Return) and node.value is None:
                seen["bare return"] += 1
            elif isinstance(node, ast.While) and isinstance(node.test, ast.BoolOp):
                seen["while and"] += 1
            elif isinstance(node, ast.For):
                seen[f"range/{len(node.iter.args)}"] += 1
                inner = {type(n).__name__ for a in node.iter.args for n in ast.walk(a)}
                seen.update(f"range {k}" for k in inner & {"Call", "BinOp", "UnaryOp"})
            elif isinstance(node, ast.UnaryOp):
                seen[type(node.op).__name__] += 1
    returns_nested = seen["Return"] - seen["top Return"]
    wanted = ([T.source_token_name(t) for t in range(T.NEWLINE, T.UREM + 1) if t != T.PASS]
              + ["IfExp", "BoolOp", "elif", "else", "chained compare", "tuple assign",
                 "chained assign", "AugAssign", "bare return", "While", "while and", "For",
                 "range/1", "range/2", "range/3", "range Call", "range BinOp", "range UnaryOp",
                 "Break", "Continue", "Not", "USub", "Invert"])
    missing = [w for w in wanted if seen[w] == 0]
    assert not missing, f"seed {SEED}: never generated {missing}"
    assert returns_nested > 100
    names = [k for k in seen if k.startswith("NAME")]
    assert len(names) >= 12 and seen["LIT10"] > 0


def test_terminates_on_edge_inputs(default_programs) -> None:
    for i, source, fn, _ in default_programs:
        try:
            interpret(source, inputs(fn.nparams, i), fuel=100_000)
        except OutOfFuel:
            pytest.fail(f"seed {SEED} program {i} ran out of fuel:\n{source}")


def test_loop_heavy_programs_terminate() -> None:
    config = GenConfig(p_if=0.1, p_for=0.3, p_while=0.2, p_break=0.1, max_depth=3, max_trip=6,
                       min_stmts=8, max_stmts=20)
    seed = SEED + 1
    # Three nested loops of 6 trips and 20 statements bound a row's fuel well below this.
    for i, source, fn, _ in programs(150, seed, config):
        try:
            interpret(source, inputs(fn.nparams, i)[:4], fuel=50_000)
        except OutOfFuel:
            pytest.fail(f"seed {seed} program {i} ran out of fuel:\n{source}")


def test_max_trip_zero_means_no_iteration() -> None:
    """With max_trip 0 no loop body ever runs: each statement runs at most once."""
    config = GenConfig(p_for=0.3, p_while=0.3, max_trip=0, min_stmts=6, max_stmts=12)
    seed = SEED + 2
    for i, source, fn, t in programs(300, seed, config):
        statements = sum(isinstance(n, ast.stmt) for s in fn.body for n in ast.walk(s))
        try:
            interpret(source, inputs(fn.nparams, i), fuel=statements)
        except OutOfFuel:
            pytest.fail(f"seed {seed} program {i}: a loop iterated:\n{source}")


def test_restricted_knobs() -> None:
    config = GenConfig(binops=bitmask(["+", "-", "&"], BINOP_SYMBOLS),
                       cmpops=bitmask(["<", "=="], CMP_SYMBOLS),
                       builtins=bitmask(["min"], BUILTIN_NAMES), unops=bitmask(["-"], UNOP_NAMES),
                       boolops=bitmask(["and"], BOOLOP_NAMES), ternary=False, p_if=0.2,
                       p_for=0.15, p_while=0.15, max_depth=2, min_params=2, max_params=2,
                       max_vars=6, expr_depth=2, expr_nodes=3)
    config = dataclasses.replace(config, max_tokens=config.min_tokens())
    allowed = {T.PAD, T.NEWLINE, T.INDENT, T.DEDENT, T.DEF, T.LPAR, T.RPAR, T.COMMA, T.COLON,
               T.ASSIGN, T.IF, T.ELIF, T.ELSE, T.WHILE, T.FOR, T.IN, T.RANGE, T.BREAK,
               T.CONTINUE, T.RETURN, T.PASS, T.AND, T.PLUS, T.MINUS, T.AMP, T.LT, T.EQ,
               T.PLUSEQ, T.MINUSEQ, T.AMPEQ, T.MIN}
    allowed |= set(range(T.NAME0, T.NAME0 + 6)) | set(range(T.LIT0, T.LIT0 + T.NUM_LITS))
    seed = SEED + 3
    seen = set()
    for i, source, fn, t in programs(500, seed, config):
        where = f"seed {seed} program {i}:\n{source}"
        seen.update(t.tokens.tolist())
        assert set(t.tokens.tolist()) <= allowed, where
        assert t.nparams == 2 and t.nnames <= 6 and len(t.tokens) <= config.max_tokens, where
        assert max(len(line) - len(line.lstrip()) for line in source.splitlines()) <= 12, where
        assert not any(isinstance(n, ast.IfExp) for n in ast.walk(ast.parse(source))), where
    assert {T.WHILE, T.FOR, T.IF, T.AND, T.MIN, T.AMP, T.EQ} <= seen


def test_conversion_builtins_are_knobs() -> None:
    """``int`` and ``bool`` are off by default and generated, valid and canonical, when on."""
    assert not GenConfig().builtins & bitmask(["int", "bool"], BUILTIN_NAMES)
    config = GenConfig(builtins=bitmask(["int", "bool"], BUILTIN_NAMES))
    seed = SEED + 4
    seen = collections.Counter()
    for i, source, fn, t in programs(300, seed, config):
        seen.update(t.tokens.tolist())
        assert not {T.ABS, T.MIN, T.MAX} & set(t.tokens.tolist()), f"seed {seed} program {i}"
        assert np.array_equal(tokenize(source).tokens, t.tokens), f"seed {seed} program {i}"
    assert seen[T.INT] > 20 and seen[T.BOOL] > 20


def test_literal_range_and_statement_count() -> None:
    config = GenConfig(p_if=0, p_for=0, p_while=0, p_return=0, p_final_return=1.0,
                       min_stmts=5, max_stmts=5, lit_min=-3, lit_max=3, p_special_lit=0)
    seed = SEED + 4
    for i, source, fn, t in programs(300, seed, config):
        where = f"seed {seed} program {i}:\n{source}"
        assert set(t.lits.tolist()) <= {0, 1, 2, 3}, where
        assert len(fn.body) == 6 and isinstance(fn.body[-1], ast.Return), where
    config = GenConfig(p_if=0, p_for=0, p_while=0, p_return=0, p_final_return=0.0)
    for i, source, fn, t in programs(100, seed, config):
        assert T.RETURN not in t.tokens, f"seed {seed} program {i}:\n{source}"


def test_straight_line_and_no_fresh_variables() -> None:
    seed = SEED + 5
    config = GenConfig(max_depth=0, p_if=0.25, p_for=0.25, p_while=0.25)
    for i, source, fn, t in programs(200, seed, config):
        assert all(isinstance(s, (ast.Assign, ast.AugAssign, ast.Return, ast.Pass))
                   for s in fn.body), f"seed {seed} program {i}:\n{source}"
    config = GenConfig(min_params=3, max_params=3, max_vars=3, p_for=0.3, p_while=0.3)
    for i, source, fn, t in programs(200, seed, config):
        assert t.nnames == 3 and T.WHILE not in t.tokens, f"seed {seed} program {i}:\n{source}"


def test_large_knobs_stay_within_limits() -> None:
    config = GenConfig(min_stmts=40, max_stmts=80, max_depth=8, max_vars=24, max_params=6,
                       expr_depth=8, expr_nodes=32, p_special_lit=0.5, lit_min=-2**31,
                       lit_max=2**31 - 1, max_tokens=1200)
    seed = SEED + 6
    for i, source, fn, t in programs(200, seed, config):
        where = f"seed {seed} program {i}:\n{source}"
        assert len(t.tokens) <= 1200 and t.nnames <= 24 and t.nlits <= 64, where
        assert tokenize(source) == t, where


@pytest.mark.parametrize("knobs,message", [
    ({"min_stmts": 0}, "min_stmts"), ({"min_stmts": 5, "max_stmts": 4}, "min_stmts"),
    ({"max_depth": 9}, "max_depth"), ({"max_params": 7}, "max_params"),
    ({"max_vars": 25}, "max_vars"), ({"max_params": 5, "max_vars": 4}, "max_vars"),
    ({"p_if": 1.5}, "p_if"), ({"p_if": 0.5, "p_for": 0.6}, "at most 1"),
    ({"max_trip": 65}, "max_trip"), ({"binops": 1 << 10}, "binops"),
    ({"cmpops": -1}, "cmpops"), ({"expr_depth": 0}, "expr_depth"),
    ({"expr_nodes": 33}, "expr_nodes"), ({"lit_min": 5, "lit_max": 4}, "lit_min"),
    ({"max_tokens": 100}, "max_tokens must be in"),
])
def test_config_validation(knobs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GenConfig(**knobs)


def test_config_array_and_bitmask() -> None:
    arr = GenConfig().to_array()
    assert arr.dtype == np.int32 and len(arr) == NUM_KNOBS and arr[K_P_IF] == 150
    for k, field in enumerate(dataclasses.fields(GenConfig)):
        assert getattr(generator, f"K_{field.name.upper()}") == k
    assert GenConfig(p_if=1, p_for=0, p_while=0, p_return=0, p_break=0).to_array()[K_P_IF] == 1000
    assert bitmask(["+", "^"], BINOP_SYMBOLS) == 0b10_0000_0001
    assert bitmask([], CMP_SYMBOLS) == 0
    with pytest.raises(ValueError, match="not one of"):
        bitmask(["**"], BINOP_SYMBOLS)


def _const(node: ast.expr) -> int | None:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    return int(value) if isinstance(value, int) else None


def _trip_bound(args: list[ast.expr]) -> int | None:
    """The most iterations ``range(*args)`` can make for any inputs, for the generator's forms."""
    consts = [_const(a) for a in args]
    if all(c is not None for c in consts):
        return len(range(*consts))
    if len(args) == 1:
        (e,) = args
        if isinstance(e, ast.Call) and e.func.id == "min":
            return _const(e.args[1])
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.BitAnd):
            return _const(e.right)
    if len(args) >= 2 and consts[0] is not None and isinstance(args[1], ast.Call):
        bound = _const(args[1].args[1])
        if args[1].func.id == "min":
            return bound - consts[0]
        if args[1].func.id == "max" and consts[2:] == [-1]:
            return consts[0] - bound
    return None


def _random_config(rng: np.random.Generator) -> GenConfig | None:
    lo = int(rng.choice([-2**31, -1000, -4, 0, 5]))
    hi = int(rng.choice([2**31 - 1, 3, 16, 70000])) if rng.random() < 0.9 else lo
    try:
        return GenConfig(min_stmts=1, max_stmts=int(rng.integers(1, 65)),
                         max_depth=int(rng.integers(0, 5)), max_trip=int(rng.integers(0, 65)),
                         expr_depth=int(rng.integers(1, 6)), expr_nodes=int(rng.integers(1, 17)),
                         lit_min=lo, lit_max=max(lo, hi), p_for=float(rng.uniform(0, 0.4)),
                         p_while=float(rng.uniform(0, 0.3)),
                         p_special_lit=float(rng.uniform(0, 0.5)), max_tokens=8192)
    except ValueError:
        return None


@pytest.mark.parametrize("case", range(12))
def test_loop_bounds_hold_for_every_config(case: int) -> None:
    """Every for loop makes at most max_trip iterations and every while loop's counter bound is
    at most max_trip, however full the literal table gets (it once reused a random literal as a
    loop bound)."""
    rng = np.random.default_rng(SEED + 100 + case)
    config = _random_config(rng) if case else GenConfig(
        lit_min=-2**31, lit_max=2**31 - 1, max_stmts=64, expr_nodes=16, max_tokens=8192)
    if config is None:
        pytest.skip("drew an invalid config")
    seed, count = (0, 456) if case == 0 else (int(rng.integers(2**31)), 60)
    batch = generate_batch(count, seed, config)
    for i in range(count):
        source = batch.source(i)
        where = f"generate_batch({i + 1}, {seed}, {config}).source({i}):\n{source}"
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.For):
                bound = _trip_bound(node.iter.args)
                assert bound is not None and bound <= config.max_trip, where
            elif isinstance(node, ast.While):
                test = node.test.values[0] if isinstance(node.test, ast.BoolOp) else node.test
                assert _const(test.comparators[0]) <= config.max_trip, where


def test_arguments_are_checked_not_converted() -> None:
    for seed in (1.5, "12", True, -1, 2**63):
        with pytest.raises(ValueError, match="seed must be an int"):
            generate_batch(2, seed)
    for n in (-1, "3", 2.0, False):
        with pytest.raises(ValueError, match="number of programs"):
            generate_batch(n, 0)
    with pytest.raises(TypeError, match="config must be a GenConfig"):
        generate_batch(2, 0, "x")
    with pytest.raises(ValueError, match="device must be"):
        generate_batch(2, 0, device="x")
    on_cpu = generate_batch(3, 5, device="cpu")
    for field in FIELDS:
        assert np.array_equal(getattr(on_cpu, field).numpy(),
                              getattr(generate_batch(3, 5), field).numpy()), field
