"""The neural approach as a compiler: sample candidates, keep those that pass the tests.

``compile_tokens`` is the batch form (a ``TokenBatch`` in, every program's candidates and the
verdict on each out, tensors on the model's device, no host synchronisation): K candidates per
program from the transformer (``agents.sampling``), run on the VM beside the traditional
compiler's -O1 code (the oracle) on each program's test inputs, and the cheapest passing
candidate picked. ``compile_sources`` and ``compile_source`` wrap it for host code (the facade's
``kiln.compile(..., approach="neural")``, the CLI, the leaderboard).

Passing the tests is evidence, not proof: a program's ``provenance`` says so.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import torch

from .evaluation import EDGE_ROWS, NUM_TESTS
from .program import Program, Provenance
from .tokens import TokenBatch

if TYPE_CHECKING:
    from ..agents.model import Seq2Seq
    from ..agents.sampling import Candidates

# The shipped model, inside the package.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "agents" / "checkpoints" / "small"


class Verdict(NamedTuple):
    """What the tests say about ``N * K`` candidates (lane ``n * K + k``), ``[N, K]`` or ``[N]``."""

    passed: torch.Tensor   # bool [N, K]: agrees with the oracle on every test
    cost: torch.Tensor     # float32 [N, K]: mean cycles per test (inf where not passed)
    best: torch.Tensor     # int64 [N]: the cheapest passing candidate (0 where none passed)
    found: torch.Tensor    # bool [N]: some candidate passed


def test_inputs(programs: int, seed: int, num_tests: int, device: torch.device) -> torch.Tensor:
    """Program ``i``'s test inputs (edge rows, then random rows): int32 ``[N, T, P]``, the
    env's draw for key ``seed + i``."""
    from .evaluation import test_inputs as draw_inputs
    from .hashing import split_key

    key_lo, key_hi = split_key(seed, programs, device)
    return draw_inputs(key_lo, key_hi, torch.zeros_like(key_lo), num_tests)


def judge(candidates: Candidates, batch: TokenBatch, samples: int, *, seed: int = 0,
          num_tests: int = NUM_TESTS, oracle: tuple[torch.Tensor, torch.Tensor] | None = None
          ) -> Verdict:
    """Run every candidate and its program's oracle on the program's tests (``test_inputs``),
    compare them by the evaluation protocol (``evaluation.compare``), and pick the cheapest
    passing candidate per program. ``oracle`` is ``(code [N, L, 2], lengths [N])``, default the
    batched compiler's -O1 code."""
    from . import vm
    from .batch import DEFAULT_MAX_CODE, compile_batch
    from .evaluation import FUEL, compare

    n = len(batch)
    device = candidates.code.device
    if oracle is None:
        code = compile_batch(batch.to(device), 1, DEFAULT_MAX_CODE)
        oracle = (code.code, code.lengths)
    inputs = test_inputs(n, seed, num_tests, device)
    nparams = batch.nparams.to(device)
    # The oracle runs once per program, the candidates K times as many: two launches rather
    # than the oracle copied K times into one.
    reference = vm.execute(oracle[0], inputs, nparams, oracle[1], FUEL)
    result = vm.execute(candidates.code, inputs.repeat_interleave(samples, 0),
                        nparams.repeat_interleave(samples), candidates.lengths, FUEL)
    comparison = compare(result, vm.Result(*(x.repeat_interleave(samples, 0)
                                             for x in reference)))
    passed = comparison.correct.view(n, samples)
    cost = torch.where(passed, comparison.candidate_cost.view(n, samples).float(), float("inf"))
    return Verdict(passed, cost, cost.argmin(1), passed.any(1))


def compile_tokens(model: Seq2Seq, batch: TokenBatch, samples: int = 1, *,
                   temperature: float | None = None, seed: int = 0,
                   num_tests: int = NUM_TESTS) -> tuple[Candidates, Verdict]:
    """K candidates for every program of ``batch`` and the tests' verdict on them, on the
    model's device. ``temperature`` defaults to greedy for one sample and to 1 for more (the
    first sample of each program is then still the greedy one)."""
    from ..agents.sampling import sample

    if temperature is None:
        temperature = 0.0 if samples == 1 else 1.0
    candidates = sample(model, batch, samples, temperature=temperature, seed=seed,
                        greedy_first=True)
    return candidates, judge(candidates, batch, samples, seed=seed, num_tests=num_tests)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.lru_cache(maxsize=4)
def _load(path: str, device: str, mtime: float) -> tuple[Seq2Seq, dict]:
    from ..agents.checkpoint import load_checkpoint

    model, meta = load_checkpoint(path, device)
    if torch.device(device).type == "cuda":
        model = model.to(torch.bfloat16)
    return model, meta


def checkpoint_id(meta: dict) -> str:
    """What a Program's provenance records of the checkpoint behind it (``meta``, as
    ``load_model`` returns it): the first 16 hex digits of its weights' sha256."""
    return str(meta["weights_sha256"])[:16]


def load_model(checkpoint: str | os.PathLike | None = None,
               device: torch.device | str | None = None) -> tuple[Seq2Seq, dict]:
    """The model of ``checkpoint`` (default: the shipped one) on ``device`` (default: CUDA if
    present), cached; ``agents.checkpoint.CheckpointError`` if it cannot be loaded."""
    from ..agents.checkpoint import CheckpointError, paths

    path = DEFAULT_CHECKPOINT if checkpoint is None else Path(checkpoint)
    _, meta_path = paths(path)
    if checkpoint is None and not meta_path.exists():
        raise CheckpointError(f"no shipped neural checkpoint at {meta_path}: this kiln was "
                              f"installed without one; pass checkpoint=PATH")
    device = torch.device(device) if device is not None else default_device()
    mtime = meta_path.stat().st_mtime if meta_path.exists() else 0.0
    return _load(str(path), str(device), mtime)


def compile_sources(sources: Sequence[str], samples: int = 1, *,
                    checkpoint: str | os.PathLike | None = None,
                    device: torch.device | str | None = None, seed: int = 0
                    ) -> list[Program | None]:
    """Compile each source with the neural approach: the cheapest of ``samples`` candidates
    that passes the tests, or None where none passes. CompileError for a source outside kiln
    or too long for the model."""
    from ..agents.sampling import source_width
    from .frontend import CompileError, parse_function

    model, meta = load_model(checkpoint, device)
    functions = [parse_function(s) for s in sources]
    batch = TokenBatch.from_sources(sources)
    try:
        source_width(batch, model)
    except ValueError as e:
        raise CompileError(f"the neural compiler cannot read this source: {e}") from None
    candidates, verdict = compile_tokens(model, batch, samples, seed=seed)
    passed = verdict.passed.cpu()
    best, found = verdict.best.cpu(), verdict.found.cpu()
    code, lengths = candidates.code.cpu().numpy(), candidates.lengths.cpu().numpy()
    out: list[Program | None] = []
    for i, fn in enumerate(functions):
        if not found[i]:
            out.append(None)
            continue
        lane = i * samples + int(best[i])
        provenance = Provenance("neural", "tested",
                                tests=(("edge", EDGE_ROWS), ("random", NUM_TESTS - EDGE_ROWS)),
                                samples=samples, passed=int(passed[i].sum()),
                                checkpoint=checkpoint_id(meta))
        out.append(Program(fn.name, fn.params, code[lane, :lengths[lane]].copy(), 1,
                           sources[i], provenance))
    return out


class NoCandidatePassed(ValueError):
    """The neural compiler produced no candidate that passes the tests."""


def compile_source(source: str, samples: int = 1, *,
                   checkpoint: str | os.PathLike | None = None,
                   device: torch.device | str | None = None) -> Program:
    """One source through ``compile_sources``; NoCandidatePassed if no candidate passed."""
    program = compile_sources([source], samples, checkpoint=checkpoint, device=device)[0]
    if program is None:
        raise NoCandidatePassed(f"none of the neural compiler's {samples} candidate(s) passed "
                                f"the {NUM_TESTS} tests; try more samples, or the traditional "
                                f"approach")
    return program
