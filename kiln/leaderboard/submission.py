"""Submissions, CompilerGym's way: a results file plus the artifact that produced it, both
re-validated before the entry is listed.

A submission is a directory holding ``results.json`` and the artifact files it names. The
results file says which task it is for (by name and ``Task.digest``), which artifact (its kind
and each file's sha256) and what the entry claims per program (passed, cost). The artifact is
safetensors + JSON, never a pickle:

- kind ``bytecode``: ``code.safetensors`` with ``code`` int32 ``[N, L, 2]`` and ``lengths``
  int32 ``[N]`` (-1: no code for that program), and ``code.json`` naming the programs in order.
  Any compiler, in any language, can submit this way (``make_submission``);
- kind ``neural`` or ``hybrid``: a neural compiler checkpoint, ``model.safetensors`` +
  ``model.json`` (``kiln.agents.checkpoint``), rerun as the neural or hybrid entry with the
  results' ``samples``.

Re-validation (``load_submission`` then ``check_claims``): the files must match their sha256,
load as safetensors with the right shapes and dtypes, and be for this task; then the code is
rerun on every test and every claim must match the rerun. The first thing that fails is the
refusal's reason (``Refused``); the rest of the leaderboard run goes on without the entry.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..fileio import atomic_write
from .entries import Compiled
from .score import ProgramScore, Summary
from .tasks import Task

RESULTS_FORMAT = "kiln-leaderboard-results/1"
RESULTS_FILE = "results.json"
CODE_WEIGHTS, CODE_CONFIG = "code.safetensors", "code.json"
CHECKPOINT_STEM = "model"  # a checkpoint artifact: model.safetensors + model.json
CHECKPOINT_KINDS = ("neural", "hybrid")  # the approaches that rerun a checkpoint artifact
_REL_TOL = 1e-9  # claimed costs and figures must equal the rerun's up to float printing


class Refused(Exception):
    """A submission that cannot be listed; the message is the reason."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_submission(folder: str | Path, entry: str, task: Task, compiled: Compiled,
                     scores: Sequence[ProgramScore], summary: Summary,
                     provenance: dict[str, str] | None = None,
                     checkpoint: str | None = None, samples: int = 1,
                     kind: str = "neural") -> Path:
    """Write ``results.json`` with the claims ``scores``/``summary`` (from
    ``score.score_code``) and the artifact into ``folder`` (created if missing): the neural
    compiler ``checkpoint`` that produced ``compiled`` through the approach ``kind``
    ("neural" or "hybrid", drawing ``samples`` per program) when given, else ``compiled``
    itself as bytecode. Returns the results file's path."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if checkpoint is not None:
        from ..agents.checkpoint import paths

        files = (f"{CHECKPOINT_STEM}.safetensors", f"{CHECKPOINT_STEM}.json")
        for source, name in zip(paths(checkpoint), files):
            atomic_write(out / name, source.read_bytes())
        if kind not in CHECKPOINT_KINDS:
            raise ValueError(f"a checkpoint artifact's kind is one of {CHECKPOINT_KINDS}, "
                             f"got {kind!r}")
        artifact: dict[str, Any] = {"kind": kind, "samples": samples}
    else:
        files = _write_bytecode(out, task, compiled, provenance)
        artifact = {"kind": "bytecode"}
    results = {
        "format": RESULTS_FORMAT, "entry": entry, "task": task.name,
        "task_digest": task.digest(),
        "artifact": dict(artifact, files={name: _sha256(out / name) for name in files}),
        "programs": [{"name": s.name, "passed": s.passed, "cost": s.cost} for s in scores],
        "summary": {"pass_rate": summary.pass_rate,
                    "geomean_cost_ratio": summary.geomean_cost_ratio,
                    "cheaper_than_o2": summary.cheaper_than_o2},
    }
    return atomic_write(out / RESULTS_FILE, json.dumps(results, indent=1))


def _write_bytecode(out: Path, task: Task, compiled: Compiled,
                    provenance: dict[str, str] | None) -> tuple[str, str]:
    import safetensors.numpy

    width = max([1] + [len(c) for c in compiled.codes if c is not None])
    code = np.zeros((len(compiled.codes), width, 2), np.int32)
    lengths = np.full(len(compiled.codes), -1, np.int32)
    for i, c in enumerate(compiled.codes):
        if c is not None:
            code[i, :len(c)] = c
            lengths[i] = len(c)
    atomic_write(out / CODE_WEIGHTS, safetensors.numpy.save({"code": code, "lengths": lengths}))
    atomic_write(out / CODE_CONFIG, json.dumps(
        {"kind": "bytecode", "task": task.name, "programs": [p.name for p in task.programs],
         "provenance": provenance or {}}, indent=1))
    return CODE_WEIGHTS, CODE_CONFIG


def make_submission(folder: str | Path, entry: str, task: Task,
                    codes: Sequence[np.ndarray | None], device: torch.device | str = "cpu",
                    provenance: dict[str, str] | None = None) -> Path:
    """Score ``codes`` (one bytecode array per program of ``task``, or None) and write them
    with their honest results as a submission in ``folder``; return the results file's path.
    This is how a compiler outside kiln enters the leaderboard."""
    from .entries import TraditionalEntry
    from .score import score_code, summarise

    errors = tuple("the compiler produced no code" if c is None else None for c in codes)
    compiled = Compiled(tuple(codes), errors)
    scores = score_code(task, compiled.codes, compiled.errors, device)
    o2 = TraditionalEntry(2).compile(task, torch.device(device))
    o2_costs = [s.cost for s in score_code(task, o2.codes, o2.errors, device)]
    return write_submission(folder, entry, task, compiled, scores, summarise(scores, o2_costs),
                            provenance)


class SubmissionEntry:
    """A loaded submission: an entry whose code is its artifact's, with the claims to check."""

    approach = "submission"

    def __init__(self, folder: Path, results: dict[str, Any], compiled: Compiled):
        self.folder = folder
        self.name = str(results["entry"])
        self.results = results
        self._compiled = compiled

    def compile(self, task: Task, device: torch.device) -> Compiled:
        return self._compiled

    def provenance(self) -> dict[str, str]:
        return {"approach": self.approach, "artifact": f"{self.results['artifact']['kind']} "
                                                       f"({self.folder})"}


def _need(ok: bool, reason: str) -> None:
    if not ok:
        raise Refused(reason)


def _read_results(folder: Path) -> dict[str, Any]:
    path = folder / RESULTS_FILE
    _need(path.is_file(), f"{path} does not exist (a submission is a directory with "
                          f"{RESULTS_FILE} and its artifact)")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(f"{path} is not valid JSON: {exc}") from None
    _need(isinstance(results, dict) and results.get("format") == RESULTS_FORMAT,
          f"{path} is not a results file of format {RESULTS_FORMAT!r}")
    for key, kind in (("entry", str), ("task", str), ("task_digest", str), ("artifact", dict),
                      ("programs", list), ("summary", dict)):
        _need(isinstance(results.get(key), kind),
              f"{path}: field {key!r} is missing or not a {kind.__name__}")
    artifact = results["artifact"]
    _need(isinstance(artifact.get("kind"), str) and isinstance(artifact.get("files"), dict),
          f"{path}: 'artifact' needs a 'kind' and a 'files' map of file name to sha256")
    return results


def _check_files(folder: Path, files: dict[str, Any]) -> None:
    """Every artifact file exists inside ``folder`` and has the sha256 the results name."""
    for name, digest in files.items():
        path = folder / str(name)
        _need(Path(str(name)).name == str(name), f"artifact file {name!r} is not a plain name "
                                                 f"inside the submission directory")
        _need(path.is_file(), f"artifact file {path} is missing")
        if _sha256(path) != digest:
            damage = _load_error(path)
            raise Refused(f"artifact file {path} is not a loadable safetensors file ({damage}):"
                          f" truncated or corrupted; its sha256 no longer matches "
                          f"{RESULTS_FILE}" if damage else
                          f"artifact file {path} does not match the sha256 in {RESULTS_FILE}: "
                          f"it was changed or replaced after the results were written")


def _load_error(path: Path) -> str | None:
    """Why ``path``, a safetensors file, does not load (None if it does or is not one)."""
    if path.suffix != ".safetensors":
        return None
    import safetensors.numpy

    try:
        safetensors.numpy.load(path.read_bytes())
    except Exception as exc:  # safetensors raises its own error type for every malformed file
        return str(exc)
    return None


def _bytecode(folder: Path, task: Task, device: torch.device, artifact: dict[str, Any]
              ) -> Compiled:
    import safetensors.numpy

    weights = folder / CODE_WEIGHTS
    try:
        tensors = safetensors.numpy.load(weights.read_bytes())
    except Exception as exc:  # safetensors raises its own error type for every malformed file
        raise Refused(f"{weights} is not a loadable safetensors file ({exc}): truncated or "
                      f"corrupted?") from None
    try:
        config = json.loads((folder / CODE_CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(f"{folder / CODE_CONFIG} is not valid JSON: {exc}") from None
    names = [p.name for p in task.programs]
    _need(isinstance(config, dict) and config.get("programs") == names,
          f"{folder / CODE_CONFIG} does not list the programs of task {task.name} in order")
    code, lengths = tensors.get("code"), tensors.get("lengths")
    n = len(names)
    _need(code is not None and code.dtype == np.int32 and code.ndim == 3
          and code.shape[0] == n and code.shape[2] == 2,
          f"{weights}: 'code' must be int32 [{n}, L, 2]")
    _need(lengths is not None and lengths.dtype == np.int32 and lengths.shape == (n,)
          and bool(((lengths >= -1) & (lengths <= code.shape[1])).all()),
          f"{weights}: 'lengths' must be int32 [{n}] in -1..{code.shape[1]}")
    return Compiled(tuple(None if k < 0 else code[i, :k].copy() for i, k in enumerate(lengths)),
                    tuple("the submission has no code for it" if k < 0 else None
                          for k in lengths))


def _checkpoint(folder: Path, task: Task, device: torch.device, artifact: dict[str, Any]
                ) -> Compiled:
    """A checkpoint artifact rerun through its approach's entry (``artifact['kind']``)."""
    from ..agents.checkpoint import CheckpointError
    from .approaches import HybridEntry, NeuralEntry

    entry = HybridEntry if artifact["kind"] == "hybrid" else NeuralEntry
    try:
        samples = artifact.get("samples", 1)
        _need(isinstance(samples, int) and not isinstance(samples, bool) and 1 <= samples <= 64,
              f"{RESULTS_FILE}: artifact 'samples' must be an int in 1..64, got {samples!r}")
        return entry(folder / CHECKPOINT_STEM, samples).compile(task, device)
    except CheckpointError as exc:
        raise Refused(f"the checkpoint does not load: {exc}") from None


# Artifact kinds and how each turns into code for a task.
ARTIFACT_KINDS = {"bytecode": _bytecode, "neural": _checkpoint, "hybrid": _checkpoint}


def load_submission(folder: str | Path, tasks: dict[str, Task],
                    device: torch.device | str = "cpu") -> tuple[SubmissionEntry, Task]:
    """The submission in ``folder`` as an entry (its artifact rerun on ``device``), with the
    task it is for; ``Refused`` (with the reason) if the results file or the artifact is
    malformed, tampered with, or for no task of this run."""
    path = Path(folder)
    _need(path.is_dir(), f"{path} is not a directory")
    results = _read_results(path)
    task = tasks.get(results["task"])
    _need(task is not None, f"the submission is for task {results['task']!r}, which this run "
                            f"does not have ({', '.join(tasks) or 'none'})")
    _need(results["task_digest"] == task.digest(),
          f"the submission is for another version of task {task.name!r} (its programs or "
          f"tests differ: task_digest does not match)")
    kind = results["artifact"]["kind"]
    _need(kind in ARTIFACT_KINDS, f"unknown artifact kind {kind!r}; this kiln reads "
                                  f"{', '.join(ARTIFACT_KINDS)}")
    _check_files(path, results["artifact"]["files"])
    loader = ARTIFACT_KINDS[kind]
    compiled = loader(path, task, torch.device(device), results["artifact"])
    return SubmissionEntry(path, results, compiled), task


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return isinstance(a, (int, float)) and math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=1e-12)


def check_claims(entry: SubmissionEntry, scores: Sequence[ProgramScore], summary: Summary) -> None:
    """``Refused`` unless every claim of the results file equals the rerun's."""
    claims = entry.results["programs"]
    _need(len(claims) == len(scores), f"{RESULTS_FILE} claims {len(claims)} programs; the task "
                                      f"has {len(scores)}")
    for claim, score in zip(claims, scores):
        _need(isinstance(claim, dict) and claim.get("name") == score.name,
              f"{RESULTS_FILE}: programs are not the task's, in order (expected "
              f"{score.name!r}, found {claim!r:.60})")
        if claim.get("passed") is not score.passed:
            raise Refused(f"{RESULTS_FILE} claims {score.name} "
                          f"{'passes' if claim.get('passed') else 'fails'}; the rerun "
                          + ("passes" if score.passed else f"fails: {score.failure}"))
        _need(_close(claim.get("cost"), score.cost),
              f"{RESULTS_FILE} claims {score.name} costs {claim.get('cost')} cycles; the rerun "
              f"measures {score.cost}")
    claimed = entry.results["summary"]
    for key in ("pass_rate", "geomean_cost_ratio", "cheaper_than_o2"):
        _need(_close(claimed.get(key), getattr(summary, key)),
              f"{RESULTS_FILE} claims {key} = {claimed.get(key)}; the rerun gives "
              f"{getattr(summary, key)}")
