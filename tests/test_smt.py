"""SMT equivalence: the ISA's SMT column against its value semantics, the encoding against the
VM on generated programs (seeded: ``KILN_SMT_SEED``, ``KILN_SMT_PROGRAMS``), planted wrong
candidates, bounds and resource limits."""
from __future__ import annotations

import os

import numpy as np
import pytest
import z3

import kiln
from kiln.compilers import isa
from kiln.compilers.asm import assemble
from kiln.compilers.programs.generator import GenConfig, generate_sources
from kiln.compilers.programs.suite import get_program
from kiln.compilers.verify.smt import (BOUNDED, COUNTEREXAMPLE, EQUIVALENT, UNKNOWN,
                                       EncodingTooLarge, check_equivalent, encode, solve_outputs)

FIRST_SEED = int(os.environ.get("KILN_SMT_SEED", "0"))
PROGRAMS = int(os.environ.get("KILN_SMT_PROGRAMS", "60"))
EDGES = (0, 1, -1, 2, -2, 31, 32, 33, isa.INT32_MIN, isa.INT32_MAX, isa.INT32_MIN + 1, 7, -7)


def _operands(rng, arity, count=40):
    rows = [tuple(rng.choice(EDGES, arity)) for _ in range(count)]
    rows += [tuple(int(v) for v in rng.integers(isa.INT32_MIN, isa.INT32_MAX + 1, arity))
             for _ in range(count)]
    return rows


@pytest.mark.parametrize("op", isa.PURE_OPS, ids=lambda op: op.name)
def test_smt_column_matches_value_semantics(op):
    rng = np.random.default_rng(op.code)
    for operands in _operands(rng, op.pops):
        term = op.smt(*(z3.BitVecVal(int(v), 32) for v in operands))
        got = isa.wrap(z3.simplify(term).as_long())
        assert got == op.sem(*(int(v) for v in operands)), (op.name, operands)


def test_every_pure_opcode_has_an_smt_meaning():
    assert [op.name for op in isa.OPS if (op.sem is None) != (op.smt is None)] == []


def test_solver_model_matches_the_vm_on_generated_programs():
    """The model z3 returns for "f(x) = ?" is what the VM returns, at -O0 and -O2."""
    config = GenConfig(max_trip=4)
    sources = generate_sources(PROGRAMS, seed=FIRST_SEED, config=config)
    rng = np.random.default_rng(FIRST_SEED)
    for index, source in enumerate(sources):
        for opt in (0, 2):
            program = kiln.compile(source, opt)
            args = rng.integers(isa.INT32_MIN, isa.INT32_MAX + 1, (2, program.nparams))
            args[1, :] = rng.choice(EDGES, program.nparams)
            expected = program.run(args).tolist()
            got = solve_outputs(program.code, program.nparams, args.tolist(),
                                unroll=config.max_trip + 2)
            assert got == expected, (f"seed {FIRST_SEED} program {index} -O{opt} on "
                                     f"{args.tolist()}: solver {got}, VM {expected}\n{source}")


def _verdict(reference: str, candidate: str, **kw):
    a, b = kiln.compile(reference, 1), kiln.compile(candidate, 1)
    return a, b, check_equivalent(a.code, b.code, a.nparams, **kw)


def _reproduces(a, b, verdict):
    """The counterexample's inputs make the VM return the values the solver reported."""
    row = [list(verdict.inputs)]
    return (int(a.run(row)[0]), int(b.run(row)[0])) == verdict.values and \
        verdict.values[0] != verdict.values[1]


PLANTED = {
    # name: (reference, wrong candidate)
    "off by one at INT_MIN": ("def f(x, y):\n    return x <= y\n",
                              "def f(x, y):\n    return x - 1 < y\n"),
    "wrong shift count": ("def f(x):\n    return (x >> 3) & 1\n",
                          "def f(x):\n    return (x >> 4) & 1\n"),
    "signed/unsigned mix-up": ("def f(x):\n    return x // 16\n",
                               "def f(x):\n    return udiv(x, 16)\n"),
    "missing branch case": ("def f(x):\n    if x * 7 == 3:\n        return 1\n    return x & 255\n",
                            "def f(x):\n    return x & 255\n"),
}


@pytest.mark.parametrize("name", PLANTED)
def test_planted_wrong_candidates_are_refuted_and_reproduce(name):
    a, b, verdict = _verdict(*PLANTED[name])
    assert verdict.outcome == COUNTEREXAMPLE, verdict
    assert _reproduces(a, b, verdict), verdict
    assert "counterexample" in verdict.describe(("x", "y"))


def test_missing_case_is_found_at_its_only_input():
    _, _, verdict = _verdict(*PLANTED["missing branch case"])
    assert verdict.inputs == (613566757,)  # 3 * 7**-1 mod 2**32: the one input that differs


@pytest.mark.parametrize("name", ["abs_branchless", "clamp", "byte_swap", "popcount",
                                  "leap_year", "days_in_month", "saturating_add", "rotate_left"])
def test_optimisation_levels_prove_equivalent_loop_free(name):
    source = get_program(name).source
    a, b = kiln.compile(source, 0), kiln.compile(source, 2)
    assert check_equivalent(a.code, b.code, a.nparams).outcome == EQUIVALENT


def test_constant_trip_loops_prove_fully():
    source = "def f(x):\n    s = 0\n    for i in range(5):\n        s += x\n    return s\n"
    _, _, verdict = _verdict(source, "def f(x):\n    return x * 5\n")
    assert verdict.outcome == EQUIVALENT


LONG_LOOP = "def f(x):\n    s = 0\n    for i in range(x & 31):\n        s += 1\n    return s\n"
DIFFERS_AT_20 = "def f(x):\n    return x & 31 if (x & 31) < 20 else 0\n"


def test_difference_beyond_the_bound_is_only_bounded():
    _, _, verdict = _verdict(LONG_LOOP, DIFFERS_AT_20, unroll=8)
    assert (verdict.outcome, verdict.bound) == (BOUNDED, 8)
    assert verdict.describe() == "equivalent up to 8 iterations of every loop"


def test_difference_within_the_bound_is_refuted():
    a, b, verdict = _verdict(LONG_LOOP, DIFFERS_AT_20, unroll=24)
    assert verdict.outcome == COUNTEREXAMPLE and _reproduces(a, b, verdict)
    assert verdict.inputs[0] & 31 >= 20


def test_resource_limit_gives_unknown_the_same_way_every_time():
    source = "def f(x, y):\n    return (x * y) // (y | 1) + x % (y | 3)\n"
    other = "def f(x, y):\n    return (x * y) // (y | 3) + x % (y | 1)\n"
    outcomes = {_verdict(source, other, rlimit=2000)[2].outcome for _ in range(3)}
    assert outcomes == {UNKNOWN}


def test_encoding_size_limit_gives_unknown():
    source = get_program("gcd").source
    a, b = kiln.compile(source, 0), kiln.compile(source, 2)
    verdict = check_equivalent(a.code, b.code, 2, max_steps=50)
    assert verdict.outcome == UNKNOWN and "symbolic instructions" in verdict.reason
    with pytest.raises(EncodingTooLarge):
        encode(a.code, 2, max_steps=50)


def test_malformed_bytecode_is_a_validation_error():
    with pytest.raises(kiln.ValidationError):
        encode(assemble("add\nreturn"), 0)
