"""How good is a policy as a compiler: greedy candidates on held-out programs, run on the VM.

The held-out sets are imitation training's (``imitation.held_out``: the generator's stream
``HELD_OUT_SEED``, which no training run draws from; ``imitation.suite_batch``: the public
suite, hand-written, outside the generator's distribution). Each
program gets one greedy candidate; it is *correct* when it agrees with the oracle (the
traditional compiler at ``EnvParams.oracle_opt``) on every test input of the episode draw for
a fixed evaluation key (the evaluation protocol, ``compilers.evaluation``). The metrics, per set:

- ``pass_rate``: fraction of programs whose candidate is correct;
- ``cost_ratio_oracle``/``cost_ratio_O2``: geometric mean, over the correct candidates, of the
  candidate's cost (mean cycles per test) over the oracle's / over ``-O2`` code's;
- ``frac_cheaper_than_O2``: fraction of all programs whose candidate is correct and strictly
  cheaper than ``-O2`` code;
- ``invalid_rate``: fraction of candidates the VM refused to run (never, under the mask).

``-O2`` code comes from ``kiln.compile`` on the host, once per set.
"""
from __future__ import annotations

import math
from dataclasses import fields
from typing import NamedTuple

import torch

from ..agents.model import Seq2Seq
from ..agents.sampling import sample
from ..compilers.batch import compile_batch
from ..compilers.evaluation import compare, geometric_mean, run_tests, test_inputs
from ..compilers.hashing import split_key
from ..compilers.tokens import TokenBatch
from ..compilers.vm import INVALID
from ..envs.compile_env import EnvParams
from ..envs.programs import MAX_ORACLE_CODE
from . import imitation

EVAL_KEY = 2**40            # the key of the evaluation's test draws
SETS = ("generated", "suite")


class HeldOut(NamedTuple):
    """A held-out set on the device, with its reference code."""

    name: str
    batch: TokenBatch
    oracle: torch.Tensor      # int32 [N, L, 2]: the oracle's code
    oracle_len: torch.Tensor  # int32 [N]
    o2: torch.Tensor          # int32 [N, L2, 2]: -O2 code
    o2_len: torch.Tensor      # int32 [N]


def _o2_code(batch: TokenBatch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    import kiln

    codes = [kiln.compile(batch.source(i), 2).code for i in range(len(batch))]
    width = max(1, max(len(c) for c in codes))
    code = torch.zeros((len(codes), width, 2), dtype=torch.int32)
    for i, c in enumerate(codes):
        code[i, :len(c)] = torch.from_numpy(c)
    lengths = torch.tensor([len(c) for c in codes], dtype=torch.int32)
    return code.to(device), lengths.to(device)


def held_out(name: str, programs: int, params: EnvParams, device: torch.device) -> HeldOut:
    """Held-out set ``name`` (``generated``: its first ``programs`` programs; ``suite``)."""
    if name == "generated":
        batch = imitation.held_out(programs, device)
    elif name == "suite":
        batch = imitation.suite_batch(device)
    else:
        raise ValueError(f"unknown held-out set {name!r}; choose from {', '.join(SETS)}")
    oracle = compile_batch(batch, params.oracle_opt, MAX_ORACLE_CODE)
    return HeldOut(name, batch, oracle.code.to(torch.int32), oracle.lengths.to(torch.int32),
                   *_o2_code(batch, device))


def _rows(batch: TokenBatch, rows: slice) -> TokenBatch:
    return TokenBatch(*(getattr(batch, f.name)[rows] for f in fields(batch)))


def _geomean(ratio: torch.Tensor, keep: torch.Tensor) -> float:
    """The geometric mean of ``ratio`` where ``keep`` (NaN where nothing is kept)."""
    return float(geometric_mean(ratio[keep])) if bool(keep.any()) else math.nan


@torch.no_grad()
def evaluate(model: Seq2Seq, held: HeldOut, params: EnvParams, chunk: int = 1024
             ) -> dict[str, float]:
    """The metrics of ``model``'s greedy candidates on ``held`` (see the module's docstring)."""
    model.eval()
    n = len(held.batch)
    device = held.oracle.device
    code = torch.zeros((n, params.max_len, 2), dtype=torch.int32, device=device)
    lengths = torch.zeros(n, dtype=torch.int32, device=device)
    for start in range(0, n, chunk):  # the KV cache of every program at once may not fit
        part = slice(start, start + chunk)
        candidates = sample(model, _rows(held.batch, part), 1, temperature=0.0,
                            max_len=params.max_len)
        code[part], lengths[part] = candidates.code, candidates.lengths
    key_lo, key_hi = split_key(EVAL_KEY, n, device)
    inputs = test_inputs(key_lo, key_hi, torch.zeros_like(key_lo), params.num_tests)
    nparams = held.batch.nparams.to(torch.int32)
    cand, oracle = run_tests(code, lengths, held.oracle, held.oracle_len, nparams, inputs,
                             params.fuel)
    _, o2 = run_tests(code, lengths, held.o2, held.o2_len, nparams, inputs, params.fuel)
    versus_oracle, versus_o2 = compare(cand, oracle), compare(cand, o2)
    correct = versus_oracle.correct
    # Costs count at least one cycle (as the env's speedup does): an empty program is free.
    cost = versus_oracle.candidate_cost.clamp(min=1.0)
    o2_cost = versus_o2.reference_cost.clamp(min=1.0)
    return {"programs": float(n),
            "pass_rate": float(correct.double().mean()),
            "cost_ratio_oracle": _geomean(cost / versus_oracle.reference_cost.clamp(min=1.0),
                                          correct),
            "cost_ratio_O2": _geomean(cost / o2_cost, correct),
            "frac_cheaper_than_O2": float((correct & (cost < o2_cost)).double().mean()),
            "invalid_rate": float((cand.status == INVALID).any(1).double().mean())}


def tags(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    """TensorBoard scalars of ``evaluate``'s results by set: ``compiler/<metric>`` for the
    generated set, ``compiler_suite/<metric>`` for the suite."""
    out = {}
    for name, values in metrics.items():
        prefix = "compiler/" if name == "generated" else f"compiler_{name}/"
        out.update({prefix + k: v for k, v in values.items() if k != "programs"})
    return out
