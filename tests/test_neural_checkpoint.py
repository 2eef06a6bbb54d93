"""Checkpoints: round trip, and every kind of bad file refused with a message that says which."""
from __future__ import annotations

import hashlib
import json

import pytest
import safetensors.torch
import torch

from kiln.agents import checkpoint
from kiln.agents.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from kiln.agents.config import ModelConfig
from kiln.agents.model import Seq2Seq


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = Seq2Seq(ModelConfig.preset("tiny"))
    save_checkpoint(tmp_path / "m", model, step=42, training={"note": "test"})
    return model, tmp_path / "m"


def test_round_trip(saved):
    model, path = saved
    loaded, meta = load_checkpoint(path.with_suffix(".json"))
    assert meta["step"] == 42 and meta["training"] == {"note": "test"}
    assert loaded.config == model.config
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.json", "m.safetensors"]


def test_bf16_weights_load_as_float32(tmp_path):
    model = Seq2Seq(ModelConfig.preset("tiny"))
    save_checkpoint(tmp_path / "b", model, dtype=torch.bfloat16)
    loaded, meta = load_checkpoint(tmp_path / "b.safetensors")
    assert meta["weights_dtype"] == "bfloat16"
    assert loaded.logits.weight.dtype == torch.float32
    torch.testing.assert_close(loaded.logits.weight, model.logits.weight, atol=1e-2, rtol=1e-2)


def test_truncated_or_corrupted_weights_refused(saved):
    _, path = saved
    weights = path.with_suffix(".safetensors")
    data = weights.read_bytes()
    weights.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match="m.safetensors: the weights do not match"):
        load_checkpoint(path)
    corrupted = bytearray(data)
    corrupted[-5] ^= 0xFF
    weights.write_bytes(bytes(corrupted))
    with pytest.raises(CheckpointError, match="truncated, corrupted or replaced"):
        load_checkpoint(path)
    weights.unlink()
    with pytest.raises(CheckpointError, match="no such weights file"):
        load_checkpoint(path)


def test_weights_that_hash_right_but_do_not_parse_or_fit_refused(saved):
    _, path = saved
    meta_path, weights = path.with_suffix(".json"), path.with_suffix(".safetensors")
    meta = json.loads(meta_path.read_text())

    def replace_weights(data: bytes) -> None:
        weights.write_bytes(data)
        meta["weights_sha256"] = hashlib.sha256(data).hexdigest()
        meta_path.write_text(json.dumps(meta))

    replace_weights(b"not safetensors at all")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(path)
    other = Seq2Seq(ModelConfig(d_model=32, heads=2, encoder_layers=2, decoder_layers=1,
                                d_ff=64))
    replace_weights(safetensors.torch.save(other.state_dict()))
    with pytest.raises(CheckpointError, match="tensors do not fit the config's model"):
        load_checkpoint(path)


def test_bad_metadata_refused(saved):
    _, path = saved
    meta_path = path.with_suffix(".json")
    text = meta_path.read_text()
    meta_path.write_text(text[:len(text) // 2])
    with pytest.raises(CheckpointError, match="m.json: not valid JSON"):
        load_checkpoint(path)
    meta = json.loads(text)
    for change, message in [
        ({"format": "other"}, "not a kiln neural compiler checkpoint"),
        ({"format_version": 99}, "format version 99"),
        ({"tables_hash": "0" * 64}, "another ISA or vocabulary"),
        ({"target_vocab_size": 300}, "vocabularies of 160 source and 300 target"),
        ({"model": {**meta["model"], "heads": 3}}, "bad model config"),
    ]:
        meta_path.write_text(json.dumps({**meta, **change}))
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(path)
    del meta["weights_sha256"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="missing fields \\['weights_sha256'\\]"):
        load_checkpoint(path)
    meta_path.unlink()
    with pytest.raises(CheckpointError, match="no such checkpoint metadata file"):
        load_checkpoint(path)


def test_unwritable_path_refused_before_anything_is_written(tmp_path):
    from kiln.fileio import OutputPathError

    (tmp_path / "m.safetensors").mkdir()
    with pytest.raises(OutputPathError, match="it is a directory"):
        save_checkpoint(tmp_path / "m", Seq2Seq(ModelConfig.preset("tiny")))
    assert not (tmp_path / "m.json").exists()
