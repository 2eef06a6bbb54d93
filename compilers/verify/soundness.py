"""How often does n-test verification accept a wrong program? Measured against SMT truth.

Wrong candidates are one-instruction mutants of the traditional compiler's ``-O2`` code for
seeded generated programs (``mutate``), or samples of a neural compiler: ``--source untrained``
(a small model with seeded random weights, temperature 1) or ``--source checkpoint`` (a trained
model, ``--checkpoint PATH``, default the shipped one, sampled as the hybrid compiler samples: the
first candidate greedy, the others at temperature 1). SMT sorts them: equivalent candidates are
not wrong and are set aside, as are those it cannot decide (bounded or unknown); the rest are
wrong, each with a counterexample. Each wrong candidate then meets tests of n rows, n in
``SIZES``, in four settings: random rows only, or the evaluation protocol (edge rows, literal
rows, random rows), each with and without the counterexample pool (the SMT counterexamples of the
same program's earlier candidates, as STOKE pools them). The table reports the fraction accepted.

Run: ``python -m kiln.compilers.verify.soundness --programs 200 --mutants 8`` (prints Markdown;
``--json FILE`` also writes the counts and rates; ``docs/verification.md`` has the runs' tables).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import numpy as np
import torch

import kiln

from ..isa import MAX_PARAMS
from ..programs.generator import GenConfig, generate_sources
from ...fileio import atomic_write
from ..tokens import TokenBatch, tokenize
from .mutate import mutate
from .probabilistic import Plan, pad_codes, protocol_inputs, run_tests
from .smt import COUNTEREXAMPLE, EQUIVALENT, Verdict, check_equivalent

SIZES = (8, 32, 128, 512)
SETTINGS = (("random", False), ("random + pool", True), ("protocol", False),
            ("protocol + pool", True))
FUEL = 20_000
SOURCES = ("mutants", "untrained", "checkpoint")
EQUIVALENT_VERDICT = Verdict(EQUIVALENT)  # of a candidate identical to its reference


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


def _untrained_model(seed: int):
    """The "small" neural compiler with seeded random weights, on the CPU."""
    from ...agents.config import ModelConfig
    from ...agents.model import Seq2Seq

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Seq2Seq(ModelConfig.preset("small")).eval()


def model_samples(model, sources: list[str], count: int, seed: int, *, trained: bool
                  ) -> list[list[np.ndarray]]:
    """``count`` samples per source from ``model`` (valid bytecode: the sampler's action mask
    guarantees it). Untrained: temperature 1, at most 64 tokens. Trained: as the hybrid
    compiler samples (the first greedy, the others at temperature 1, the model's full length)."""
    from ...agents.sampling import sample
    from ..validate import validate

    with torch.no_grad():
        drawn = sample(model, TokenBatch.from_sources(sources), count, temperature=1.0,
                       max_len=None if trained else 64, seed=seed, greedy_first=trained)
    code, lengths = drawn.code.cpu().numpy(), drawn.lengths.cpu().numpy()
    return [[validate(code[i * count + k, :lengths[i * count + k]]).code for k in range(count)]
            for i in range(len(sources))]


def smt_truth(references: list[kiln.Program], mutants: list[list[np.ndarray]],
              unroll: int) -> Truth:
    """SMT's verdict on every candidate against its reference; a candidate identical to the
    reference, or to an earlier one of the same program, takes that one's verdict."""
    start = time.perf_counter()
    wrong = np.zeros((len(mutants), len(mutants[0])), bool)
    rows = np.zeros(wrong.shape + (MAX_PARAMS,), np.int32)
    equivalent = undecided = 0
    for p, (ref, row) in enumerate(zip(references, mutants)):
        seen = {}
        for m, code in enumerate(row):
            key = code.tobytes()
            if key not in seen:
                seen[key] = (EQUIVALENT_VERDICT if np.array_equal(code, ref.code) else
                             check_equivalent(ref.code, code, ref.nparams, unroll=unroll))
            verdict = seen[key]
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


def measure(programs: int, mutants: int, seed: int, unroll: int, source: str = "mutants",
            checkpoint: str | None = None) -> tuple[dict, Truth, int]:
    """The acceptance rate of wrong candidates (``source``: one of ``SOURCES``; ``checkpoint``
    for "checkpoint", default the shipped model) for each (setting, n); the SMT truth; the
    programs kept (those with ``mutants`` candidates)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    model = None
    if source == "untrained":
        model = _untrained_model(seed)
    elif source == "checkpoint":
        from ..neural import load_model

        model, _ = load_model(checkpoint, "cpu")
    config = GenConfig(max_trip=4)
    rng = np.random.default_rng(seed)
    sources, references, variants = [], [], []
    for text in generate_sources(programs, seed=seed, config=config):
        ref = kiln.compile(text, 2)
        if model is None:
            row = mutants_of(ref, mutants, rng)
        else:  # placeholders, sampled below for the programs the model can read
            readable = len(tokenize(text).tokens) <= model.config.max_source_len
            row = [ref.code] * mutants * readable
        if len(row) == mutants:
            sources.append(text)
            references.append(ref)
            variants.append(row)
    if model is not None:
        variants = model_samples(model, sources, mutants, seed, trained=source == "checkpoint")
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


def table(rates: dict, wrong: int | None = None) -> str:
    """The rates as Markdown, one row per n; with ``wrong`` (the wrong candidates' count), each
    rate also as the count of wrong candidates accepted."""
    def cell(rate: float) -> str:
        return f"{100 * rate:.2f}%" + ("" if wrong is None else f" ({round(rate * wrong)})")

    head = "| tests n | " + " | ".join(name for name, _ in SETTINGS) + " |"
    rows = [head, "|---:|" + "---:|" * len(SETTINGS)]
    for n in SIZES:
        rows.append(f"| {n} | " + " | ".join(cell(rates[name, n]) for name, _ in SETTINGS)
                    + " |")
    return "\n".join(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", type=int, default=400)
    parser.add_argument("--mutants", type=int, default=8,
                        help="candidates per program (mutants or model samples)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unroll", type=int, default=8)
    parser.add_argument("--source", choices=SOURCES, default="mutants")
    parser.add_argument("--checkpoint", default=None,
                        help="--source checkpoint: the model (default: the shipped one)")
    parser.add_argument("--json", default="", help="also write the counts and rates here")
    args = parser.parse_args(argv)
    from ...bench.throughput import metadata

    meta = metadata("cpu")  # the commit and date of the start
    start = time.perf_counter()
    rates, truth, kept = measure(args.programs, args.mutants, args.seed, args.unroll,
                                 args.source, args.checkpoint)
    total = truth.wrong.size
    seconds = time.perf_counter() - start
    print(f"{kept} programs x {args.mutants} {args.source} = {total}: {int(truth.wrong.sum())} "
          f"wrong, {truth.equivalent} equivalent, {truth.undecided} undecided (SMT "
          f"{truth.seconds:.0f} s; total {seconds:.0f} s)")
    print(table(rates, int(truth.wrong.sum())))
    if args.json:
        report = {"meta": meta, "args": vars(args), "programs_kept": kept,
                  "candidates": total, "wrong": int(truth.wrong.sum()),
                  "equivalent": truth.equivalent, "undecided": truth.undecided,
                  "smt_seconds": truth.seconds, "seconds": seconds,
                  "accepted": {f"{name} @ {n}": rate for (name, n), rate in rates.items()}}
        atomic_write(args.json, json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
