"""The leaderboard's outputs: ``leaderboard.md``, ``.csv`` and ``.json``, a PNG chart per task
and the figures as TensorBoard hparams. Every file goes through ``fileio.atomic_write``; the
TensorBoard run is written in a temporary folder and renamed into place."""
from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..fileio import atomic_write

# The leaderboard's columns, in order: (key of a row, header).
COLUMNS = (("rank", "rank"), ("entry", "entry"), ("approach", "approach"),
           ("pass_rate", "pass rate"), ("proved_rate", "proved rate"),
           ("own_proved_rate", "proved by the entry"), ("fell_back_rate", "fell back to -O2"),
           ("geomean_cost_ratio", "cost / -O2 (geomean)"),
           ("cheaper_than_o2", "cheaper than -O2"), ("wall_s", "wall s"))
METRICS = ("pass_rate", "proved_rate", "own_proved_rate", "fell_back_rate",
           "geomean_cost_ratio", "cheaper_than_o2", "wall_s")


def ranked(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One task's rows, best first: highest pass rate, then lowest cost ratio; with ``rank``."""
    def key(row):
        ratio = row["geomean_cost_ratio"]
        return (-row["pass_rate"], ratio if ratio is not None else float("inf"), row["entry"])

    return [dict(row, rank=i + 1) for i, row in enumerate(sorted(rows, key=key))]


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if key in ("pass_rate", "proved_rate", "own_proved_rate", "fell_back_rate",
               "cheaper_than_o2"):
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:.3f}" if key != "wall_s" else f"{value:.2f}"
    return str(value)


def markdown(report: dict[str, Any]) -> str:
    """The leaderboard as Markdown: environment, then a table per task, then refusals."""
    meta = report["meta"]
    lines = ["# kiln leaderboard", "",
             f"{meta['date']} · {meta['device_name']} ({meta['device']}) · commit "
             f"{meta['commit']} · Python {meta['python']}, torch {meta['torch']}, numba "
             f"{meta['numba']}", "",
             "Pass rate: programs whose code returns the reference interpreter's value on every "
             "test. Proved rate: programs proved equivalent by the SMT verifier (n/a where it "
             "did not run). Proved by the entry, fell back to -O2: the hybrid's own "
             "outcomes (its SMT proofs, or its fallback to the traditional -O2 code; n/a for "
             "entries that report none). Cost / -O2: geometric mean, over passed programs, of "
             "mean cycles per test relative to kiln's -O2 code. Cheaper than -O2: fraction of "
             "all programs that pass and cost less than -O2.", ""]
    for task in report["tasks"]:
        rows = [r for r in report["rows"] if r["task"] == task["name"]]
        lines += [f"## {task['name']}", "", task["description"], ""]
        lines += ["| " + " | ".join(h for _, h in COLUMNS) + " |",
                  "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(_cell(k, r.get(k)) for k, _ in COLUMNS) + " |"
                  for r in ranked(rows)]
        lines.append("")
        if task["errors"]:
            lines += ["Files left out:", ""] + [f"- {e}" for e in task["errors"]] + [""]
    if report["refused"]:
        lines += ["## Refused submissions", ""]
        lines += [f"- `{r['submission']}`: {r['reason']}" for r in report["refused"]]
        lines.append("")
    return "\n".join(lines)


ENVIRONMENT = ("device", "device_name", "date", "commit", "python", "torch", "numba")


def csv_text(rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    """One line per (task, entry): every figure, the provenance and the environment."""
    keys = ["task", "entry", "approach", "programs", *METRICS, "provenance", *ENVIRONMENT]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(dict(row, provenance=json.dumps(row["provenance"], sort_keys=True),
                             **{k: meta[k] for k in ENVIRONMENT}))
    return buf.getvalue()


def chart_png(task: str, rows: Sequence[dict[str, Any]]) -> bytes:
    """Cost ratio to -O2 against pass rate, one labelled point per entry, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.add_subplot()
    for row in rows:
        if row["geomean_cost_ratio"] is None:
            continue  # nothing passed: no cost to plot (the table says n/a)
        ax.scatter(100 * row["pass_rate"], row["geomean_cost_ratio"])
        ax.annotate(row["entry"], (100 * row["pass_rate"], row["geomean_cost_ratio"]),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlabel("pass rate (%)")
    ax.set_ylabel("cost / -O2 (geometric mean, lower is better)")
    ax.set_title(f"kiln leaderboard: {task}")
    ax.set_xlim(-2, 115)  # room for the labels of entries at 100%
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def write_tensorboard(folder: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Each (task, entry) as a TensorBoard hparams run under ``folder`` (replaced whole)."""
    from torch.utils.tensorboard import SummaryWriter

    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for row in rows:
            with SummaryWriter(log_dir=str(tmp)) as writer:
                writer.add_hparams(
                    {"task": row["task"], "entry": row["entry"], "approach": row["approach"]},
                    {f"leaderboard/{m}": float(row[m]) for m in METRICS if row[m] is not None},
                    run_name=f"{row['task']}/{row['approach']}{row['entry']}")
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_outputs(report: dict[str, Any], out: Path) -> list[Path]:
    """Write every output of ``report`` into the directory ``out``; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [atomic_write(out / "leaderboard.md", markdown(report)),
             atomic_write(out / "leaderboard.csv", csv_text(report["rows"], report["meta"])),
             atomic_write(out / "leaderboard.json", json.dumps(report, indent=1))]
    for task in report["tasks"]:
        rows = [r for r in report["rows"] if r["task"] == task["name"]]
        paths.append(atomic_write(out / f"chart_{task['name']}.png",
                                  chart_png(task["name"], rows)))
    write_tensorboard(out / "tensorboard", report["rows"])
    paths.append(out / "tensorboard")
    return paths
