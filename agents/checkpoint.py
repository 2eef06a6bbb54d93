"""Checkpoints of the neural compiler: data, never code.

A checkpoint is two files side by side: ``NAME.safetensors`` (the weights) and ``NAME.json``
(the model config, the vocabularies' sizes, a hash of the ISA and both vocabularies, the
training step, the kiln version and the SHA-256 of the weights file). Loading reads no pickle, so
a checkpoint from anyone (a leaderboard submission) cannot run code, and it refuses, with a
message that says which, a file that is missing, truncated or corrupted (the weights' hash), or
that was trained for another ISA or vocabulary (the tables' hash). Both files are written
atomically, weights first (``kiln.tensorfiles``, shared with PPO's training checkpoints); a crash
between the two leaves new weights beside old metadata, which loading refuses (the weights'
hash), never a half file.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ..compilers import isa, tokens, vocab
from ..tensorfiles import CheckpointError, read_json, read_tensors, write_pair
from .config import ModelConfig
from .model import NOT_A_LITERAL, Seq2Seq

FORMAT = "kiln-neural-compiler"
FORMAT_VERSION = 1


def tables_hash() -> str:
    """SHA-256 of everything a model's token ids mean: the ISA's opcodes (number, name, operand
    kind, stack effect), the target vocabulary and the source vocabulary."""
    facts = {
        "ops": [(op.code, op.name, op.arg, op.pops, op.pushes) for op in isa.OPS],
        "target": list(vocab.TOKEN_NAMES),
        "source": [tokens.source_token_name(t) for t in range(tokens.SOURCE_VOCAB_SIZE)],
        "literal_buckets": [vocab.IMM_MIN, vocab.IMM_MAX, NOT_A_LITERAL],
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """The (weights, metadata) files of a checkpoint named by either file or by its stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def save_checkpoint(path: str | os.PathLike, model: Seq2Seq, *, step: int = 0,
                    dtype: torch.dtype = torch.float32,
                    training: dict[str, Any] | None = None) -> Path:
    """Save ``model`` (weights cast to ``dtype``) at ``path`` (a stem, or either file's name);
    ``training`` is free-form JSON (figures, settings) kept beside. Returns the weights' path."""
    from .. import __version__

    weights_path, meta_path = paths(path)
    state = {k: v.to(dtype) for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "kiln_version": __version__,
        "model": model.config.to_dict(), "source_vocab_size": tokens.SOURCE_VOCAB_SIZE,
        "target_vocab_size": vocab.TARGET_VOCAB_SIZE, "tables_hash": tables_hash(),
        "step": int(step),
        "weights_file": weights_path.name, "weights_dtype": str(dtype).removeprefix("torch."),
        "training": training or {},
    }
    write_pair(weights_path, meta_path, state, meta, "weights_sha256")
    return weights_path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON half of a checkpoint, checked for format and compatibility with this kiln."""
    _, meta_path = paths(path)
    meta = read_json(meta_path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path}: not a kiln neural compiler checkpoint")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{meta_path}: checkpoint format version "
                              f"{meta.get('format_version')!r}; this kiln reads {FORMAT_VERSION}")
    needed = ("model", "source_vocab_size", "target_vocab_size", "tables_hash", "step",
              "weights_sha256")
    missing = [k for k in needed if k not in meta]
    if missing:
        raise CheckpointError(f"{meta_path}: missing fields {missing}")
    sizes = (meta["source_vocab_size"], meta["target_vocab_size"])
    if sizes != (tokens.SOURCE_VOCAB_SIZE, vocab.TARGET_VOCAB_SIZE):
        raise CheckpointError(f"{meta_path}: trained for vocabularies of {sizes[0]} source and "
                              f"{sizes[1]} target tokens; this kiln has "
                              f"{tokens.SOURCE_VOCAB_SIZE} and {vocab.TARGET_VOCAB_SIZE}: "
                              f"incompatible")
    if meta["tables_hash"] != tables_hash():
        raise CheckpointError(f"{meta_path}: trained for another ISA or vocabulary (tables hash "
                              f"{str(meta['tables_hash'])[:12]}, this kiln "
                              f"{tables_hash()[:12]}): incompatible")
    return meta


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu"
                    ) -> tuple[Seq2Seq, dict[str, Any]]:
    """The model saved at ``path`` (float32, eval mode, on ``device``) and its metadata;
    CheckpointError if the files are missing, truncated, corrupted or incompatible."""
    weights_path, _ = paths(path)
    meta = read_metadata(path)
    try:
        config = ModelConfig.from_dict(meta["model"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{paths(path)[1]}: bad model config: {e}") from None
    state = read_tensors(weights_path, meta["weights_sha256"], paths(path)[1].name)
    model = Seq2Seq(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if found != expected:
        wrong = sorted(set(found) ^ set(expected)) or \
            sorted(k for k in expected if found[k] != expected[k])
        raise CheckpointError(f"{weights_path}: tensors do not fit the config's model "
                              f"(first differences: {wrong[:4]})")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.to(device).eval(), meta
