"""Audit of test-accepted outputs: how many of them does a proof refute?

Tests are what a policy's reward sees, so a policy can learn code that passes them and is still
wrong (reward hacking). ``audit`` runs SMT on every output that the tests accepted and counts the
verdicts; a counterexample is a concrete input on which the output and its reference differ
(the VM reproduces it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .smt import (BOUNDED, COUNTEREXAMPLE, DEFAULT_RLIMIT, DEFAULT_UNROLL, EQUIVALENT, UNKNOWN,
                  check_equivalent)


@dataclass
class Audit:
    """Verdicts on the accepted outputs of a batch.

    ``checked`` outputs were accepted by the tests and sent to the solver: ``proved`` equal on
    every input, ``bounded`` equal up to the unroll bound, ``refuted`` with a counterexample
    (``counterexamples`` holds ``(index, inputs)`` for each), ``unknown`` past the resource limit.
    """

    checked: int = 0
    proved: int = 0
    bounded: int = 0
    refuted: int = 0
    unknown: int = 0
    counterexamples: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    solver_seconds: float = 0.0

    @property
    def refuted_fraction(self) -> float:
        """Refuted over checked (0 when nothing was checked)."""
        return self.refuted / self.checked if self.checked else 0.0


def _host(x) -> np.ndarray:
    return x.cpu().numpy() if hasattr(x, "cpu") else np.asarray(x)


def audit(code, lengths, reference, reference_lengths, nparams, accepted, *,
          unroll: int = DEFAULT_UNROLL, rlimit: int = DEFAULT_RLIMIT) -> Audit:
    """Prove every accepted output equal to its reference, and count the verdicts.

    ``code`` ``[N, L, 2]`` with ``lengths`` ``[N]`` are the outputs, ``reference``
    ``[N, Lr, 2]`` with ``reference_lengths`` ``[N]`` what they must equal (the oracle's code),
    ``nparams`` ``[N]``, ``accepted`` bool ``[N]`` (the tests' verdict); numpy arrays or torch
    tensors on any device (copied to the host once: the solver runs there).
    """
    code, lengths, reference, reference_lengths, nparams, accepted = (
        _host(x) for x in (code, lengths, reference, reference_lengths, nparams, accepted))
    result = Audit()
    for i in np.flatnonzero(accepted):
        verdict = check_equivalent(code[i, :lengths[i]], reference[i, :reference_lengths[i]],
                                   int(nparams[i]), unroll=unroll, rlimit=rlimit)
        result.checked += 1
        result.solver_seconds += verdict.solver_seconds
        if verdict.outcome == EQUIVALENT:
            result.proved += 1
        elif verdict.outcome == BOUNDED:
            result.bounded += 1
        elif verdict.outcome == COUNTEREXAMPLE:
            result.refuted += 1
            result.counterexamples.append((int(i), verdict.inputs))
        else:
            assert verdict.outcome == UNKNOWN
            result.unknown += 1
    return result
