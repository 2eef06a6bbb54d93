"""Leaderboard entries: anything that compiles a task's programs to bytecode and says where
its code came from.

An entry is small on purpose: ``compile(task, device)`` returns one bytecode array per program
(or ``None`` with a reason) and ``provenance()`` a flat dict of strings (approach, compiler,
checkpoint, versions). The traditional compiler at each ``-O`` level is an entry here; the
neural and hybrid approaches and submitted artifacts are entries of the same shape
(``submission.py``), so the scoring, re-validation and reports treat them all alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from .tasks import Task, token_form

MAX_CODE = 4096  # the batched compiler's code width: room for the deep set's programs


@dataclass(frozen=True)
class Compiled:
    """An entry's output on a task: ``codes[i]`` is program i's bytecode (int32 ``(n, 2)``) or
    None, and then ``errors[i]`` says why. ``outcomes``, from an entry that proves its own code
    (the hybrid), is each program's ``Provenance.outcome`` ("proved", "proved_bounded",
    "fell_back")."""

    codes: tuple[np.ndarray | None, ...]
    errors: tuple[str | None, ...]
    outcomes: tuple[str, ...] | None = None


class Entry(Protocol):
    """What the leaderboard ranks."""

    name: str
    approach: str  # "traditional", "neural", "hybrid" or "submission"

    def compile(self, task: Task, device: torch.device) -> Compiled:
        """Bytecode for every program of ``task``."""

    def provenance(self) -> dict[str, str]:
        """Where the code comes from (written beside the entry's figures)."""


class TraditionalEntry:
    """kiln's traditional compiler at ``-O{opt}``: the batched compiler on the device for
    ``-O0``/``-O1`` (bit-identical to the reference compiler, which takes the programs that
    have no token form), the reference compiler for ``-O2``."""

    approach = "traditional"

    def __init__(self, opt: int):
        if opt not in (0, 1, 2):
            raise ValueError(f"optimisation level must be 0, 1 or 2, got {opt!r}")
        self.opt = opt
        self.name = f"-O{opt}"

    def compile(self, task: Task, device: torch.device) -> Compiled:
        import kiln

        sources = [p.source for p in task.programs]
        codes: list[np.ndarray | None] = [None] * len(sources)
        errors: list[str | None] = [None] * len(sources)
        batched = [] if self.opt == 2 else \
            [i for i, s in enumerate(sources) if token_form(s) is not None]
        if batched:
            from ..compilers.batch import compile_batch, status_message
            from ..compilers.tokens import TokenBatch

            out = compile_batch(TokenBatch.from_sources([sources[i] for i in batched], device),
                                self.opt, MAX_CODE)
            code, lengths, status = (x.cpu().numpy() for x in (out.code, out.lengths,
                                                               out.status))
            for row, i in enumerate(batched):
                if status[row] == 0:
                    codes[i] = code[row, :lengths[row]].copy()
                else:
                    errors[i] = f"batched compiler: {status_message(int(status[row]))}"
        for i in sorted(set(range(len(sources))) - set(batched)):
            codes[i] = kiln.compile(sources[i], self.opt).code  # no token form, or -O2
        return Compiled(tuple(codes), tuple(errors))

    def provenance(self) -> dict[str, str]:
        how = "reference compiler" if self.opt == 2 else \
            "batched compiler on the device; the reference one for programs without a token form"
        return {"approach": self.approach, "compiler": f"kiln traditional -O{self.opt} ({how})"}


def make_entries(names: str, checkpoint: str | None = None, samples: int = 1) -> list[Entry]:
    """Entries from a comma-separated list of ``O0``, ``O1``, ``O2`` (``-O2`` spelled either
    way), ``neural`` and ``hybrid`` (the neural or hybrid compiler with the model at
    ``checkpoint``, default the shipped one, drawing ``samples`` candidates per program)."""
    entries: list[Entry] = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        level = name.lstrip("-").upper()
        if level in ("O0", "O1", "O2"):
            entries.append(TraditionalEntry(int(level[1])))
        elif name in ("neural", "hybrid"):
            from .approaches import HybridEntry, NeuralEntry

            entries.append((NeuralEntry if name == "neural" else HybridEntry)(checkpoint,
                                                                               samples))
        else:
            raise ValueError(f"unknown entry {name!r}; the built-in entries are O0, O1, O2, "
                             f"neural and hybrid")
    return entries
