"""Latency of the hybrid compiler on a batch of generated programs, stage by stage.

Stages: the traditional ``-O2`` compile (host, per program: it is the fallback and the proofs'
reference), sampling K candidates per program, testing them all in one VM launch, and proving the
cheapest survivors (host, z3). Reports wall seconds per stage (after a warm-up call on a small
batch) and the fraction of programs proved, proved only up to the unroll bound, and fallen back,
with the fallbacks' reasons, the solver's unknowns and the fraction of programs with one.

The candidates come from the neural compiler (``--checkpoint PATH``, default the shipped model)
or, with ``--source mutants``, from the traditional
compiler's ``-O1`` code and one-instruction mutants of its ``-O2`` code (correct and wrong
candidates, so that every stage has work even without a trained model).

Run on a GPU: ``python -m kiln.training.hybrid_bench --programs 4096 --samples 16 --device cuda
--json hybrid.json`` (add ``--checkpoint PATH`` for another model).
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np
import torch

import kiln

from ..compilers.hybrid import (CandidateSource, HybridConfig, Stages, compile_hybrid,
                                neural_candidates)
from ..bench.throughput import metadata
from ..compilers.programs.generator import generate_sources
from ..compilers.tokens import TokenBatch
from ..compilers.verify.mutate import mutate
from ..compilers.verify.probabilistic import pad_codes
from ..envs.programs import DEFAULT_GENERATOR
from .imitation import HELD_OUT_SEED


def mutant_candidates(seed: int = 0) -> CandidateSource:
    """Candidates without a model: each program's ``-O1`` code, then mutants of its ``-O2``
    code (built on the host from the batch's sources)."""
    def draw(batch: TokenBatch, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng(seed)
        rows = []
        for i in range(len(batch)):
            source = batch.source(i)
            o2 = kiln.compile(source, 2)
            row = [kiln.compile(source, 1).code]
            while len(row) < samples:
                mutant = mutate(o2.code, o2.nparams, rng)
                row.append(o2.code if mutant is None else mutant)
            rows.append(row[:samples])
        code, lengths = pad_codes([c for row in rows for c in row], (len(rows), samples))
        return code.to(batch.tokens.device), lengths.to(batch.tokens.device)
    return draw


def run(programs: int, samples: int, device: str, source: str, checkpoint: str | None,
        seed: int) -> dict:
    """Warm up on 16 programs, then compile ``programs`` held-out programs; the report."""
    if source == "neural":
        candidates = neural_candidates(checkpoint, device, seed=seed)
    else:
        candidates = mutant_candidates(seed)
    config = HybridConfig(samples=samples, seed=seed)
    # The neural compiler's held-out set: the env generator's programs of HELD_OUT_SEED.
    warm_up = generate_sources(16, HELD_OUT_SEED + 1, DEFAULT_GENERATOR)
    compile_hybrid(warm_up, candidates, config, device)
    sources = generate_sources(programs, HELD_OUT_SEED, DEFAULT_GENERATOR)
    stages = Stages()
    start = time.perf_counter()
    outputs = compile_hybrid(sources, candidates, config, device, stages)
    total = time.perf_counter() - start
    reasons = Counter(p.provenance.reason for p in outputs
                      if p.provenance.outcome == "fell_back")
    meta = metadata(device)
    return {
        "programs": programs, "samples": samples, "source": source,
        "checkpoint": checkpoint, "device": meta["device_name"], "date": meta["date"],
        "commit": meta["commit"],
        "seconds": {"traditional": stages.traditional, "sampling": stages.sampling,
                    "testing": stages.testing, "proving": stages.proving, "total": total},
        "fraction": {k: v / programs for k, v in sorted(stages.outcomes.items())},
        "fell_back_reasons": dict(reasons),
        "unknown_queries": sum(p.provenance.unknown for p in outputs),
        # programs with a query that ended unknown (each also counts as proved or fell back)
        "unknown_fraction": sum(1 for p in outputs if p.provenance.unknown) / programs,
        "refuted_queries": sum(p.provenance.refuted for p in outputs),
        # total, not mean of ratios: some programs compile to no code at all (static cost 0)
        "static_cost_ratio_to_o2": sum(p.static_cost for p in outputs)
        / max(1, sum(kiln.compile(s, 2).static_cost for s in sources)),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", type=int, default=4096)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--source", choices=("neural", "mutants"), default="neural")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="", help="also write the report here")
    args = parser.parse_args(argv)
    report = run(args.programs, args.samples, args.device, args.source, args.checkpoint,
                 args.seed)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
