"""The evaluation protocol (``kiln.compilers.evaluation``): test inputs, runs and metrics,
against slow per-element references."""
from __future__ import annotations

import hashlib
import math
import random

import numpy as np
import torch

from kiln.compilers import evaluation, hashing
from kiln.compilers.isa import INT32_MAX, INT32_MIN, MAX_PARAMS
from kiln.compilers.traditional.pipeline import compile_source
from kiln.compilers.vm import OK, OUT_OF_FUEL, Result, run_reference

def test_test_inputs_cover_the_edge_cases() -> None:
    key_lo, key_hi = hashing.split_key(123, 3)
    episode = torch.tensor([0, 5, 9])
    inputs = evaluation.test_inputs(key_lo, key_hi, episode, 32)
    assert inputs.shape == (3, 32, MAX_PARAMS) and inputs.dtype == torch.int32
    edges = inputs[:, :evaluation.EDGE_ROWS]
    for value in (0, 1, -1, INT32_MIN, INT32_MAX):
        assert ((edges == value).sum(1) >= 1).all(), value
    assert torch.equal(inputs, evaluation.test_inputs(key_lo, key_hi, episode, 32))
    later = evaluation.test_inputs(key_lo, key_hi, episode + 1, 32)
    assert not torch.equal(inputs[:, evaluation.EDGE_ROWS:], later[:, evaluation.EDGE_ROWS:])
    powers = inputs[:, evaluation.EDGE_ROWS:].abs()
    assert ((powers & (powers - 1)) == 0).any(), "random rows include powers of two"


def test_draws_are_pinned() -> None:
    # Golden values: the single env, the vector env and saved results all depend on them.
    assert hashing.hash32(0).item() == hashing.hash32(torch.tensor(0)).item()
    lo, hi = hashing.split_key(2**64 - 1, 2)
    assert lo.tolist() == [2**32 - 1, 0] and hi.tolist() == [2**32 - 1, 0]
    words = hashing.fmix32(torch.tensor([0, 1, 2**32 - 1]))
    assert words.tolist() == [0, 1364076727, 2180083513]


def test_test_inputs_are_pinned() -> None:
    # The envs' rewards and saved results depend on these bits: moving the protocol must not
    # change them (digest taken before the move, at commit 7427db8).
    key_lo, key_hi = hashing.split_key(2**40 + 3, 257)
    inputs = evaluation.test_inputs(key_lo, key_hi, torch.arange(257) * 3, 40)
    digest = hashlib.sha256(inputs.numpy().tobytes()).hexdigest()
    assert digest == "545b08e77ddf967198eaf4b7d5b0cbfe66c51dd7054bcdd0394efdf6f4e40549"
    drawn = hashing.draw(key_lo, key_hi, torch.arange(257) * 3, hashing.PROGRAM)
    assert drawn[:5].tolist() == [168225353, 615924363, 4172865561, 3072789173, 2991718028]


def test_literal_rows_hold_literals_and_their_neighbours() -> None:
    rng = random.Random(7)
    lanes, nlit_max = 64, 5
    lits = torch.tensor([[rng.choice([0, 5, -3, INT32_MAX, INT32_MIN, rng.randint(-99, 99)])
                          for _ in range(nlit_max)] for _ in range(lanes)], dtype=torch.int32)
    nlits = torch.tensor([rng.randint(0, nlit_max) for _ in range(lanes)])
    key_lo, key_hi = hashing.split_key(11, lanes)
    episode = torch.zeros(lanes, dtype=torch.int64)
    plain = evaluation.test_inputs(key_lo, key_hi, episode, 20)
    rows = evaluation.test_inputs(key_lo, key_hi, episode, 20, lits=lits, nlits=nlits,
                                  literal_rows=6)
    band = slice(evaluation.EDGE_ROWS, evaluation.EDGE_ROWS + 6)
    assert torch.equal(rows[:, :band.start], plain[:, :band.start])
    assert torch.equal(rows[:, band.stop:], plain[:, band.stop:])
    for b in range(lanes):
        if nlits[b] == 0:
            assert torch.equal(rows[b, band], plain[b, band]), f"lane {b}"
            continue
        near = {((v + d - INT32_MIN) % 2**32) + INT32_MIN
                for v in lits[b, :nlits[b]].tolist() for d in (-1, 0, 1)}
        assert set(rows[b, band].flatten().tolist()) <= near, f"lane {b}"


def _programs() -> list[np.ndarray]:
    sources = ["def f(a, b):\n    return a + b\n",
               "def f(a, b):\n    return a * b - 3\n",
               "def f(a, b):\n    while a != b:\n        a += 1\n    return a\n",
               "def f(a, b):\n    return a ^ b if a < b else a\n"]
    return [compile_source(s, 1)[1] for s in sources]


def test_run_tests_and_compare_match_the_reference_vm() -> None:
    rng = np.random.default_rng(3)
    code = _programs()
    pairs = [(i, j) for i in range(len(code)) for j in range(len(code))]
    width = max(len(c) for c in code)
    candidate = torch.zeros((len(pairs), width, 2), dtype=torch.int32)
    reference = torch.zeros_like(candidate)
    for k, (i, j) in enumerate(pairs):
        candidate[k, :len(code[i])] = torch.from_numpy(code[i])
        reference[k, :len(code[j])] = torch.from_numpy(code[j])
    cand_len = torch.tensor([len(code[i]) for i, _ in pairs], dtype=torch.int32)
    ref_len = torch.tensor([len(code[j]) for _, j in pairs], dtype=torch.int32)
    nparams = torch.full((len(pairs),), 2, dtype=torch.int32)
    key_lo, key_hi = hashing.split_key(5, len(pairs))
    inputs = evaluation.test_inputs(key_lo, key_hi, torch.zeros(len(pairs), dtype=torch.int64),
                                    12)
    fuel = int(rng.integers(50, 500))
    got_c, got_r = evaluation.run_tests(candidate, cand_len, reference, ref_len, nparams,
                                        inputs, fuel)
    result = evaluation.compare(got_c, got_r)
    for k, (i, j) in enumerate(pairs):
        runs_c = [run_reference(code[i], row, 2, fuel) for row in inputs[k].tolist()]
        runs_r = [run_reference(code[j], row, 2, fuel) for row in inputs[k].tolist()]
        assert got_c.value[k].tolist() == [v for v, _, _ in runs_c], f"fuel {fuel}, pair {k}"
        assert got_r.cycles[k].tolist() == [c for _, _, c in runs_r], f"fuel {fuel}, pair {k}"
        passed = [sc == sr == OK and vc == vr
                  for (vc, sc, _), (vr, sr, _) in zip(runs_c, runs_r)]
        assert result.passed[k].tolist() == passed, f"fuel {fuel}, pair {k}"
        assert result.pass_rate[k].item() == sum(passed) / len(passed)
        total_c, total_r = sum(c for *_, c in runs_c), sum(c for *_, c in runs_r)
        assert result.candidate_cost[k].item() == total_c / len(runs_c)
        finished = all(sc == sr == OK for (_, sc, _), (_, sr, _) in zip(runs_c, runs_r))
        assert result.speedup[k].item() == (max(total_r, 1) / max(total_c, 1) if finished
                                            else 0.0)
        assert result.fuel_out[k].item() == any(s == OUT_OF_FUEL for _, s, _ in runs_c)
        assert result.answered[k].item() == all(s == OK for _, s, _ in runs_r)
        assert result.correct[k].item() == all(passed)
    same = torch.tensor([i == j for i, j in pairs])
    done = same & result.answered  # a program that runs out of fuel has no answer, even to itself
    assert result.correct[done].all() and (result.speedup[done] == 1).all()
    assert not result.correct[~result.answered].any()


def test_compare_never_passes_or_prices_a_cut_off_run() -> None:
    """Both out of fuel once counted as agreement, and a speedup came from the cut-off runs:
    an empty endless loop matched an endless oracle and scored the maximum."""
    def res(value, status, cycles):
        return Result(*(torch.tensor([x], dtype=torch.int32) for x in (value, status, cycles)))

    c = evaluation.compare(res([1, 0, 5], [OK, OUT_OF_FUEL, OK], [4, 9, 2]),
                           res([1, 0, 6], [OK, OUT_OF_FUEL, OK], [3, 9, 3]))
    assert c.passed.tolist() == [[True, False, False]] and c.fuel_out.item()
    assert not c.answered.item() and c.speedup.item() == 0.0 and c.reference_cost.item() == 5.0
    c = evaluation.compare(res([1, 5], [OK, OK], [4, 2]), res([1, 5], [OK, OK], [3, 9]))
    assert c.correct.item() and c.answered.item() and c.speedup.item() == 12 / 6


def test_geometric_mean() -> None:
    values = torch.tensor([[1.0, 4.0, 2.0], [0.5, 2.0, 1.0]])
    got = evaluation.geometric_mean(values)
    assert torch.allclose(got, torch.tensor([2.0, 1.0], dtype=torch.float64))
    assert math.isclose(evaluation.geometric_mean(torch.tensor([3.0])).item(), 3.0)
