"""The hybrid compiler on planted candidate sources: every output is proved equal to -O2 or is
the -O2 code, cheaper proved candidates win, counterexamples refute and join the pool, and a
source of junk (what an untrained model emits) falls back everywhere."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import kiln
from kiln.compilers.asm import assemble
from kiln.compilers.hybrid import (NO_PASS, NOT_CHEAPER, HybridConfig, Stages, compile_hybrid)
from kiln.compilers.tokens import TokenBatch
from kiln.compilers.verify.mutate import mutate
from kiln.compilers.verify.probabilistic import CounterexamplePool, pad_codes
from kiln.compilers.verify.smt import EQUIVALENT, check_equivalent

MASKS = "def f(x):\n    return (x & 255) | (x & ~255)\n"      # -O2 misses that this is x
MISSING = "def f(x):\n    if x * 7 == 3:\n        return 1\n    return x & 255\n"
MAXIMUM = "def f(x, y):\n    if x > y:\n        return x\n    return y\n"

IDENTITY = assemble("get 0\nreturn")
LOW_BYTE = assemble("get 0\nconst 255\nand\nreturn")        # wrong for MASKS; for MISSING only at 613566757
MISSING_CHEAPER = assemble("get 0\nconst 613566757\neq\nif\nconst 1\nreturn\nend\n"
                           "get 0\nconst 255\nand\nreturn")


def planted(per_program: list[list[np.ndarray]]):
    """A candidate source that returns fixed candidates (program i gets ``per_program[i]``)."""
    def source(batch: TokenBatch, samples: int):
        assert len(batch) == len(per_program)
        return pad_codes([row[k % len(row)] for row in per_program for k in range(samples)],
                         (len(batch), samples))
    return source


def _check_outputs(sources, outputs):
    """Every output is the -O2 code, or SMT proves it equal to it; the VM agrees."""
    rng = np.random.default_rng(0)
    for source, program in zip(sources, outputs):
        o2 = kiln.compile(source, 2)
        if program.provenance.outcome == "fell_back":
            assert np.array_equal(program.code, o2.code)
        else:
            assert program.provenance.outcome == "proved"
            assert check_equivalent(program.code, o2.code, o2.nparams).outcome == EQUIVALENT
        args = rng.integers(-2**31, 2**31, (64, o2.nparams))
        assert np.array_equal(program.run(args), o2.run(args))


def test_cheapest_proved_candidate_wins_and_counterexamples_are_pooled():
    sources = [MASKS, MISSING, MAXIMUM]
    source = planted([[LOW_BYTE, IDENTITY], [LOW_BYTE, MISSING_CHEAPER], [IDENTITY]])
    stages = Stages()
    pool = CounterexamplePool(3, capacity=4)
    outputs = compile_hybrid(sources, source, HybridConfig(samples=4), stages=stages, pool=pool)
    _check_outputs(sources, outputs)
    masks, missing, maximum = outputs
    assert np.array_equal(masks.code, IDENTITY) and masks.provenance.outcome == "proved"
    assert masks.provenance.refuted == 0        # LOW_BYTE failed the tests, never reached SMT
    assert np.array_equal(missing.code, MISSING_CHEAPER)
    assert missing.provenance.refuted == 1      # LOW_BYTE passed the tests; SMT refuted it
    assert pool.count.tolist() == [0, 1, 0] and pool.rows[1, 0, 0] == 613566757
    assert maximum.provenance.outcome == "fell_back" and maximum.provenance.reason == NO_PASS
    assert stages.outcomes == {"proved": 2, "fell_back": 1}
    assert masks.static_cost < kiln.compile(MASKS, 2).static_cost
    assert dict(masks.provenance.tests)["edge"] == 8


def test_candidates_no_cheaper_than_o2_are_not_proved():
    o2 = kiln.compile(MAXIMUM, 2)
    outputs = compile_hybrid([MAXIMUM], planted([[o2.code]]), HybridConfig(samples=2))
    assert outputs[0].provenance.reason == NOT_CHEAPER and outputs[0].provenance.proofs == 0


def test_unknown_falls_back_and_says_so():
    outputs = compile_hybrid([MASKS], planted([[IDENTITY]]), HybridConfig(samples=1, rlimit=1))
    provenance = outputs[0].provenance
    assert provenance.outcome == "fell_back" and provenance.unknown == 1
    assert "unknown" in provenance.reason
    assert np.array_equal(outputs[0].code, kiln.compile(MASKS, 2).code)


def _junk(batch: TokenBatch, samples: int):
    """Uniformly random instructions: what an untrained model's tokens amount to."""
    generator = torch.Generator().manual_seed(0)
    code = torch.stack([torch.randint(0, 45, (len(batch), samples, 12), generator=generator),
                        torch.randint(-2, 3, (len(batch), samples, 12), generator=generator)], -1)
    return code.to(torch.int32), torch.full((len(batch), samples), 12, dtype=torch.int32)


def test_junk_candidates_fall_back_everywhere_to_o2():
    from kiln.compilers.programs.generator import generate_sources

    sources = generate_sources(24, seed=11)
    outputs = compile_hybrid(sources, _junk, HybridConfig(samples=8))
    assert all(p.provenance.outcome == "fell_back" for p in outputs)
    for source, program in zip(sources, outputs):
        assert np.array_equal(program.code, kiln.compile(source, 2).code)


def test_mutants_never_get_through():
    """Mutants of -O1 code that pass the tests and look cheaper than -O2 are proved or refuted;
    whatever comes out is equal to -O2."""
    from kiln.compilers.programs.generator import GenConfig, generate_sources

    sources = generate_sources(16, seed=5, config=GenConfig(p_for=0, p_while=0))
    rng = np.random.default_rng(5)
    per_program = []
    for s in sources:
        o1 = kiln.compile(s, 1)
        per_program.append([o1.code] + [m for m in (mutate(o1.code, o1.nparams, rng)
                                                    for _ in range(7)) if m is not None])
    outputs = compile_hybrid(sources, planted(per_program), HybridConfig(samples=8, tests=16))
    _check_outputs(sources, outputs)


def test_bad_arguments():
    with pytest.raises(ValueError, match="samples"):
        compile_hybrid([MASKS], _junk, HybridConfig(samples=0))
    with pytest.raises(kiln.CompileError):
        compile_hybrid(["def f(x):\n    return y\n"], _junk)


def test_provenance_names_the_checkpoint_that_was_sampled():
    """The hybrid's outputs (proved or fallen back) record the weights hash of the checkpoint
    its candidates came from, as the neural compiler's do; planted candidates name none."""
    from kiln.agents.checkpoint import read_metadata
    from kiln.compilers.neural import DEFAULT_CHECKPOINT, checkpoint_id

    weights = read_metadata(DEFAULT_CHECKPOINT)["weights_sha256"]
    hybrid = kiln.compile(MAXIMUM, approach="hybrid", samples=2, device="cpu")
    assert hybrid.provenance.approach == "hybrid"
    assert hybrid.provenance.checkpoint == weights[:16]
    assert checkpoint_id({"weights_sha256": weights}) == weights[:16]
    neural = kiln.compile("def f(a, b):\n    return a - b\n", approach="neural", device="cpu")
    assert neural.provenance.checkpoint == weights[:16]
    planted_only = compile_hybrid([MASKS], planted([[IDENTITY]]), HybridConfig(samples=1))
    assert planted_only[0].provenance.checkpoint == ""
    assert kiln.compile(MASKS).provenance.checkpoint == ""
