"""Training checkpoints: tensors in safetensors, everything else in JSON; never pickle.

A checkpoint is a pair ``NAME.safetensors`` + ``NAME.json``. The tensors file is written first
(temporary file, then rename) and the JSON last, holding the tensors file's SHA-256: a
checkpoint exists once its JSON does, so a kill at any moment leaves either the whole pair or a
stray tensors file that nothing reads. Loading checks the digest, so a truncated or altered
file is refused with a one-line ``CheckpointError`` naming it.

What PPO needs to resume exactly is flattened into these two files: the model's and the
optimiser's tensors (``optim_state``), the RNG states (``rng_state``), and counters in JSON.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from ..agents.checkpoint import CheckpointError
from ..fileio import atomic_write

FORMAT = "kiln-ppo-checkpoint"


def save(stem: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write checkpoint ``stem`` (``stem.safetensors`` then ``stem.json``)."""
    blob = save_tensors({k: v.detach().contiguous().cpu() for k, v in tensors.items()})
    atomic_write(stem.with_suffix(".safetensors"), blob)
    meta = dict(meta, format=FORMAT, sha256=hashlib.sha256(blob).hexdigest())
    atomic_write(stem.with_suffix(".json"), json.dumps(meta, indent=1).encode())


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; CheckpointError if it is missing or not a JSON object."""
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not readable JSON ({exc})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path} holds {type(value).__name__}, not a JSON object")
    return value


def load(stem: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and metadata of checkpoint ``stem``; CheckpointError if either file is
    missing, truncated or altered."""
    meta = read_json(stem.with_suffix(".json"))
    path = stem.with_suffix(".safetensors")
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read ({exc.strerror})") from None
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise CheckpointError(f"{path} is corrupted or truncated (its SHA-256 does not match "
                              f"{stem.with_suffix('.json').name})")
    try:
        return load_tensors(blob), meta
    except (SafetensorError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a safetensors file ({exc})") from None


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
