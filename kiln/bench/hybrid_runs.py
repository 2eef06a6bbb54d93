"""The hybrid compiler's GPU measurements in one command, each written into one folder.

``python -m kiln.bench.hybrid_runs OUT --device cuda`` runs, in order (``--steps`` picks some):

- ``hybrid``: the hybrid's latency on 4,096 held-out programs, 16 samples each, stage by stage
  (``kiln.training.hybrid_bench``), and the fractions proved, fallen back and unknown:
  ``OUT/hybrid.json``;
- ``cycle``: ``kiln bench cycle`` (B = 1 to 65,536; the hybrid up to B = 256, as its ``-O2``
  compile and proofs run on the host per task): ``OUT/cycle.json`` and ``OUT/cycle.md``;
- ``leaderboard``: ``kiln leaderboard`` with the traditional levels, the neural and the hybrid
  entries (16 samples) on the suite and the held-out sets: ``OUT/leaderboard/``.

A step that fails is recorded with its error in ``OUT/runs.json`` (with every step's wall
seconds) and the next one runs. ``--quick`` shrinks every step to CI sizes on the CPU.
"""
from __future__ import annotations

import argparse
import json
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..fileio import atomic_write


def hybrid_step(out: Path, device: str, quick: bool) -> None:
    from ..training.hybrid_bench import run

    report = run(8 if quick else 4096, 2 if quick else 16, device, "neural", None, 0)
    atomic_write(out / "hybrid.json", json.dumps(report, indent=2))


def cycle_step(out: Path, device: str, quick: bool) -> None:
    from .cycle import CycleConfig, run_cycle

    lines: list[str] = []

    def echo(line: str) -> None:
        print(line)
        lines.append(line)

    run_cycle(CycleConfig(device=device, quick=quick, repeats=1 if quick else 3,
                          tests=16 if quick else 64, hybrid_max_batch=0 if quick else 256,
                          json_path=str(out / "cycle.json")), echo=echo)
    atomic_write(out / "cycle.md", "\n".join(lines) + "\n")


def leaderboard_step(out: Path, device: str, quick: bool) -> None:
    from ..leaderboard import LeaderboardConfig, run_leaderboard

    run_leaderboard(LeaderboardConfig(
        tasks=("small",) if quick else ("suite", "small", "loops", "deep"),
        entries="O2,hybrid" if quick else "O0,O1,O2,neural,hybrid", samples=2 if quick else 16,
        device=device, quick=quick, out=str(out / "leaderboard")))


STEPS: dict[str, Callable[[Path, str, bool], None]] = {
    "hybrid": hybrid_step, "cycle": cycle_step, "leaderboard": leaderboard_step}


def run_steps(out: str | Path, device: str, quick: bool, steps: tuple[str, ...],
              echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run ``steps`` (names of ``STEPS``) into the folder ``out``; the record of each (also in
    ``out/runs.json``, rewritten after every step)."""
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown step {unknown[0]!r}; the steps are {', '.join(STEPS)}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"device": device, "quick": quick, "steps": {}}
    for name in steps:
        echo(f"== {name}")
        start = time.perf_counter()
        try:
            STEPS[name](folder, device, quick)
            result: dict[str, Any] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - one step's failure must not stop the others
            echo(traceback.format_exc())
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        result["seconds"] = time.perf_counter() - start
        record["steps"][name] = result
        echo(f"== {name}: {'done' if result['ok'] else result['error']} "
             f"({result['seconds']:.0f} s)")
        atomic_write(folder / "runs.json", json.dumps(record, indent=1))
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="folder for the results (made if missing)")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--quick", action="store_true", help="CI sizes")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated, of {','.join(STEPS)} (default: all)")
    args = parser.parse_args(argv)
    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    try:
        record = run_steps(args.out, args.device, args.quick, steps)
    except ValueError as exc:
        parser.error(str(exc))
    return 0 if all(r["ok"] for r in record["steps"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
