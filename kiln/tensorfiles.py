"""Tensors on disk as data, never code: a safetensors file vouched for by a JSON file.

Both of kiln's checkpoint formats (the neural compiler's model, ``kiln.agents.checkpoint``, and
PPO's resumable training state, ``kiln.training.checkpoint``) are such a pair: the JSON holds
the tensors file's SHA-256 beside the format's own fields. This module is their one reader and
writer. The tensors are written first and the JSON last, each atomically
(``kiln.fileio.atomic_write``), so a kill at any moment leaves the old pair, the new pair, or a
new tensors file beside the old JSON, which reading refuses (the digest), never a half file.
No pickle is parsed, so a checkpoint from anyone cannot run code.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from .fileio import atomic_write


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: the message says which file and why."""


def write_pair(tensors_path: Path, json_path: Path, tensors: dict[str, torch.Tensor],
               meta: dict[str, Any], digest_key: str) -> None:
    """Write ``tensors`` (to the CPU, contiguous) at ``tensors_path``, then ``meta`` with the
    tensors file's SHA-256 under ``digest_key`` at ``json_path``."""
    blob = save_safetensors({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    tensors_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(tensors_path, blob)
    meta = dict(meta, **{digest_key: hashlib.sha256(blob).hexdigest()})
    atomic_write(json_path, json.dumps(meta, indent=1) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object at ``path``; CheckpointError if it is missing, unreadable, truncated or
    not an object."""
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint metadata file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON (truncated or corrupted?): {exc}"
                              ) from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: holds a JSON {type(value).__name__}, not an object")
    return value


def read_tensors(path: Path, sha256: Any, json_name: str) -> dict[str, torch.Tensor]:
    """The tensors at ``path``, whose SHA-256 must be ``sha256`` (as ``json_name`` records
    it); CheckpointError if the file is missing, truncated, altered or not safetensors."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such weights file") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror})") from None
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise CheckpointError(f"{path}: the weights do not match the SHA-256 in {json_name} "
                              f"(truncated, corrupted or replaced)")
    try:
        return load_safetensors(blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file: {exc}") from None
