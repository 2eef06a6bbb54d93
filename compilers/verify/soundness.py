"""How often does n-test verification accept a wrong program? Measured against SMT truth.

Wrong candidates are one-instruction mutants of the traditional compiler's ``-O2`` code for
seeded generated programs (``mutate``), or samples of an untrained neural compiler (``--source
untrained``: a small model with seeded random weights, temperature 1). SMT sorts them: equivalent mutants are not wrong and are
set aside, as are those it cannot decide (bounded or unknown); the rest are wrong, each with a
counterexample. Each wrong mutant then meets tests of n rows, n in ``SIZES``, in four settings:
random rows only, or the evaluation protocol (edge rows, literal rows, random rows), each with and
without the counterexample pool (the SMT counterexamples of the same program's earlier mutants,
as STOKE pools them). The table reports the fraction accepted.

Run: ``python -m kiln.compilers.verify.soundness --programs 200 --mutants 8`` (prints Markdown;
``docs/verification.md`` has a run's table).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import torch

import kiln

from ..isa import MAX_PARAMS
from ..programs.generator import GenConfig, generate_sources
from ..tokens import TokenBatch, tokenize
from .mutate import mutate
from .probabilistic import Plan, pad_codes, protocol_inputs, run_tests
from .smt import COUNTEREXAMPLE, EQUIVALENT, check_equivalent

SIZES = (8, 32, 128, 512)
SETTINGS = (("random", False), ("random + pool", True), ("protocol", False),
            ("protocol + pool", True))
FUEL = 20_000


@dataclass
class Truth:
    """SMT's verdict on every mutant: ``wrong[p, m]``, and the counterexample rows."""

    wrong: np.ndarray         # bool [P, M]
    rows: np.ndarray          # int32 [P, M, MAX_PARAMS]: a counterexample per wrong mutant
    equivalent: int
    undecided: int
    seconds: float


def mutants_of(program: kiln.Program, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` distinct mutants of the program's code (fewer if it has too few sites)."""
    seen = {program.code.tobytes()}
    out: list[np.ndarray] = []
    for _ in range(count * 10):
        m = mutate(program.code, program.nparams, rng)
        if m is None or len(out) == count:
            break
        if m.tobytes() not in seen:
            seen.add(m.tobytes())
            out.append(m)
    return out


def _untrained_config():
    from ...agents.config import ModelConfig

    return ModelConfig.preset("small")


def untrained_samples(sources: list[str], count: int, seed: int) -> list[list[np.ndarray]]:
    """``count`` samples per source from an untrained small neural compiler (valid bytecode:
    the sampler's action mask guarantees it)."""
    from ...agents.model import Seq2Seq
    from ...agents.sampling import sample
    from ..validate import validate

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Seq2Seq(_untrained_config()).eval()
    with torch.no_grad():
        drawn = sample(model, TokenBatch.from_sources(sources), count, temperature=1.0,
                       max_len=64, seed=seed)
    code, lengths = drawn.code.numpy(), drawn.lengths.numpy()
    out = [[validate(code[i * count + k, :lengths[i * count + k]]).code for k in range(count)]
           for i in range(len(sources))]
    return out


def smt_truth(references: list[kiln.Program], mutants: list[list[np.ndarray]],
              unroll: int) -> Truth:
    start = time.perf_counter()
    wrong = np.zeros((len(mutants), len(mutants[0])), bool)
    rows = np.zeros(wrong.shape + (MAX_PARAMS,), np.int32)
    equivalent = undecided = 0
    for p, (ref, row) in enumerate(zip(references, mutants)):
        for m, code in enumerate(row):
            verdict = check_equivalent(ref.code, code, ref.nparams, unroll=unroll)
            if verdict.outcome == COUNTEREXAMPLE:
                wrong[p, m] = True
                rows[p, m, :ref.nparams] = verdict.inputs
            elif verdict.outcome == EQUIVALENT:
                equivalent += 1
            else:
                undecided += 1
    return Truth(wrong, rows, equivalent, undecided, time.perf_counter() - start)


def _pool_pass(code, lengths, ref_code, ref_lengths, nparams, truth: Truth) -> np.ndarray:
    """``[P, M]``: mutant m agrees with the reference on every counterexample of the same
    program's wrong mutants 0..m-1 (the pool it would meet)."""
    programs, count = truth.wrong.shape
    report = run_tests(code, lengths, ref_code, ref_lengths, nparams,
                       torch.from_numpy(truth.rows), FUEL)
    fails = report.failed.numpy()                       # [P, M, M]: mutant m on row j
    earlier = np.tri(count, k=-1, dtype=bool)[None]     # j < m
    pooled = truth.wrong[:, None, :] & earlier
    return ~(fails & pooled).any(2)


def measure(programs: int, mutants: int, seed: int, unroll: int,
            source: str = "mutants") -> tuple[dict, Truth, int]:
    """The acceptance rate of wrong candidates (``source``: "mutants" or "untrained") for each
    (setting, n); the SMT truth; the programs kept (those with ``mutants`` candidates)."""
    config = GenConfig(max_trip=4)
    rng = np.random.default_rng(seed)
    sources, references, variants = [], [], []
    for text in generate_sources(programs, seed=seed, config=config):
        ref = kiln.compile(text, 2)
        if source == "mutants":
            row = mutants_of(ref, mutants, rng)
        else:  # placeholders, sampled below for the programs the model can read
            readable = len(tokenize(text).tokens) <= _untrained_config().max_source_len
            row = [ref.code] * mutants * readable
        if len(row) == mutants:
            sources.append(text)
            references.append(ref)
            variants.append(row)
    if source == "untrained":
        variants = untrained_samples(sources, mutants, seed)
    truth = smt_truth(references, variants, unroll)
    code, lengths = pad_codes([c for row in variants for c in row], (len(variants), mutants))
    ref_code, ref_lengths = pad_codes([r.code for r in references])
    nparams = torch.tensor([r.nparams for r in references], dtype=torch.int32)
    batch = TokenBatch.from_sources(sources)
    pooled = _pool_pass(code, lengths, ref_code, ref_lengths, nparams, truth)
    rates = {}
    for name, with_pool in SETTINGS:
        protocol = name.startswith("protocol")
        for n in SIZES:
            plan = Plan.of(n, edges=protocol, literals=protocol)
            inputs = protocol_inputs(batch, plan, seed)
            passed = run_tests(code, lengths, ref_code, ref_lengths, nparams, inputs,
                               FUEL).passed.numpy()
            if with_pool:
                passed = passed & pooled
            rates[name, n] = float(passed[truth.wrong].mean())
    return rates, truth, len(references)


def table(rates: dict) -> str:
    head = "| tests n | " + " | ".join(name for name, _ in SETTINGS) + " |"
    rows = [head, "|---:|" + "---:|" * len(SETTINGS)]
    for n in SIZES:
        rows.append(f"| {n} | " + " | ".join(f"{100 * rates[name, n]:.2f}%"
                                             for name, _ in SETTINGS) + " |")
    return "\n".join(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", type=int, default=400)
    parser.add_argument("--mutants", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unroll", type=int, default=8)
    parser.add_argument("--source", choices=("mutants", "untrained"), default="mutants")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rates, truth, kept = measure(args.programs, args.mutants, args.seed, args.unroll,
                                 args.source)
    total = truth.wrong.size
    print(f"{kept} programs x {args.mutants} {args.source} = {total}: {int(truth.wrong.sum())} wrong, "
          f"{truth.equivalent} equivalent, {truth.undecided} undecided (SMT {truth.seconds:.0f} s;"
          f" total {time.perf_counter() - start:.0f} s)")
    print(table(rates))


if __name__ == "__main__":
    main()
