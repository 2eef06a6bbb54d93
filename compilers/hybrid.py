"""The hybrid compiler: neural speed and code quality, with the traditional compiler's correctness.

For a batch of sources: sample K candidates per program (a ``CandidateSource``; the neural
compiler's sampler, or anything with its signature) -> run every candidate and the traditional
``-O2`` code on the program's tests in one VM launch -> order the candidates that passed and are
cheaper than ``-O2`` on the tests by cost -> prove the cheapest equal to ``-O2`` with SMT (a
counterexample joins the program's pool and the next is tried) -> if none is proved, the ``-O2``
code. Every output is proved equal to the traditional output or is it, and its
``Program.provenance`` says which. Sampling and testing are batched on the sources' device; the
proofs run on the host, one program at a time.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from .isa import MAX_PARAMS
from .program import Program, Provenance
from .tokens import TokenBatch
from .traditional.pipeline import compile_source
from .verify.probabilistic import (CounterexamplePool, Evidence, Plan, pad_codes,
                                   protocol_inputs, run_tests)
from .verify.smt import (BOUNDED, COUNTEREXAMPLE, DEFAULT_RLIMIT, DEFAULT_UNROLL, EQUIVALENT,
                         check_equivalent)
from .evaluation import FUEL
from .vm import execute

if TYPE_CHECKING:
    from ..agents.model import Seq2Seq

CandidateSource = Callable[[TokenBatch, int], tuple[torch.Tensor, torch.Tensor]]
"""``(batch, K) -> (code, lengths)``: K candidates per program of ``batch``, int32
``code[B, K, L, 2]`` and ``lengths[B, K]`` on the batch's device. Invalid bytecode is allowed
(it fails every test). A source that samples a checkpoint (``ModelCandidates``) names it in its
``checkpoint`` attribute (the weights' sha256 prefix), and every output's provenance records
it."""

FALLBACK_OPT = 2

# Why a program fell back to -O2 (Provenance.reason).
NO_PASS = "no candidate passed the tests"
NOT_CHEAPER = "no candidate that passed the tests is cheaper than -O2"
NOT_PROVED = "no candidate was proved"


@dataclass(frozen=True)
class HybridConfig:
    """Knobs of the hybrid compiler."""

    samples: int = 16
    """Candidates drawn per program (K)."""
    tests: int = 64
    """Protocol test rows per program (edge, literal, random), before the pool's."""
    seed: int = 0
    """Seed of the test rows."""
    pool_capacity: int = 16
    """Counterexample rows kept per program."""
    max_proofs: int = 4
    """SMT queries per program at most; then the program falls back."""
    unroll: int = DEFAULT_UNROLL
    """Loop iterations per loop entry that the SMT encoding unrolls."""
    rlimit: int = DEFAULT_RLIMIT
    """z3 resource limit per query (deterministic): past it, the query is unknown."""
    accept_bounded: bool = False
    """Accept a candidate proved only up to ``unroll`` iterations (provenance "proved_bounded").
    Off by default: the output is then always proved on every input or the traditional code."""
    fuel: int = FUEL
    """Instructions per test run."""


@dataclass
class Stages:
    """Wall seconds of each stage of one ``compile_hybrid`` call and the outcome counts."""

    traditional: float = 0.0
    sampling: float = 0.0
    testing: float = 0.0
    proving: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Traditional:
    """The ``-O2`` code of each source, as a padded batch on a device and as Programs."""

    programs: list[Program]
    code: torch.Tensor     # int32 [B, L, 2]
    lengths: torch.Tensor  # int32 [B]
    nparams: torch.Tensor  # int32 [B]


def traditional(sources: Sequence[str], device: torch.device | str | None = None) -> Traditional:
    """Compile every source at ``-O2`` (CompileError on the first bad one)."""
    programs = []
    for source in sources:
        fn, code = compile_source(source, FALLBACK_OPT)
        programs.append(Program(fn.name, fn.params, code, FALLBACK_OPT, source,
                                Provenance("hybrid", "fell_back")))
    code, lengths = pad_codes([p.code for p in programs])
    return Traditional(programs, code.to(device), lengths.to(device),
                       torch.tensor([p.nparams for p in programs], dtype=torch.int32,
                                    device=device))


def _passes_rows(candidate: np.ndarray, reference: np.ndarray, nparams: int, rows: list,
                 fuel: int) -> bool:
    """Whether ``candidate`` returns what ``reference`` does on each row (CPU VM)."""
    if not rows:
        return True
    code, lengths = pad_codes([candidate, reference])
    inputs = np.zeros((len(rows), MAX_PARAMS), np.int32)
    inputs[:, :nparams] = rows
    result = execute(code.numpy(), inputs, nparams, lengths.numpy(), fuel)
    return bool((result.value[0] == result.value[1]).all()
                and (result.status[0] == result.status[1]).all())


def prove_cheapest(program: Program, candidates: list[np.ndarray], costs: list[float],
                   config: HybridConfig, pool: CounterexamplePool, index: int,
                   evidence: Evidence, passed: int) -> Program:
    """Try the candidates (already known to pass the tests and be cheaper than ``program``,
    its ``-O2`` code) cheapest first; return the first one proved equal, else ``program``."""
    counterexamples: list[tuple[int, ...]] = []
    proofs = refuted = unknown = bounded = 0
    seconds = 0.0
    tried: set[bytes] = set()
    for code, _ in sorted(zip(candidates, costs), key=lambda c: c[1]):
        if proofs == config.max_proofs:
            break
        key = code.tobytes()
        if key in tried or not _passes_rows(code, program.code, program.nparams,
                                            counterexamples, config.fuel):
            continue
        tried.add(key)
        verdict = check_equivalent(code, program.code, program.nparams, unroll=config.unroll,
                                   rlimit=config.rlimit)
        proofs += 1
        seconds += verdict.solver_seconds
        outcome = None
        if verdict.outcome == EQUIVALENT:
            outcome = "proved"
        elif verdict.outcome == BOUNDED:
            bounded += 1
            if config.accept_bounded:
                outcome = "proved_bounded"
        elif verdict.outcome == COUNTEREXAMPLE:
            refuted += 1
            counterexamples.append(verdict.inputs)
            pool.add(index, verdict.inputs)
        else:
            unknown += 1
        if outcome is not None:
            return Program(program.name, program.params, code, program.opt, program.source,
                           Provenance("hybrid", outcome, bound=verdict.bound,
                                      tests=tuple(evidence.kinds().items()),
                                      samples=config.samples, passed=passed, proofs=proofs,
                                      refuted=refuted, unknown=unknown,
                                      solver_seconds=seconds))
    reason = NOT_PROVED
    if unknown:
        reason += f" ({unknown} unknown)"
    if bounded:
        reason += f" ({bounded} only up to {config.unroll} iterations)"
    return _fell_back(program, config, reason, passed, proofs, refuted, unknown, seconds)


def _fell_back(program: Program, config: HybridConfig, reason: str, passed: int = 0,
               proofs: int = 0, refuted: int = 0, unknown: int = 0,
               seconds: float = 0.0) -> Program:
    return Program(program.name, program.params, program.code, program.opt, program.source,
                   Provenance("hybrid", "fell_back", reason, samples=config.samples,
                              passed=passed, proofs=proofs, refuted=refuted, unknown=unknown,
                              solver_seconds=seconds))


def _synchronize(device: torch.device) -> None:
    # Only to time the stages apart: the proofs need the test results on the host anyway.
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compile_hybrid(sources: Sequence[str], candidates: CandidateSource,
                   config: HybridConfig = HybridConfig(),
                   device: torch.device | str | None = None,
                   stages: Stages | None = None,
                   pool: CounterexamplePool | None = None) -> list[Program]:
    """Compile every source with the hybrid compiler; see the module docstring.

    ``candidates`` draws the samples; ``device`` is where sampling and testing run (default
    CPU). ``stages``, when given, receives the wall time of each stage and the outcome counts.
    ``pool`` (one row per source, on ``device``) carries counterexamples from earlier calls on
    the same sources into the tests, and receives this call's. Raises CompileError for a source
    outside the language.
    """
    if config.samples < 1:
        raise ValueError(f"samples must be at least 1, got {config.samples}")
    stages = stages if stages is not None else Stages()
    device = torch.device(device or "cpu")
    start = time.perf_counter()
    ref = traditional(sources, device)
    batch = TokenBatch.from_sources(sources, device)
    stages.traditional = time.perf_counter() - start

    start = time.perf_counter()
    code, lengths = candidates(batch, config.samples)
    _synchronize(device)
    stages.sampling = time.perf_counter() - start

    start = time.perf_counter()
    plan = Plan.of(config.tests)
    if pool is None:
        pool = CounterexamplePool(len(sources), config.pool_capacity, device)
    inputs = pool.extend(protocol_inputs(batch, plan, config.seed))
    report = run_tests(code, lengths, ref.code, ref.lengths, ref.nparams, inputs, config.fuel)
    viable = report.passed & (report.cost < report.reference_cost[:, None])
    # One copy to the host: the proofs need the candidates there.
    passed_h, viable_h, cost_h = (x.cpu().numpy() for x in (report.passed, viable, report.cost))
    code_h, lengths_h = code.cpu().numpy(), lengths.cpu().numpy()
    pooled_h = pool.count.clamp(max=pool.capacity).cpu().numpy()
    stages.testing = time.perf_counter() - start

    start = time.perf_counter()
    outputs = []
    for b, program in enumerate(ref.programs):
        picks = np.flatnonzero(viable_h[b])
        passed = int(passed_h[b].sum())
        if passed == 0:
            outputs.append(_fell_back(program, config, NO_PASS))
        elif len(picks) == 0:
            outputs.append(_fell_back(program, config, NOT_CHEAPER, passed))
        else:
            outputs.append(prove_cheapest(
                program, [code_h[b, k, :lengths_h[b, k]] for k in picks],
                [float(cost_h[b, k]) for k in picks], config, pool, b,
                Evidence.of(plan, int(pooled_h[b])), passed))
    stages.proving = time.perf_counter() - start
    checkpoint = getattr(candidates, "checkpoint", "")
    if checkpoint:
        outputs = [replace(p, provenance=replace(p.provenance, checkpoint=checkpoint))
                   for p in outputs]
    stages.outcomes = {}
    for p in outputs:
        stages.outcomes[p.provenance.outcome] = stages.outcomes.get(p.provenance.outcome, 0) + 1
    return outputs


class ModelCandidates:
    """A neural compiler ``model`` as a candidate source, sampled as the neural approach samples
    (the first candidate greedy, the others at temperature 1; draws keyed by ``seed``).
    Programs longer than the model reads get no candidate (they fall back). ``checkpoint`` is
    the weights' sha256 prefix (empty for a model that was not loaded from one)."""

    def __init__(self, model: Seq2Seq, seed: int = 0, checkpoint: str = ""):
        self.model = model
        self.seed = seed
        self.checkpoint = checkpoint

    def __call__(self, batch: TokenBatch, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        from ..agents.sampling import sample

        programs = len(batch)
        config = self.model.config
        fits = batch.lengths <= config.max_source_len
        rows = torch.nonzero(fits).flatten()  # one host read, as the sampler does anyway
        width = config.max_target_len
        code = torch.zeros((programs, samples, width, 2), dtype=torch.int32,
                           device=batch.tokens.device)
        lengths = torch.full((programs, samples), -1, dtype=torch.int32,  # -1: no candidate
                             device=batch.tokens.device)
        if len(rows):
            sub = TokenBatch(*(x[rows] for x in (batch.tokens, batch.lengths, batch.lits,
                                                 batch.nlits, batch.nparams, batch.nnames)))
            with torch.no_grad():
                drawn = sample(self.model, sub, samples,
                               temperature=0.0 if samples == 1 else 1.0, seed=self.seed,
                               greedy_first=True)
            code[rows] = drawn.code.reshape(len(rows), samples, width, 2).to(code.device)
            lengths[rows] = drawn.lengths.reshape(len(rows), samples).to(code.device)
        return code, lengths


def neural_candidates(checkpoint: str | None = None, device: torch.device | str | None = None,
                      *, seed: int = 0) -> ModelCandidates:
    """The neural compiler of ``checkpoint`` (default: the shipped one) on ``device`` (default:
    CUDA when present) as a candidate source (``ModelCandidates``)."""
    from .neural import checkpoint_id, load_model

    model, meta = load_model(checkpoint, device)
    return ModelCandidates(model, seed, checkpoint_id(meta))
