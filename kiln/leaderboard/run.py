"""``kiln leaderboard``: every entry on every task, scored the same way, re-validated, reported."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .entries import Compiled, Entry, TraditionalEntry, make_entries
from .report import write_outputs
from .score import ProgramScore, Summary, prove, score_code, summarise
from .submission import RESULTS_FILE, Refused, SubmissionEntry, check_claims, \
    load_submission, write_submission
from .tasks import TASK_NAMES, Task, load_task, suite_dir


@dataclass
class LeaderboardConfig:
    """What ``kiln leaderboard`` runs."""

    tasks: tuple[str, ...] = ("suite", "small", "loops", "deep")
    """Built-in tasks to run (``tasks.TASK_NAMES``)."""
    suite_dirs: tuple[str, ...] = ()
    """Directories of kiln sources, one function per file, each one more task."""
    entries: str = "O0,O1,O2"
    """Built-in entries: the traditional compiler's levels, ``neural`` and ``hybrid``."""
    checkpoint: str | None = None
    """The neural and hybrid entries' checkpoint (default: the one shipped with kiln)."""
    samples: int = 1
    """Candidates the neural and hybrid entries draw per program."""
    prove: bool = False
    """Prove every passed program equal to its ``-O2`` code with SMT (the proved rate)."""
    submissions: tuple[str, ...] = ()
    """Submission directories (results file + artifact), each re-validated."""
    device: str = "auto"
    """Where entries compile and the VM runs the tests: ``cuda``, ``cpu`` or ``auto``."""
    quick: bool = False
    """Fewer generated programs per held-out set (the CI smoke run)."""
    out: str = "leaderboard"
    """Directory for the outputs."""
    save_submissions: str | None = None
    """Also write each built-in entry's code and results as a submission under this folder."""


def _submitted_tasks(folders: Sequence[str]) -> list[str]:
    """The built-in tasks that submissions name, so that the run has them (a submission whose
    results cannot be read is refused later, with the reason)."""
    names = []
    for folder in folders:
        try:
            task = json.loads((Path(folder) / RESULTS_FILE).read_text(encoding="utf-8"))["task"]
        except (OSError, ValueError, TypeError, KeyError):
            continue
        if task in TASK_NAMES and task not in names:
            names.append(task)
    return names


def _output_dir(path: str) -> Path:
    """``path`` as a directory that exists (made if missing), checked before any work."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot make the output directory {folder}: "
                         f"{exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write into the output directory {folder}")
    return folder


def _artifact(entry: Entry) -> dict[str, Any]:
    """What makes a built-in entry's saved submission: its checkpoint for the neural and
    hybrid entries."""
    if entry.approach in ("neural", "hybrid"):
        return {"checkpoint": entry.checkpoint, "samples": entry.samples,
                "kind": entry.approach}
    return {}


def _device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def _outcome_rate(compiled: Compiled, outcomes: tuple[str, ...]) -> float | None:
    """The fraction of programs whose entry-reported outcome is one of ``outcomes`` (None for
    an entry that reports none)."""
    if compiled.outcomes is None or not compiled.outcomes:
        return None
    return sum(o in outcomes for o in compiled.outcomes) / len(compiled.outcomes)


def _row(task: Task, entry: Entry, compiled: Compiled, scores: list[ProgramScore],
         summary: Summary, seconds: float) -> dict[str, Any]:
    return {"task": task.name, "entry": entry.name, "approach": entry.approach,
            "programs": summary.programs, "pass_rate": summary.pass_rate,
            "proved_rate": summary.proved_rate,
            "own_proved_rate": _outcome_rate(compiled, ("proved", "proved_bounded")),
            "fell_back_rate": _outcome_rate(compiled, ("fell_back",)),
            "geomean_cost_ratio": summary.geomean_cost_ratio,
            "cheaper_than_o2": summary.cheaper_than_o2, "wall_s": seconds,
            "provenance": entry.provenance(),
            "failures": [{"program": s.name, "reason": s.failure} for s in scores
                         if not s.passed],
            "not_proved": [{"program": s.name, "verdict": s.proof} for s in scores
                           if s.proof is not None]}


def _warm_up(entries: Sequence[Entry], task: Task | None, device: torch.device) -> None:
    """Compile and score one program per entry, untimed: numba compiles its kernels on first
    use, which would otherwise count in the first entry's wall time."""
    if task is None or not task.programs:
        return
    one = Task(task.name, task.description, task.programs[:1])
    for entry in entries:
        compiled = entry.compile(one, device)
        score_code(one, compiled.codes, compiled.errors, device)


def run_leaderboard(cfg: LeaderboardConfig, echo: Callable[[str], None] = print
                    ) -> dict[str, Any]:
    """Build the tasks, score every entry and submission, write the outputs; return the report
    (also in ``leaderboard.json``)."""
    from tqdm import tqdm

    from ..bench.throughput import metadata

    device = _device(cfg.device)
    out = _output_dir(cfg.out)
    if cfg.save_submissions:
        _output_dir(cfg.save_submissions)
    entries = make_entries(cfg.entries, cfg.checkpoint, cfg.samples)
    tasks: dict[str, Task] = {}
    for name in tqdm(cfg.tasks, desc="tasks", unit="task", disable=None):
        tasks[name] = load_task(name, cfg.quick)
    for name in _submitted_tasks(cfg.submissions):
        if name not in tasks:
            tasks[name] = load_task(name, cfg.quick)
    for folder in cfg.suite_dirs:
        task = suite_dir(folder)
        tasks[task.name] = task
        for error in task.errors:
            echo(f"left out: {error}")
    if not tasks:
        raise ValueError("nothing to rank: name --tasks, give a --suite directory, or a "
                         "--submission for a built-in task")
    refused: list[dict[str, str]] = []
    submitted: list[tuple[SubmissionEntry, Task]] = []
    for folder in cfg.submissions:
        try:
            submitted.append(load_submission(folder, tasks, device))
        except Refused as exc:
            refused.append({"submission": str(folder), "reason": str(exc)})
            echo(f"refused {folder}: {exc}")

    o2 = TraditionalEntry(2)
    _warm_up(entries, next(iter(tasks.values()), None), device)
    rows: list[dict[str, Any]] = []
    jobs = [(task, entry) for task in tasks.values() for entry in entries]
    jobs += [(task, entry) for entry, task in submitted]
    o2_costs: dict[str, list[float | None]] = {}
    o2_codes: dict[str, tuple] = {}
    for task, entry in tqdm(jobs, desc="leaderboard", unit="entry", disable=None):
        if task.name not in o2_costs:
            baseline = o2.compile(task, device)
            o2_codes[task.name] = baseline.codes
            o2_costs[task.name] = [s.cost for s in score_code(task, baseline.codes,
                                                               baseline.errors, device)]
        start = time.perf_counter()
        compiled = entry.compile(task, device)
        scores = score_code(task, compiled.codes, compiled.errors, device)
        seconds = time.perf_counter() - start
        if cfg.prove:  # the referee's time, not the entry's
            scores = prove(task, compiled.codes, scores, o2_codes[task.name])
        summary = summarise(scores, o2_costs[task.name])
        if isinstance(entry, SubmissionEntry):
            try:
                check_claims(entry, scores, summary)
            except Refused as exc:
                refused.append({"submission": str(entry.folder), "reason": str(exc)})
                echo(f"refused {entry.folder}: {exc}")
                continue
        elif cfg.save_submissions:
            write_submission(Path(cfg.save_submissions) / f"{task.name}_{entry.name.lstrip('-')}",
                             entry.name, task, compiled, scores, summary, entry.provenance(),
                             **_artifact(entry))
        rows.append(_row(task, entry, compiled, scores, summary, seconds))
    report = {"meta": metadata(str(device)),
              "tasks": [{"name": t.name, "description": t.description,
                         "programs": len(t.programs), "digest": t.digest(),
                         "errors": list(t.errors)} for t in tasks.values()],
              "rows": rows, "refused": refused}
    for path in write_outputs(report, out):
        echo(f"wrote {path}")
    return report


def parse_list(text: str) -> tuple[str, ...]:
    """A comma-separated command-line list."""
    return tuple(t.strip() for t in text.split(",") if t.strip())

