"""Probabilistic verification: protocol inputs, batched candidate tests, the counterexample pool,
evidence bounds, and planted wrong candidates (tests reject them, or SMT refutes them and the
counterexample, pooled, makes the tests reject them too)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import kiln
from kiln.compilers import isa
from kiln.compilers.asm import assemble
from kiln.compilers.tokens import TokenBatch
from kiln.compilers.verify.mutate import mutate
from kiln.compilers.verify.probabilistic import (CounterexamplePool, Evidence, Plan, pad_codes,
                                                 protocol_inputs, run_tests, samples_needed,
                                                 some_correct)
from kiln.compilers.verify.smt import COUNTEREXAMPLE, check_equivalent
from kiln.compilers.vm import run_reference

from test_smt import PLANTED

SOURCES = ["def f(x):\n    return x + 12345\n", "def g(a, b):\n    return a * b\n",
           "def h(a, b, c):\n    return a - b + c\n"]


def test_plan_splits_rows_by_kind():
    assert Plan.of(8) == Plan(8, 0, 0)
    assert Plan.of(64) == Plan(8, 14, 42)
    assert Plan.of(64, edges=False, literals=False) == Plan(0, 0, 64)
    with pytest.raises(ValueError):
        Plan.of(0)


def test_protocol_inputs_have_edges_literals_and_are_reproducible():
    batch = TokenBatch.from_sources(SOURCES)
    plan = Plan.of(64)
    rows = protocol_inputs(batch, plan, seed=5)
    assert rows.shape == (3, 64, isa.MAX_PARAMS) and rows.dtype == torch.int32
    assert torch.equal(rows, protocol_inputs(batch, plan, seed=5))
    assert not torch.equal(rows, protocol_inputs(batch, plan, seed=6))
    for p in range(isa.MAX_PARAMS):  # every parameter meets INT_MIN and INT_MAX in edge rows
        column = set(rows[0, :8, p].tolist())
        assert {0, 1, -1, isa.INT32_MIN, isa.INT32_MAX} <= column
    literal = rows[0, 8:8 + plan.literal, 0].tolist()
    assert set(literal) <= {12344, 12345, 12346} and len(set(literal)) > 1
    # a program's rows depend on its index and the seed, not on the rest of the batch
    alone = protocol_inputs(TokenBatch.from_sources(SOURCES[:1]), plan, seed=5)
    assert torch.equal(alone[0], rows[0])


def _check(reference: str, candidate: str, plan: Plan, pool: CounterexamplePool | None = None):
    ref, cand = kiln.compile(reference, 1), kiln.compile(candidate, 1)
    batch = TokenBatch.from_sources([reference])
    inputs = protocol_inputs(batch, plan, seed=0)
    if pool is not None:
        inputs = pool.extend(inputs)
    code, lengths = pad_codes([cand.code])
    rcode, rlengths = pad_codes([ref.code])
    report = run_tests(code[None], lengths[None], rcode, rlengths,
                       torch.tensor([ref.nparams], dtype=torch.int32), inputs)
    return bool(report.passed[0, 0])


@pytest.mark.parametrize("name", ["off by one at INT_MIN", "wrong shift count",
                                  "signed/unsigned mix-up"])
def test_protocol_tests_reject_planted_wrong_candidates(name):
    assert not _check(*PLANTED[name], Plan.of(64))


def test_random_rows_alone_miss_the_int_min_bug_that_edge_rows_catch():
    assert _check(*PLANTED["off by one at INT_MIN"], Plan.of(512, edges=False, literals=False))
    assert not _check(*PLANTED["off by one at INT_MIN"], Plan.of(8))


def test_tests_miss_the_missing_case_until_smt_counterexample_joins_the_pool():
    reference, candidate = PLANTED["missing branch case"]
    assert _check(reference, candidate, Plan.of(512))
    ref, cand = kiln.compile(reference, 1), kiln.compile(candidate, 1)
    verdict = check_equivalent(ref.code, cand.code, 1)
    assert verdict.outcome == COUNTEREXAMPLE
    pool = CounterexamplePool(1, capacity=4)
    pool.add(0, verdict.inputs)
    assert not _check(reference, candidate, Plan.of(512), pool)


def test_run_tests_matches_the_reference_vm_and_fails_invalid_code():
    rng = np.random.default_rng(0)
    references = [kiln.compile(s, 2) for s in SOURCES]
    candidates = [[mutate(r.code, r.nparams, rng) for _ in range(3)] + [assemble("add")]
                  for r in references]
    code, lengths = pad_codes([c for row in candidates for c in row], (3, 4))
    rcode, rlengths = pad_codes([r.code for r in references])
    nparams = torch.tensor([r.nparams for r in references], dtype=torch.int32)
    inputs = protocol_inputs(TokenBatch.from_sources(SOURCES), Plan.of(32), seed=1)
    report = run_tests(code, lengths, rcode, rlengths,
                       nparams, inputs)
    for b, r in enumerate(references):
        assert not report.passed[b, 3] and report.failed[b, 3].all()  # invalid bytecode
        for k in range(3):
            expected = [run_reference(candidates[b][k], row, r.nparams, 10**5)[0]
                        == run_reference(r.code, row, r.nparams, 10**5)[0]
                        for row in inputs[b].tolist()]
            assert report.failed[b, k].tolist() == [not e for e in expected], (b, k)
        assert report.reference_cost[b] == pytest.approx(r.cost(inputs[b, :, :r.nparams]))


def test_pool_absorbs_first_failures_on_the_device_path():
    pool = CounterexamplePool(2, capacity=2)
    inputs = torch.arange(2 * 3 * isa.MAX_PARAMS, dtype=torch.int32).reshape(2, 3, -1)
    failed = torch.tensor([[False, True, True], [False, False, False]])
    pool.absorb(inputs, failed)
    assert pool.count.tolist() == [1, 0]
    assert torch.equal(pool.rows[0, 0], inputs[0, 1])
    extended = pool.extend(inputs)
    assert extended.shape == (2, 5, isa.MAX_PARAMS)
    assert torch.equal(extended[0, 3], inputs[0, 1]) and torch.equal(extended[1, 3], inputs[1, 0])
    for _ in range(3):  # past capacity, the oldest rows are overwritten
        pool.add(1, [7, 8])
    assert pool.count.tolist() == [1, 3] and pool.rows[1, :, :2].tolist() == [[7, 8], [7, 8]]


def test_evidence_bounds():
    evidence = Evidence.of(Plan.of(64), pool=2)
    assert evidence.tests == 66 and evidence.kinds() == {"edge": 8, "literal": 14,
                                                         "random": 42, "pool": 2}
    assert evidence.pass_bound(0.1) == pytest.approx(0.9 ** 42)
    eps = evidence.epsilon_at(0.95)
    assert (1 - eps) ** 42 == pytest.approx(0.05)
    assert Evidence(8, 0, 0).epsilon_at() == 1.0
    assert some_correct(0.1, 16) == pytest.approx(1 - 0.9 ** 16)
    k = samples_needed(0.1, 0.99)
    assert some_correct(0.1, k) >= 0.99 > some_correct(0.1, k - 1)
    assert math.isclose(some_correct(0.0, 5), 0.0)


def test_mutations_stay_valid_and_change_the_code():
    rng = np.random.default_rng(3)
    for source in SOURCES + [p[0] for p in PLANTED.values()]:
        program = kiln.compile(source, 2)
        for _ in range(20):
            mutant = mutate(program.code, program.nparams, rng)
            kiln.Program("m", program.params, mutant)  # validates
            assert not np.array_equal(mutant, program.code)


def test_audit_counts_refutations_of_accepted_outputs():
    from kiln.compilers.verify.audit import audit

    reference, wrong = PLANTED["missing branch case"]
    ref = kiln.compile(reference, 2)
    outputs = [kiln.compile(reference, 0).code, kiln.compile(wrong, 1).code,
               kiln.compile(wrong, 1).code]
    code, lengths = pad_codes(outputs)
    rcode, rlengths = pad_codes([ref.code] * 3)
    accepted = torch.tensor([True, True, False])
    result = audit(code, lengths, rcode, rlengths, torch.ones(3, dtype=torch.int32), accepted)
    assert (result.checked, result.proved, result.refuted, result.unknown) == (2, 1, 1, 0)
    index, inputs = result.counterexamples[0]
    assert index == 1
    assert kiln.Program("w", ("x",), outputs[1]).run([inputs])[0] != ref.run([inputs])[0]
    assert result.refuted_fraction == 0.5


def test_soundness_measurement_smoke():
    """The table's rates are fractions of SMT-wrong mutants, and pooling can only lower them."""
    from kiln.compilers.verify.soundness import SETTINGS, SIZES, measure, table

    rates, truth, kept = measure(programs=6, mutants=3, seed=2, unroll=6)
    assert truth.wrong.shape == (kept, 3) and truth.wrong.sum() > 0
    assert truth.wrong.sum() + truth.equivalent + truth.undecided == truth.wrong.size
    for n in SIZES:
        for name, _ in SETTINGS:
            assert 0.0 <= rates[name, n] <= 1.0
        assert rates["random + pool", n] <= rates["random", n]
        assert rates["protocol + pool", n] <= rates["protocol", n]
    assert table(rates).count("\n") == len(SIZES) + 1


def test_soundness_of_a_checkpoints_samples(tmp_path):
    """``--source checkpoint``: a saved model's samples are sorted by SMT like mutants (a tiny
    untrained checkpoint: its samples are mostly wrong), and the JSON report says so."""
    import json

    from kiln.agents.checkpoint import save_checkpoint
    from kiln.agents.config import ModelConfig
    from kiln.agents.model import Seq2Seq
    from kiln.compilers.verify.soundness import main, measure

    torch.manual_seed(0)
    path = tmp_path / "tiny"
    save_checkpoint(path, Seq2Seq(ModelConfig.preset("tiny")))
    rates, truth, kept = measure(programs=4, mutants=2, seed=1, unroll=4, source="checkpoint",
                                 checkpoint=str(path))
    assert truth.wrong.shape == (kept, 2) and kept >= 1
    assert truth.wrong.sum() + truth.equivalent + truth.undecided == truth.wrong.size
    assert all(0.0 <= r <= 1.0 for r in rates.values())
    with pytest.raises(ValueError, match="source must be one of"):
        measure(programs=1, mutants=1, seed=0, unroll=4, source="nope")
    out = tmp_path / "s.json"
    main(["--programs", "3", "--mutants", "2", "--seed", "1", "--unroll", "4", "--source",
          "checkpoint", "--checkpoint", str(path), "--json", str(out)])
    report = json.loads(out.read_text())
    assert report["wrong"] + report["equivalent"] + report["undecided"] == report["candidates"]
    assert report["meta"]["device"] == "cpu" and len(report["accepted"]) == 16


def test_hybrid_bench_smoke():
    from kiln.training.hybrid_bench import run

    report = run(programs=6, samples=3, device="cpu", source="mutants", checkpoint=None, seed=0)
    assert sum(report["fraction"].values()) == pytest.approx(1.0)
    assert set(report["seconds"]) == {"traditional", "sampling", "testing", "proving", "total"}
    assert 0.0 <= report["unknown_fraction"] <= 1.0
