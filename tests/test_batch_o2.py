"""The batched compiler's -O2 against the object compiler's: pass by pass, and end to end.

Every program is lowered and run through ``traditional.ir_passes.O2_PASSES``; wherever the
pipeline runs a pass, the IR going into it is put in arrays (``ir_arrays.IRArrays``), the
array pass runs (numba, CPU), and the IR it leaves must equal the object pass's output
exactly. End to end, ``compile_batch(opt=2)`` must give exactly ``compile_source(canonical
source, 2)``'s code, or a status where the reference rejects the program (or ``E_ROOM``, where
the program needs more room than the compiler has). Programs: the generator's (seeded;
``KILN_BATCH_O2_PROGRAMS`` sets the counts), the -O2 rule fuzzer of ``test_o2``, programs
made of branch-to-select shapes, token-level mutations of generated programs, the suite, and
corner cases. A failure names the seed and the program.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from kiln.compilers import frontend
from kiln.compilers import tokens as T
from kiln.compilers.batch import compile_batch, status_message
from kiln.compilers.batch import status as S
from kiln.compilers.batch.cpu import _compile_one_o2, compile_arrays_o2, run_ir_pass
from kiln.compilers.batch.ir_arrays import (COST_LIMIT, ROOM, T_STATUS, X_BOOL, X_COST, X_DEPTH,
                                            IRArrays)
from kiln.compilers.batch.ir_rewrite import log2
from kiln.compilers.batch.o2 import PASSES, allocate, work_size
from kiln.compilers.batch.stream import STATE_SIZE
from kiln.compilers.batch.core import scratch_size
from kiln.compilers.frontend import CompileError
from kiln.compilers.isa import OP, OPS, PURE_OPS
from kiln.compilers.programs.generator import GenConfig, generate_batch, generate_sources
from kiln.compilers.programs.suite import load_suite
from kiln.compilers.traditional import ir, ir_passes
from kiln.compilers.traditional.ir_rules import is_bool
from kiln.compilers.traditional.ir_rules import log2 as object_log2
from kiln.compilers.traditional.ir_tools import expr_cost, heads, stack_depth, walk
from kiln.compilers.traditional.lower import lower
from kiln.compilers.tokens import TokenBatch
from kiln.compilers.traditional.pipeline import compile_source
from test_batch_compiler import (CORNERS, LIMITS, WITH_CONVERSIONS, check_rows, mutate,
                                 reference, same_class)
from test_o2 import SourceGen

SEED = 20261130
PROGRAMS = int(os.environ.get("KILN_BATCH_O2_PROGRAMS", "400"))
BIG = GenConfig(max_stmts=24, max_depth=5, max_vars=12, expr_depth=5, expr_nodes=14,
                max_tokens=1200)


def check_source(source: str, what: str, seen: dict[str, int]) -> None:
    """Run the object -O2 pipeline on ``source`` and every ported pass beside it."""
    fn = frontend.parse_function(source)
    with frontend.deep_recursion():
        current = lower(fn)
        for step in ir_passes.O2_PASSES:
            after = step(current)
            if step.__name__ in PASSES:
                check_pass(step.__name__, current, after, f"{what}\n{source}")
                seen[step.__name__] = seen.get(step.__name__, 0) + 1
            current = after


def check_pass(name: str, before: ir.Function, expected: ir.Function, what: str) -> None:
    arrays = IRArrays(before)
    ex, htab, sm, pool, meta = arrays.arrays()
    work = np.zeros(work_size(ex.shape[0], sm.shape[0]), np.int64)
    run_ir_pass(PASSES.index(name), ex, htab, sm, pool, meta, work)
    assert meta[T_STATUS] == 0, f"{what}: {name} ran out of room"
    got = arrays.function()
    assert got == expected, (f"{what}: {name} differs\nbefore:\n{ir.format_function(before)}"
                             f"expected:\n{ir.format_function(expected)}"
                             f"got:\n{ir.format_function(got)}")


@pytest.mark.parametrize("stream", range(3))
def test_generated_programs(stream):
    seed = SEED + stream
    config = BIG if stream == 2 else None
    seen: dict[str, int] = {}
    for i, source in enumerate(generate_sources(PROGRAMS, seed, config)):
        check_source(source, f"generate_sources({PROGRAMS}, {seed}, {config}) program {i}",
                     seen)
    assert set(seen) == set(PASSES), seen


def test_rule_fuzzer_programs():
    seen: dict[str, int] = {}
    for seed in range(SEED, SEED + PROGRAMS):
        check_source(SourceGen(seed).source(), f"test_o2.SourceGen({seed})", seen)
    assert set(seen) == set(PASSES), seen


def test_mutated_programs():
    """Generated programs with one to three edits: ``test_batch_compiler.mutate``'s (any
    edit) and same-class replacements (an operator for another, a name for a name, a literal
    for a literal), of which most still compile."""
    rng = np.random.default_rng(SEED)
    batch = generate_batch(2 * PROGRAMS, SEED + 7, GenConfig(max_stmts=10))
    compiled = 0
    for i in range(len(batch)):
        nlits = int(batch.nlits[i])
        row = batch.tokens[i, :batch.lengths[i]].tolist()
        if i % 2:
            row = mutate(rng, row, nlits)
        else:
            for _ in range(int(rng.integers(1, 4))):
                p = int(rng.integers(0, len(row)))
                row[p] = same_class(rng, row[p], nlits)
        try:
            source = T.detokenize(row, batch.lits[i, :nlits].tolist())
            frontend.parse_function(source)
        except (T.TokenError, CompileError):
            continue
        check_source(source, f"test_mutated_programs (seed {SEED}) row {i}", {})
        compiled += 1
    assert compiled > PROGRAMS // 2, compiled


def branch_program(seed: int) -> str:
    """A random function made of the shapes ``convert_branches_to_selects`` looks for (ifs
    that assign one variable or return in each arm), with operands that simplify to min, max,
    abs, ``x + b`` and masks, and the statements around them that copy and CSE act on."""
    import random

    rng = random.Random(seed)
    names = ["a", "b", "x"]

    def leaf() -> str:
        return rng.choice(names + ["0", "1", "-1", "3"])

    def value(x: str) -> str:
        y = leaf()
        return rng.choice([x, y, f"{x} + 1", f"{x} - 1", f"-{x}", f"{x} | 1", f"{x} ^ 1",
                           f"{x} << 1", f"{x} * {y}", f"{x} + {y}", "0", "1", f"({x} < {y})"])

    def cond(x: str, y: str) -> str:
        return rng.choice([f"{x} < {y}", f"{x} >= {y}", f"{x} > {y}", f"{x} <= {y}",
                           f"{x} < 0", f"{x} > 0", f"not {x}", f"{x} == {y}", f"{x} & 1", x,
                           f"{x} != 0"])

    lines = ["def f(a, b):", "    x = a"]
    for _ in range(rng.randint(1, 5)):
        x, y = rng.sample(names, 2)
        t = rng.choice(["x", "a", "b"])
        shape = rng.randrange(9)
        c = cond(x, y)
        op = rng.choice(["<", "<=", ">", ">="])
        if shape == 0:
            lines += [f"    if {c}:", f"        {t} = {value(x)}", "    else:",
                      f"        {t} = {value(y)}"]
        elif shape == 1:
            lines += [f"    if {c}:", f"        {t} = {value(t)}"]
        elif shape == 2:
            lines += [f"    if {c}:", f"        return {value(x)}"]
        elif shape == 3:
            lines += [f"    {t} = {value(x)}", f"    y = {t} + {value(t)}"]
            names.append("y") if "y" not in names else None
        elif shape == 4:
            lines += [f"    if {c}:", f"        {t} = {value(x)}", "    else:",
                      f"        return {value(y)}"]
        elif shape == 5:
            lines += [f"    x = ({value(x)}) * ({value(y)})",
                      f"    a = ({value(x)}) * ({value(y)})"]
        elif shape == 6:  # min and max
            lines += [f"    if {x} {op} {y}:", f"        {t} = {rng.choice([x, y])}", "    else:",
                      f"        {t} = {rng.choice([x, y])}"]
        elif shape == 7:  # abs
            lines += [f"    if {x} {op} 0:", f"        {t} = {rng.choice([x, '-' + x])}",
                      "    else:", f"        {t} = {rng.choice([x, '-' + x])}"]
        else:  # a step by a 0/1 condition
            step = rng.choice(["+ 1", "- 1", "| 1", "^ 1", "<< 1", ">> 1"])
            lines += [f"    if {x} {op} {y}:", f"        {t} = {t} {step}"]
    x, y = rng.sample(names, 2)
    lines += [f"    if {cond(x, y)}:", f"        return {value(x)}", f"    return {value(y)}"]
    return "\n".join(lines) + "\n"


def test_branch_programs():
    seen: dict[str, int] = {}
    for seed in range(SEED, SEED + PROGRAMS):
        check_source(branch_program(seed), f"branch_program({seed})", seen)
    assert set(seen) == set(PASSES), seen


def test_suite_and_corners():
    seen: dict[str, int] = {}
    for program in load_suite():
        check_source(program.source, f"suite program {program.name}", seen)
    for i, source in enumerate(CORNERS):
        check_source(source, f"CORNERS[{i}]", seen)
    assert set(seen) == set(PASSES), seen


EDGE_VALUES = (0, 1, -1, 2, 3, 4, 31, 32, 33, 64, 255, 1 << 30, -(1 << 30), 2**31 - 1, -(2**31),
               -(2**31) + 1, -2, -4, -8)


def test_every_rule_shape():
    """Every opcode on every pair of interesting operands (constants, a variable, 0/1 values,
    negations, the op's own nestings): the whole rewriter, not only the shapes programs hit."""
    x, y = ir.Local(0), ir.Local(1)
    flag = ir.Apply(OPS[22].code, (x, y))  # lt: a 0/1 value
    leaves = [x, y, flag, ir.Apply(32, (x,)), ir.Apply(34, (flag,)), ir.Apply(6, (x, y)),
              ir.Apply(5, (x, ir.Const(1))), ir.Apply(5, (x, ir.Const(-1)))]
    leaves += [ir.Const(v) for v in (0, 1, -1, 2, 8, 31, 2**31 - 1, -(2**31), -4)]
    values = []
    for op in PURE_OPS:
        for a in leaves:
            if op.pops == 1:
                values.append(ir.Apply(op.code, (a,)))
                continue
            for b in leaves:
                if op.pops == 2:
                    values.append(ir.Apply(op.code, (a, b)))
                    values.append(ir.Apply(op.code, (ir.Apply(op.code, (a, b)), b)))
                else:
                    for c in (x, flag, ir.Apply(34, (flag,)), ir.Apply(21, (x, ir.Const(0))),
                              ir.Apply(22, (a, b)), ir.Apply(25, (b, a)),
                              ir.Apply(22, (x, ir.Const(0))), ir.Apply(24, (x, ir.Const(0))),
                              ir.Const(0), ir.Const(3)):
                        values.append(ir.Apply(op.code, (a, b, c)))
    for start in range(0, len(values), 200):
        body = tuple(ir.Assign((2 + k,), v) for k, v in enumerate(values[start:start + 200]))
        fn = ir.Function("f", 2, ("a", "b"), body + (ir.Return(ir.Local(2)),))
        for step in ir_passes.O2_PASSES[:3]:
            check_pass(step.__name__, fn, step(fn), f"test_every_rule_shape chunk {start}")


def test_node_facts_match_the_object_compiler():
    rng = np.random.default_rng(SEED)
    fn = lower(frontend.parse_function(SourceGen(SEED).source()))
    arrays = IRArrays(fn)
    exprs = [h for s in walk(fn.body)
             for h in heads(s) + ((s.cond,) if isinstance(s, ir.While) else ())]
    for e in exprs:
        n = arrays._expr(e)
        assert arrays.expr(n) == e
        assert arrays.ex[n, X_COST] == min(expr_cost(e), COST_LIMIT)
        assert arrays.ex[n, X_DEPTH] == stack_depth(e)
        assert arrays.ex[n, X_BOOL] == is_bool(e)
    for v in list(EDGE_VALUES) + rng.integers(-2**31, 2**31, 200).tolist():
        assert log2(v) == (object_log2(v) if object_log2(v) is not None else -1), v


def test_out_of_room_is_a_status():
    """``x - 5`` becomes ``x + -5``: two nodes more than the three it has (a status, no IR,
    when only one fits)."""
    fn = ir.Function("f", 1, ("x",), (ir.Return(ir.Apply(OP["sub"], (ir.Local(0),
                                                                         ir.Const(5)))),))
    for capacity, room in ((4, True), (5, False)):
        arrays = IRArrays(fn, expr_capacity=capacity)
        ex, htab, sm, pool, meta = arrays.arrays()
        run_ir_pass(PASSES.index("simplify_algebra"), ex, htab, sm, pool, meta,
                    np.zeros(work_size(ex.shape[0], sm.shape[0]), np.int64))
        if room:
            assert meta[T_STATUS] == ROOM
            with pytest.raises(ValueError, match="out of room"):
                arrays.function()
        else:
            assert arrays.function() == ir_passes.O2_PASSES[1](fn)


# End to end ---------------------------------------------------------------------------------

def assert_o2_identical(batch: TokenBatch, where: str) -> None:
    out = compile_batch(batch, 2, 1024)
    for i in range(len(batch)):
        ref = compile_source(batch.source(i), 2)[1]
        assert out.status[i] == 0 and out.err_pos[i] == -1, \
            f"{where}, row {i}: {status_message(out.status[i])}\n{batch.source(i)}"
        got = out.code[i, :out.lengths[i]].numpy()
        assert np.array_equal(got, ref), (f"{where}, row {i}: code differs\n{batch.source(i)}\n"
                                          f"reference {ref.tolist()}\nbatched   {got.tolist()}")
        assert not out.code[i, out.lengths[i]:].any()


@pytest.mark.parametrize("n,seed,config", [(4 * PROGRAMS, SEED, None), (PROGRAMS, SEED + 1, BIG),
                                           (PROGRAMS, SEED + 2, WITH_CONVERSIONS)])
def test_compile_batch_o2_generated(n, seed, config):
    assert_o2_identical(generate_batch(n, seed, config), f"generate_batch({n}, seed={seed})")


def test_compile_batch_o2_suite_corners_and_rule_programs():
    sources = [p.source for p in load_suite()] + CORNERS
    sources += [SourceGen(seed).source() for seed in range(SEED, SEED + PROGRAMS // 2)]
    sources += [branch_program(seed) for seed in range(SEED, SEED + PROGRAMS // 2)]
    assert_o2_identical(TokenBatch.from_sources(sources), "suite, CORNERS, SourceGen, "
                        f"branch_program (seeds from {SEED})")


def test_compile_batch_o2_mutated_rows():
    """Any token row: accepted means the reference's -O2 code; rejected means the reference
    rejects it too (``test_batch_compiler.check_rows``, at -O2)."""
    import collections

    rng = np.random.default_rng(SEED)
    batch = generate_batch(3 * PROGRAMS, SEED + 9, GenConfig(max_stmts=8))
    lits, nlits = batch.lits.numpy(), batch.nlits.numpy()
    rows = []
    for i in range(len(batch)):
        row = batch.tokens[i, :batch.lengths[i]].tolist()
        if i % 2:
            row = mutate(rng, row, int(nlits[i]))
        else:  # same-class edits: most still parse, and reach the later checks
            for _ in range(int(rng.integers(1, 4))):
                p = int(rng.integers(0, len(row)))
                row[p] = same_class(rng, row[p], int(nlits[i]))
        rows.append(row)
    stats: collections.Counter = collections.Counter()
    check_rows(rows, lits, nlits, f"test_compile_batch_o2_mutated_rows (seed {SEED})", stats,
               opts=(2,))
    assert stats["ok"] > PROGRAMS // 2 and len(stats) > 5, stats


@pytest.mark.parametrize("what,tokens,lits,nparams,nnames,opt,want", LIMITS,
                         ids=[case[0] for case in LIMITS])
def test_o2_limits_match_the_reference(what, tokens, lits, nparams, nnames, opt, want):
    lit_row = np.zeros((1, T.NUM_LITS), np.int32)
    lit_row[0, :len(lits)] = lits
    code, lengths, status, _ = compile_arrays_o2(
        np.array([tokens], np.int32), np.array([len(tokens)], np.int32), lit_row,
        np.array([len(lits)], np.int32), np.array([nparams], np.int32),
        np.array([nnames], np.int32), 4096)
    ref = reference(np.array(tokens), np.array(lits, dtype=np.int32), 2)
    if isinstance(ref, str):
        assert status[0] != S.OK, f"{what}: accepted, but the reference: {ref}"
    else:
        assert status[0] == S.OK, f"{what}: {status_message(status[0])}"
        assert np.array_equal(code[0, :lengths[0]], ref), what


def test_o2_code_longer_than_max_code_is_a_status():
    batch = generate_batch(200, SEED + 2)
    refs = [compile_source(batch.source(i), 2)[1] for i in range(len(batch))]
    for max_code in (1, 7, 30, 64):
        out = compile_batch(batch, 2, max_code)
        for i, ref in enumerate(refs):
            where = f"generate_batch(200, seed={SEED + 2}) row {i}, max_code {max_code}"
            if len(ref) > max_code:
                assert out.status[i] == S.E_TOO_LONG and out.lengths[i] == 0, where
                assert not out.code[i].any(), where
            else:
                assert out.status[i] == 0, where
                assert np.array_equal(out.code[i, :out.lengths[i]].numpy(), ref), where


def test_o2_out_of_room_is_a_status():
    """The same program with its -O2 arrays cut ever smaller: it compiles to the reference's
    code while they suffice, then gets ``E_ROOM`` and an all-zero row, never other code."""
    source = generate_sources(1, SEED, BIG)[0]
    batch = TokenBatch.from_sources([source])
    ref = compile_source(source, 2)[1]
    row = [a.numpy()[0] for a in (batch.tokens, batch.lengths, batch.lits, batch.nlits,
                                  batch.nparams, batch.nnames)]
    width = len(row[0])
    full = allocate(width, 1)
    outcomes = []
    for exprs in (full[0].shape[1], 400, 120, 40, 8):
        ex, htab, sm, pool, meta, work = [a[0] for a in full]
        code = np.zeros((1024, 2), np.int32)
        status, pos, n = _compile_one_o2(*row, code, np.zeros(scratch_size(width), np.int32),
                                         np.zeros(STATE_SIZE, np.int64), ex[:exprs].copy(),
                                         htab, sm, pool, meta, work)
        if status == S.OK:
            assert np.array_equal(code[:n], ref), f"{exprs} expression nodes"
        else:
            assert status == S.E_ROOM and n == 0 and not code.any(), status_message(status)
        outcomes.append(int(status))
    assert outcomes[0] == S.OK and outcomes[-1] == S.E_ROOM, outcomes
