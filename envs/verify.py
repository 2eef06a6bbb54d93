"""An episode's end: run candidate and oracle on the tests in one VM launch, and score them.

Both envs call these torch functions (the single env on a batch of one, on the CPU), so they
compute the same rewards bit for bit on the same device. Nothing here synchronises with the
host: outcomes are tensors, chosen with ``torch.where``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch

from ..compilers import vm
from ..compilers.vm import OK, OUT_OF_FUEL, Result

if TYPE_CHECKING:
    from .compile_env import EnvParams

# Episode outcomes, as reported in info["outcome"] (names in the single env, codes in the vector
# env: OUTCOMES[code] is the name).
OUTCOMES = ("running", "correct", "wrong", "out_of_fuel", "invalid_action", "no_answer")
RUNNING, CORRECT, WRONG, FUEL_OUT, INVALID_ACTION, NO_ANSWER = range(len(OUTCOMES))


class Score(NamedTuple):
    """The verdict on each lane's candidate, all ``[B]`` tensors."""

    reward: torch.Tensor          # float32
    outcome: torch.Tensor         # int64: CORRECT, WRONG, FUEL_OUT or NO_ANSWER
    pass_fraction: torch.Tensor   # float32: tests on which candidate and oracle agree
    candidate_cost: torch.Tensor  # float32: the candidate's mean cycles per test
    oracle_cost: torch.Tensor     # float32: the oracle's mean cycles per test
    speedup: torch.Tensor         # float32: oracle cycles / candidate cycles (each at least 1),
    #                               0 unless every run of both finished within its fuel


def run_tests(candidate: torch.Tensor, candidate_len: torch.Tensor, oracle: torch.Tensor,
              oracle_len: torch.Tensor, nparams: torch.Tensor, inputs: torch.Tensor,
              fuel: int) -> tuple[Result, Result]:
    """Candidate and oracle of every lane on the lane's tests, in one batched VM launch.

    ``candidate`` ``[B, Lc, 2]`` and ``oracle`` ``[B, Lo, 2]`` are int32 bytecode with int32
    ``[B]`` lengths (a length of 0 makes a lane's run free: lanes that are not verified this
    step pass 0); ``inputs`` is int32 ``[B, T, P]``. Returns the two ``Result``s, ``[B, T]``.
    """
    lanes = candidate.shape[0]
    width = max(candidate.shape[1], oracle.shape[1])
    code = candidate.new_zeros((2 * lanes, width, 2))
    code[:lanes, :candidate.shape[1]] = candidate
    code[lanes:, :oracle.shape[1]] = oracle
    result = vm.execute(code, torch.cat([inputs, inputs]), torch.cat([nparams, nparams]),
                        torch.cat([candidate_len, oracle_len]), fuel)
    return (Result(*(x[:lanes] for x in result)), Result(*(x[lanes:] for x in result)))


def score(candidate: Result, oracle: Result, params: EnvParams) -> Score:
    """Compare candidate and oracle results (``[B, T]``) and turn them into rewards.

    A test passes when both finish within their fuel and return the same value. If the oracle
    runs out of fuel on any test, the program has no defined answer: outcome ``no_answer``,
    reward 0 whatever the candidate did (nothing to gain or lose). Otherwise, all tests pass:
    ``correct_reward + speed_weight * (min(speedup, max_speedup) - 1)`` with ``speedup`` the
    oracle's total cycles over the candidate's (each at least 1), so matching the oracle's code
    earns exactly ``correct_reward``; if the candidate ran out of fuel on a test:
    ``fuel_penalty``; else ``wrong_penalty + partial_credit * pass_fraction``. A speedup is
    never computed from a run that was cut off (it reads 0 then). Arithmetic is float64,
    rounded to float32 once, so CPU and CUDA agree. Weights come from ``params``.
    """
    p = params
    finished = (candidate.status == OK) & (oracle.status == OK)
    passed = finished & (candidate.value == oracle.value)
    tests = passed.shape[1]
    answered = (oracle.status == OK).all(1)
    pass_fraction = torch.where(answered, passed.sum(1, dtype=torch.float64) / tests, 0.0)
    candidate_total = candidate.cycles.sum(1, dtype=torch.int64)
    oracle_total = oracle.cycles.sum(1, dtype=torch.int64)
    speedup = torch.where(finished.all(1),
                          oracle_total.clamp(min=1).to(torch.float64)
                          / candidate_total.clamp(min=1).to(torch.float64), 0.0)
    correct = passed.all(1)
    fuel_out = (candidate.status == OUT_OF_FUEL).any(1)
    reward = torch.where(
        ~answered, torch.zeros_like(speedup),
        torch.where(correct,
                    p.correct_reward + p.speed_weight * (speedup.clamp(max=p.max_speedup) - 1.0),
                    torch.where(fuel_out, torch.full_like(speedup, p.fuel_penalty),
                                p.wrong_penalty + p.partial_credit * pass_fraction)))
    outcome = torch.where(~answered, NO_ANSWER,
                          torch.where(correct, CORRECT,
                                      torch.where(fuel_out, FUEL_OUT, WRONG))).to(torch.int64)
    return Score(reward.to(torch.float32), outcome, pass_fraction.to(torch.float32),
                 (candidate_total.to(torch.float64) / tests).to(torch.float32),
                 (oracle_total.to(torch.float64) / tests).to(torch.float32),
                 speedup.to(torch.float32))
