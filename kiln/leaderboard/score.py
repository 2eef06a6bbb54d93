"""Scoring an entry's code on a task: every program on its tests in one VM launch, checked
against the reference interpreter's outputs, and costed against the traditional ``-O2`` code.

Untrusted code (a submission's artifact) is validated on the host first: malformed bytecode
fails its program with the validator's message and never reaches the VM.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..compilers.evaluation import FUEL, geometric_mean
from ..compilers.isa import MAX_PARAMS
from ..compilers.validate import ValidationError, validate
from ..compilers.vm import OK, STATUS_NAMES, execute
from .tasks import Task



@dataclass(frozen=True)
class ProgramScore:
    """One program's verdict: ``cost`` is its mean cycles over the counted tests (None unless it
    passed); ``failure`` says why it did not pass; ``proved`` is None until the SMT verifier
    runs (``prove``), and ``proof`` then says its verdict where it is not a proof."""

    name: str
    passed: bool
    cost: float | None
    failure: str | None = None
    proved: bool | None = None
    proof: str | None = None


@dataclass(frozen=True)
class Summary:
    """An entry's figures on a task (the leaderboard's columns)."""

    programs: int
    pass_rate: float
    proved_rate: float | None
    geomean_cost_ratio: float | None  # over passed programs: cost / -O2 cost
    cheaper_than_o2: float            # fraction of all programs: passed and cheaper than -O2


def score_code(task: Task, codes: Sequence[np.ndarray | None], errors: Sequence[str | None],
               device: torch.device | str = "cpu") -> list[ProgramScore]:
    """Run each program's code (``None``: the entry produced none, ``errors[i]`` says why) on
    its tests and compare with the expected outputs."""
    n = len(task.programs)
    if len(codes) != n or len(errors) != n:
        raise ValueError(f"task {task.name} has {n} programs; got {len(codes)} codes and "
                         f"{len(errors)} errors")
    reasons: list[str | None] = list(errors)
    valid: list[np.ndarray] = []
    for i, code in enumerate(codes):
        if code is None:
            reasons[i] = reasons[i] or "the entry produced no code"
            valid.append(np.zeros((0, 2), np.int32))
            continue
        try:
            valid.append(validate(code).code)
        except ValidationError as exc:
            reasons[i] = str(exc)
            valid.append(np.zeros((0, 2), np.int32))
    if n == 0:
        return []
    width = max(1, max(len(c) for c in valid))
    tests = max(len(p.inputs) for p in task.programs)
    code = np.zeros((n, width, 2), np.int32)
    inputs = np.zeros((n, tests, MAX_PARAMS), np.int32)
    for i, (c, p) in enumerate(zip(valid, task.programs)):
        code[i, :len(c)] = c
        inputs[i, :len(p.inputs), :p.nparams] = p.inputs
    lengths = torch.tensor([len(c) for c in valid], dtype=torch.int32)
    nparams = torch.tensor([p.nparams for p in task.programs], dtype=torch.int32)
    result = execute(torch.from_numpy(code).to(device), torch.from_numpy(inputs).to(device),
                     nparams.to(device), lengths.to(device), FUEL)
    value, status, cycles = (x.cpu().numpy() for x in result)
    return [_verdict(p, value[i], status[i], cycles[i], reasons[i])
            for i, p in enumerate(task.programs)]


def _verdict(program, value, status, cycles, reason: str | None) -> ProgramScore:
    if reason is not None:
        return ProgramScore(program.name, False, None, reason)
    t = len(program.inputs)
    for r in np.flatnonzero(program.counted):
        if status[r] != OK or value[r] != program.expected[r]:
            got = STATUS_NAMES[status[r]] if status[r] != OK else str(int(value[r]))
            args = ", ".join(str(int(a)) for a in program.inputs[r])
            return ProgramScore(program.name, False, None,
                                f"test {r}: {program.name}({args}) gave {got}, expected "
                                f"{int(program.expected[r])}")
    counted = program.counted
    return ProgramScore(program.name, True, float(cycles[:t][counted].mean()))


def prove(task: Task, codes: Sequence[np.ndarray | None], scores: Sequence[ProgramScore],
          references: Sequence[np.ndarray | None]) -> list[ProgramScore]:
    """Every passed program's code proved equal to its reference (the ``-O2`` code) by SMT on
    every input (``compilers.verify.smt``); a program that did not pass is not proved, and
    identical code needs no solver."""
    from ..compilers.verify.smt import check_equivalent

    out = []
    for program, code, score, reference in zip(task.programs, codes, scores, references):
        if not score.passed or reference is None:
            out.append(replace(score, proved=False))
        elif np.array_equal(code, reference):
            out.append(replace(score, proved=True))
        else:
            verdict = check_equivalent(code, reference, program.nparams)
            out.append(replace(score, proved=verdict.proved,
                               proof=None if verdict.proved else
                               verdict.describe(a=program.name, b="-O2")))
    return out


def summarise(scores: Sequence[ProgramScore], o2_costs: Sequence[float | None]) -> Summary:
    """The leaderboard's figures from per-program scores and the ``-O2`` costs."""
    n = len(scores)
    passed = [s for s in scores if s.passed]
    ratios = [max(s.cost, 1.0) / max(o2, 1.0) for s, o2 in zip(scores, o2_costs)
              if s.passed and o2 is not None]
    proved = [s.proved for s in scores if s.proved is not None]
    return Summary(
        programs=n,
        pass_rate=len(passed) / n if n else 0.0,
        proved_rate=(sum(proved) / n) if proved else None,
        geomean_cost_ratio=float(geometric_mean(torch.tensor(ratios))) if ratios else None,
        cheaper_than_o2=sum(1 for s, o2 in zip(scores, o2_costs)
                            if s.passed and o2 is not None and s.cost < o2) / n if n else 0.0)
