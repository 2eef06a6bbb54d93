"""The neural and hybrid approaches as leaderboard entries, from a neural compiler checkpoint.

``neural``: ``compilers.neural.compile_sources``: ``samples`` candidates per program (the first
the greedy one; sampling is counter-based, so a rerun draws the same), the cheapest that passes
the approach's own tests against the traditional compiler, else no code for that program.
Programs longer than the model reads get no code, with that reason.

``hybrid``: ``compilers.hybrid.compile_hybrid`` with the same model as the candidate source:
the cheapest candidate that passes the tests and that SMT proves equal to ``-O2``, else the
``-O2`` code (programs the model cannot read fall back too), so every program gets code; the
entry reports each program's outcome (proved or fell back). The solver runs under its
deterministic ``rlimit``, so a rerun proves the same.

A submission whose artifact is a checkpoint (kind ``neural`` or ``hybrid``) is rerun through
``NeuralEntry`` or ``HybridEntry``.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .entries import Compiled
from .tasks import Task, token_form


def default_checkpoint() -> str:
    """The checkpoint shipped with kiln (``compilers.neural.DEFAULT_CHECKPOINT``)."""
    from ..compilers.neural import DEFAULT_CHECKPOINT

    return str(DEFAULT_CHECKPOINT)


class NeuralEntry:
    """The neural compiler at ``checkpoint`` (default: the shipped one)."""

    approach = "neural"

    def __init__(self, checkpoint: str | Path | None = None, samples: int = 1,
                 name: str = "neural"):
        from ..agents.checkpoint import read_metadata

        self.checkpoint = str(checkpoint) if checkpoint is not None else default_checkpoint()
        self.meta = read_metadata(self.checkpoint)  # CheckpointError now, not after the tasks
        self.samples = samples
        self.name = name

    def compile(self, task: Task, device: torch.device) -> Compiled:
        from ..compilers.neural import compile_sources, load_model

        model, _ = load_model(self.checkpoint, device)
        sources = [p.source for p in task.programs]
        forms = [token_form(s) for s in sources]
        limit = model.config.max_source_len
        errors: list[str | None] = [
            "no token form (more distinct literals than it holds)" if f is None else
            f"{len(f.tokens)} source tokens: longer than the model reads ({limit})"
            if len(f.tokens) > limit else None for f in forms]
        fits = [i for i, e in enumerate(errors) if e is None]
        programs = compile_sources([sources[i] for i in fits], self.samples,
                                   checkpoint=self.checkpoint, device=device)
        codes: list = [None] * len(sources)
        for i, program in zip(fits, programs):
            if program is None:
                errors[i] = (f"none of the {self.samples} sample(s) passed the neural "
                             f"compiler's tests")
            else:
                codes[i] = program.code
        return Compiled(tuple(codes), tuple(errors))

    def provenance(self) -> dict[str, str]:
        return {"approach": self.approach, "checkpoint": self.checkpoint,
                "weights_sha256": str(self.meta["weights_sha256"])[:16],
                "samples": str(self.samples)}


class HybridEntry(NeuralEntry):
    """The hybrid compiler with the model at ``checkpoint`` (default: the shipped one)."""

    approach = "hybrid"

    def __init__(self, checkpoint: str | Path | None = None, samples: int = 1,
                 name: str = "hybrid"):
        super().__init__(checkpoint, samples, name)

    def compile(self, task: Task, device: torch.device) -> Compiled:
        import kiln
        from ..compilers.hybrid import HybridConfig, compile_hybrid, neural_candidates

        sources = [p.source for p in task.programs]
        codes: list = [None] * len(sources)
        outcomes = ["fell_back"] * len(sources)
        readable = [i for i, s in enumerate(sources) if token_form(s) is not None]
        for i in sorted(set(range(len(sources))) - set(readable)):  # no token form: -O2
            codes[i] = kiln.compile(sources[i], 2).code
        if readable:
            programs = compile_hybrid([sources[i] for i in readable],
                                      neural_candidates(self.checkpoint, device),
                                      HybridConfig(samples=self.samples), device)
            for i, program in zip(readable, programs):
                codes[i], outcomes[i] = program.code, program.provenance.outcome
        return Compiled(tuple(codes), (None,) * len(sources), tuple(outcomes))
