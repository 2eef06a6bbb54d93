"""Training checkpoints: tensors in safetensors, everything else in JSON; never pickle.

A checkpoint is a pair ``NAME.safetensors`` + ``NAME.json``, written and read by
``kiln.tensorfiles`` (as the model checkpoints are): the tensors file first, the JSON last with
the tensors file's SHA-256, so a checkpoint exists once its JSON does and a truncated or altered
file is refused with a one-line ``CheckpointError`` naming it.

What PPO needs to resume exactly is flattened into these two files: the model's and the
optimiser's tensors (``optim_state``), the RNG states (``rng_state``), and counters in JSON.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..tensorfiles import CheckpointError, read_json, read_tensors, write_pair

FORMAT = "kiln-ppo-checkpoint"
__all__ = ["FORMAT", "CheckpointError", "read_json", "save", "load", "optim_state",
           "load_optim_state", "rng_state", "load_rng_state"]


def save(stem: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write checkpoint ``stem`` (``stem.safetensors`` then ``stem.json``)."""
    write_pair(stem.with_suffix(".safetensors"), stem.with_suffix(".json"), tensors,
               dict(meta, format=FORMAT), "sha256")


def load(stem: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and metadata of checkpoint ``stem``; CheckpointError if either file is
    missing, truncated or altered."""
    meta = read_json(stem.with_suffix(".json"))
    return read_tensors(stem.with_suffix(".safetensors"), meta.get("sha256"),
                        stem.with_suffix(".json").name), meta


def optim_state(optimizer: torch.optim.Optimizer, prefix: str = "optim."
                ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimiser's state as ``(tensors, json)``: per-parameter tensors flattened to
    ``prefix + "<param>.<key>"``, the param groups (numbers and lists) as JSON."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}{param}.{key}"] = value
            else:
                scalars.setdefault(str(param), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def load_optim_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                     meta: dict[str, Any], prefix: str = "optim.") -> None:
    """Restore what ``optim_state`` saved into ``optimizer``."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix):
            param, key = name[len(prefix):].split(".", 1)
            state.setdefault(int(param), {})[key] = value
    for param, values in meta["scalars"].items():
        state.setdefault(int(param), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def rng_state(generator: torch.Generator, prefix: str = "rng.") -> dict[str, torch.Tensor]:
    """The states of ``generator`` and torch's global CPU generator (uint8 tensors)."""
    return {prefix + "sampler": generator.get_state(), prefix + "torch": torch.get_rng_state()}


def load_rng_state(generator: torch.Generator, tensors: dict[str, torch.Tensor],
                   prefix: str = "rng.") -> None:
    """Restore what ``rng_state`` saved."""
    generator.set_state(tensors[prefix + "sampler"])
    torch.set_rng_state(tensors[prefix + "torch"])
