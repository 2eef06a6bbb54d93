"""Probabilistic verification: a candidate is accepted when it agrees with the reference on n tests.

The tests are the evaluation protocol's inputs (edge cases, the source's literals and their
neighbours, random rows) plus a per-program pool of counterexamples found earlier (by SMT or by
other candidates), STOKE's practice. Everything on the batched path is torch and the batched VM
(``compilers.vm.execute``): on CUDA tensors it runs on the GPU without waiting for it.

What an acceptance is worth is ``Evidence``: with r random rows, a candidate that differs from
the reference on a fraction ε of the random-row distribution passes them with probability at most
(1-ε)^r; with K independent samples of per-sample accuracy p, some correct candidate is among
them with probability 1-(1-p)^K. ``docs/verification.md`` derives both and measures how often
wrong candidates get through.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from ..evaluation import EDGE_ROWS, FUEL, compare, test_inputs
from ..hashing import MASK32
from ..isa import MAX_PARAMS
from ..tokens import TokenBatch
from ..vm import Result, execute

KINDS = ("edge", "literal", "random", "pool")


@dataclass(frozen=True)
class Plan:
    """How many rows of each kind a test set of ``n`` rows holds."""

    edge: int
    literal: int
    random: int

    @classmethod
    def of(cls, n: int, edges: bool = True, literals: bool = True) -> Plan:
        """Edge rows first (up to 8: each parameter meets 0, ±1, INT_MIN, INT_MAX and powers of
        two), then literal rows (a quarter of the rest), then random rows."""
        if n < 1:
            raise ValueError(f"a test set needs at least 1 row, got {n}")
        edge = min(EDGE_ROWS, n) if edges else 0
        literal = (n - edge) // 4 if literals else 0
        return cls(edge, literal, n - edge - literal)

    @property
    def rows(self) -> int:
        return self.edge + self.literal + self.random


def protocol_inputs(batch: TokenBatch, plan: Plan, seed: int = 0) -> torch.Tensor:
    """Test inputs of every program of ``batch``: int32 ``[B, plan.rows, MAX_PARAMS]``.

    The evaluation protocol's rows (``evaluation.test_inputs``: edge rows, literal rows, random
    rows), keyed by ``seed`` with each program's index as the episode, so program b's rows are a
    pure function of ``(seed, b)``, on the batch's device. A plan with fewer edge rows than the
    protocol's drops the rest (random-only plans keep none).
    """
    device = batch.tokens.device
    programs = len(batch)
    seed %= 2**64
    key_lo = torch.full((programs,), seed & MASK32, dtype=torch.int64, device=device)
    key_hi = torch.full((programs,), seed >> 32, dtype=torch.int64, device=device)
    index = torch.arange(programs, dtype=torch.int64, device=device)
    drawn = test_inputs(key_lo, key_hi, index, EDGE_ROWS + plan.literal + plan.random,
                        lits=batch.lits, nlits=batch.nlits, literal_rows=plan.literal)
    return torch.cat([drawn[:, :plan.edge], drawn[:, EDGE_ROWS:]], dim=1)


def pad_codes(codes: Sequence[np.ndarray], shape: tuple[int, ...] | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Bytecode arrays as one int32 tensor ``[N, L, 2]`` (zeros past each program) and their
    lengths ``[N]``; ``shape`` reshapes the leading N (``(B, K)`` gives ``[B, K, L, 2]``)."""
    width = max((len(c) for c in codes), default=1)
    code = np.zeros((len(codes), max(width, 1), 2), np.int32)
    for i, c in enumerate(codes):
        code[i, :len(c)] = c
    lengths = np.array([len(c) for c in codes], np.int32)
    shape = shape or (len(codes),)
    return (torch.from_numpy(code).reshape(*shape, code.shape[1], 2),
            torch.from_numpy(lengths).reshape(shape))


class CounterexamplePool:
    """Per-program input rows that refuted some candidate, replayed as tests (STOKE).

    ``rows`` is int32 ``[B, capacity, MAX_PARAMS]`` and ``count`` int64 ``[B]`` (rows added so
    far; past ``capacity`` the oldest are overwritten). ``absorb`` adds rows on the device
    without a host sync; ``add`` adds one row from the host (an SMT counterexample).
    """

    def __init__(self, programs: int, capacity: int = 16,
                 device: torch.device | str | None = None):
        if capacity < 1:
            raise ValueError(f"pool capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.rows = torch.zeros((programs, capacity, MAX_PARAMS), dtype=torch.int32,
                                device=device)
        self.count = torch.zeros(programs, dtype=torch.int64, device=device)

    def add(self, program: int, args) -> None:
        """Add one input row (the program's parameters; missing ones are 0) to ``program``."""
        row = torch.zeros(MAX_PARAMS, dtype=torch.int32)
        row[:len(args)] = torch.tensor([int(a) for a in args], dtype=torch.int32)
        slot = int(self.count[program]) % self.capacity
        self.rows[program, slot] = row.to(self.rows.device)
        self.count[program] += 1

    def absorb(self, inputs: torch.Tensor, failed: torch.Tensor) -> None:
        """For each program with a failed test, add its first failing row: ``inputs`` is
        ``[B, T, P]`` and ``failed`` bool ``[B, T]``."""
        has = failed.any(1)
        first = failed.to(torch.int8).argmax(1)
        row = inputs[torch.arange(inputs.shape[0], device=inputs.device), first]
        slot = self.count % self.capacity
        current = self.rows[torch.arange(inputs.shape[0], device=inputs.device), slot]
        self.rows[torch.arange(inputs.shape[0], device=inputs.device), slot] = torch.where(
            has[:, None], row[:, :MAX_PARAMS], current)
        self.count += has.to(torch.int64)

    def extend(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs`` ``[B, T, P]`` followed by the pool's rows, ``[B, T + capacity, P]``.

        Empty pool slots repeat the first test row, so every program has the same number of
        rows and an empty slot only repeats a test.
        """
        filled = (torch.arange(self.capacity, device=inputs.device)[None, :]
                  < self.count[:, None])
        rows = torch.where(filled[:, :, None], self.rows, inputs[:, :1])
        return torch.cat([inputs, rows], dim=1)


class CandidateReport(NamedTuple):
    """Candidates against their references on the same tests, all on the inputs' device."""

    passed: torch.Tensor          # bool [B, K]: agreed on every test
    failed: torch.Tensor          # bool [B, K, T]: the tests each candidate failed
    cost: torch.Tensor            # float32 [B, K]: mean cycles per test
    reference_cost: torch.Tensor  # float32 [B]


def run_tests(candidates: torch.Tensor, lengths: torch.Tensor, reference: torch.Tensor,
              reference_lengths: torch.Tensor, nparams: torch.Tensor, inputs: torch.Tensor,
              fuel: int = FUEL) -> CandidateReport:
    """Run K candidates per program and the program's reference on its tests, in one launch.

    ``candidates`` is int32 ``[B, K, L, 2]`` with ``lengths`` ``[B, K]``; ``reference``
    ``[B, Lr, 2]`` with ``reference_lengths`` ``[B]``; ``nparams`` ``[B]``; ``inputs``
    ``[B, T, P]``. A test passes by the protocol's rule (``evaluation.compare``); a candidate
    that is not valid bytecode fails every test.
    """
    programs, samples = candidates.shape[0], candidates.shape[1]
    width = max(candidates.shape[2], reference.shape[1])
    code = candidates.new_zeros((programs * (samples + 1), width, 2))
    code[:programs * samples, :candidates.shape[2]] = candidates.reshape(
        programs * samples, candidates.shape[2], 2)
    code[programs * samples:, :reference.shape[1]] = reference
    all_lengths = torch.cat([lengths.reshape(-1), reference_lengths]).to(torch.int32)
    all_nparams = torch.cat([nparams.repeat_interleave(samples), nparams]).to(torch.int32)
    all_inputs = torch.cat([inputs.repeat_interleave(samples, dim=0), inputs])
    result = execute(code, all_inputs, all_nparams, all_lengths, fuel)
    split = programs * samples
    tests = inputs.shape[1]
    cand = Result(*(x[:split] for x in result))
    ref = Result(*(x[split:].repeat_interleave(samples, dim=0) for x in result))
    comparison = compare(cand, ref)
    failed = ~comparison.passed.reshape(programs, samples, tests)
    return CandidateReport(~failed.any(2), failed,
                           comparison.candidate_cost.reshape(programs, samples).to(torch.float32),
                           comparison.reference_cost[::samples].to(torch.float32))


@dataclass(frozen=True)
class Evidence:
    """What an acceptance by tests rests on: the rows of each kind the candidate passed."""

    edge: int
    literal: int
    random: int
    pool: int = 0

    @classmethod
    def of(cls, plan: Plan, pool: int = 0) -> Evidence:
        return cls(plan.edge, plan.literal, plan.random, pool)

    @property
    def tests(self) -> int:
        return self.edge + self.literal + self.random + self.pool

    def kinds(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in KINDS}

    def pass_bound(self, epsilon: float) -> float:
        """Most probability that a candidate wrong on a fraction ``epsilon`` of random inputs
        passes the random rows: (1-ε)^r. The fixed rows (edge, literal, pool) only lower it."""
        return (1.0 - epsilon) ** self.random

    def epsilon_at(self, confidence: float = 0.95) -> float:
        """The ε that the random rows rule out at ``confidence``: the smallest ε with
        (1-ε)^r <= 1 - confidence (1.0 when there are no random rows)."""
        if self.random == 0:
            return 1.0
        return 1.0 - (1.0 - confidence) ** (1.0 / self.random)


def some_correct(p: float, samples: int) -> float:
    """Probability that at least one of ``samples`` independent candidates, each correct with
    probability ``p``, is correct: 1-(1-p)^K."""
    return 1.0 - (1.0 - p) ** samples


def samples_needed(p: float, target: float) -> int:
    """Fewest K with 1-(1-p)^K >= ``target`` (for 0 < p < 1)."""
    return max(1, math.ceil(math.log(1.0 - target) / math.log(1.0 - p)))
