"""A run directory: what ``kiln train`` writes and ``kiln train --resume`` reads.

::

    RUN_DIR/
      config.json                  the TrainConfig, written once when the run starts
      events.out.tfevents.*        TensorBoard (one file per start; resumes purge the overlap)
      checkpoints/
        step_000000065536.json     a checkpoint: counters, optimiser groups, SHA-256 ...
        step_000000065536.safetensors   ... and its tensors (model, reference, optimiser, RNG)
      eval.json                    every evaluation's metrics, by global step
      policy.json, policy.safetensors   the latest policy as a model checkpoint

Checkpoints are named by global step (env steps over all processes) so that they sort in time.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..fileio import atomic_write
from . import checkpoint
from .checkpoint import CheckpointError
from .config import TrainConfig

CONFIG = "config.json"
CHECKPOINTS = "checkpoints"
EVALUATIONS = "eval.json"
_STEP_NAME = re.compile(r"step_(\d{12})\.json")


def default_path(config: TrainConfig) -> Path:
    """``runs/<algo>-<seed>-<time>`` for a run that named no directory."""
    return Path("runs") / f"{config.algo}-{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


class RunDir:
    """The files of one run. ``create`` starts one, ``open`` an existing one."""

    def __init__(self, path: Path, config: TrainConfig):
        self.path = path
        self.config = config

    @classmethod
    def create(cls, path: Path, config: TrainConfig) -> RunDir:
        """A new run at ``path`` (which must not hold a run yet) with ``config`` written."""
        if (path / CONFIG).exists():
            raise CheckpointError(f"{path} already holds a run; continue it with --resume {path} "
                                  f"or choose another --run-dir")
        (path / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
        atomic_write(path / CONFIG, json.dumps(config.to_dict(), indent=1).encode())
        return cls(path, config)

    @classmethod
    def open(cls, path: Path, changes: dict[str, Any] | None = None) -> RunDir:
        """The run at ``path``. ``changes`` (flags given with ``--resume``) must agree with its
        config, except ``total_timesteps`` (a run may be extended)."""
        if not path.is_dir():
            raise CheckpointError(f"no run directory at {path}")
        values = checkpoint.read_json(path / CONFIG)
        try:
            config = TrainConfig.from_dict(values)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{path / CONFIG} is not a valid config: {exc}") from None
        changes = dict(changes or {})
        mutable = {"total_timesteps"}
        clashes = [f"--{name.replace('_', '-')} {value!r} (the run has {getattr(config, name)!r})"
                   for name, value in changes.items()
                   if name not in mutable and value != getattr(config, name)]
        if clashes:
            raise CheckpointError(f"config mismatch with {path / CONFIG}: {'; '.join(clashes)}; "
                                  f"only --total-timesteps may change on resume")
        config = config.replace(**{k: v for k, v in changes.items() if k in mutable})
        return cls(path, config)

    def checkpoint_stem(self, global_step: int) -> Path:
        return self.path / CHECKPOINTS / f"step_{global_step:012d}"

    def latest(self) -> Path | None:
        """The stem of the newest checkpoint (by its JSON, the last file a save writes)."""
        found = sorted(p for p in (self.path / CHECKPOINTS).glob("step_*.json")
                       if _STEP_NAME.fullmatch(p.name))
        return found[-1].with_suffix("") if found else None

    def save(self, global_step: int, tensors: dict, meta: dict[str, Any], keep: int = 3) -> Path:
        """Write a checkpoint at ``global_step`` and delete all but the newest ``keep``."""
        stem = self.checkpoint_stem(global_step)
        checkpoint.save(stem, tensors, dict(meta, global_step=global_step))
        old = sorted((self.path / CHECKPOINTS).glob("step_*.json"))[:-keep]
        for path in old:  # the JSON first: a checkpoint is gone once its JSON is
            path.unlink()
            path.with_suffix(".safetensors").unlink(missing_ok=True)
        return stem

    def evaluations(self) -> list[dict[str, Any]]:
        """The evaluations so far (``eval.json``), oldest first."""
        path = self.path / EVALUATIONS
        return checkpoint.read_json(path)["evaluations"] if path.exists() else []

    def write_json(self, name: str, value: dict[str, Any]) -> Path:
        path = self.path / name
        atomic_write(path, json.dumps(value, indent=1).encode())
        return path


def config_table(config: TrainConfig) -> str:
    """The config as a Markdown table (TensorBoard's text tab shows it)."""
    rows = "\n".join(f"|{f.name}|{getattr(config, f.name)!r}|" for f in fields(config))
    return "|param|value|\n|-|-|\n" + rows
