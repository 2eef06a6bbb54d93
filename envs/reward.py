"""An episode's reward: check the finished candidate against the oracle, and score it.

Both envs call these torch functions (the single env on a batch of one, on the CPU), so they
compute the same rewards bit for bit on the same device. Nothing here synchronises with the
host: outcomes are tensors, chosen with ``torch.where``. The check itself is pluggable (a
``CandidateCheck``); the default, ``check_by_tests``, is the evaluation protocol's tests.
"""
from __future__ import annotations

import enum
from typing import TYPE_CHECKING, NamedTuple, Protocol

import torch

from ..compilers.evaluation import Comparison, compare, run_tests

if TYPE_CHECKING:
    from .compile_env import EnvParams


class Outcome(enum.IntEnum):
    """How an episode stands, as ``info["outcome"]`` reports it in every env: this code (the
    vector env gives a tensor of them); ``OUTCOMES[code]`` is its name."""

    RUNNING = 0
    CORRECT = 1
    WRONG = 2
    OUT_OF_FUEL = 3
    INVALID_ACTION = 4
    NO_ANSWER = 5  # the oracle ran out of fuel on a test: nothing to match, reward 0


OUTCOMES = tuple(o.name.lower() for o in Outcome)  # the names: "running", "correct", ...
# Plain ints for tensor code (torch.compile traces them as constants).
RUNNING, CORRECT, WRONG, FUEL_OUT, INVALID_ACTION, NO_ANSWER = (int(o) for o in Outcome)


class Candidates(NamedTuple):
    """What a check needs: each lane's candidate and oracle code and its tests.

    ``candidate`` ``[B, Lc, 2]`` and ``oracle`` ``[B, Lo, 2]`` are int32 bytecode with int32
    ``[B]`` lengths (length 0: the lane is not checked this step); ``nparams`` int32 ``[B]``;
    ``inputs`` int32 ``[B, T, P]``, the evaluation protocol's test inputs.
    """

    candidate: torch.Tensor
    candidate_len: torch.Tensor
    oracle: torch.Tensor
    oracle_len: torch.Tensor
    nparams: torch.Tensor
    inputs: torch.Tensor


class CandidateCheck(Protocol):
    """Decides how each candidate compares with its oracle: the piece a stronger check (an
    SMT proof of equivalence, say) replaces. It must not synchronise with the host."""

    def __call__(self, candidates: Candidates, fuel: int) -> Comparison: ...


def check_by_tests(candidates: Candidates, fuel: int) -> Comparison:
    """The default check: run both programs on the tests in one VM launch and compare."""
    return compare(*run_tests(*candidates, fuel))


class Score(NamedTuple):
    """The verdict on each lane's candidate, all ``[B]`` tensors."""

    reward: torch.Tensor          # float32
    outcome: torch.Tensor         # int64: CORRECT, WRONG, FUEL_OUT or NO_ANSWER
    pass_fraction: torch.Tensor   # float32: tests on which candidate and oracle agree
    candidate_cost: torch.Tensor  # float32: the candidate's mean cycles per test
    oracle_cost: torch.Tensor     # float32: the oracle's mean cycles per test
    speedup: torch.Tensor         # float32: oracle cycles / candidate cycles (each at least 1),
    #                               0 unless every run finished


def score(comparison: Comparison, params: EnvParams) -> Score:
    """Turn the comparison of candidates with oracles into rewards.

    The oracle ran out of fuel on a test: the program has no defined answer, outcome
    ``NO_ANSWER`` and reward 0 whatever the candidate did (nothing to gain or lose). Else all
    tests pass: ``correct_reward + speed_weight * (min(speedup, max_speedup) - 1)``, so
    matching the oracle's code earns exactly ``correct_reward``; if the candidate ran out of
    fuel on a test: ``fuel_penalty``; else ``wrong_penalty + partial_credit * pass_fraction``.
    A speedup comes only from runs that finished. Arithmetic is float64, rounded to float32
    once, so CPU and CUDA agree. Weights come from ``params``.
    """
    p, c = params, comparison
    correct = c.passed.all(1)
    reward = torch.where(
        ~c.answered, torch.zeros_like(c.speedup),
        torch.where(correct,
                    p.correct_reward + p.speed_weight * (c.speedup.clamp(max=p.max_speedup) - 1.0),
                    torch.where(c.fuel_out, torch.full_like(c.speedup, p.fuel_penalty),
                                p.wrong_penalty + p.partial_credit * c.pass_rate)))
    outcome = torch.where(~c.answered, NO_ANSWER,
                          torch.where(correct, CORRECT,
                                      torch.where(c.fuel_out, FUEL_OUT, WRONG))).to(torch.int64)
    pass_rate = torch.where(c.answered, c.pass_rate, 0.0)
    return Score(reward.to(torch.float32), outcome, pass_rate.to(torch.float32),
                 c.candidate_cost.to(torch.float32), c.reference_cost.to(torch.float32),
                 c.speedup.to(torch.float32))
