"""Imitation: batched targets equal ``vocab.encode``; a tiny model learns; ``kiln imitate`` runs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from kiln.agents.config import ModelConfig
from kiln.agents.model import Seq2Seq
from kiln.agents.targets import encode_batch, oracle_targets
from kiln.cli import main
from kiln.compilers import vocab
from kiln.compilers.batch import compile_batch
from kiln.compilers.programs.generator import GenConfig, generate_batch
from kiln.training.imitation import ImitationConfig, evaluate, learning_rate, train

# Straight-line programs of one or two additions: small enough for a tiny model to learn
# something in a few hundred CPU steps.
ADDITIONS = GenConfig(min_stmts=1, max_stmts=2, max_depth=0, min_params=1, max_params=2,
                      max_vars=3, binops=1, cmpops=0, builtins=0, unops=0, boolops=0,
                      ternary=False, expr_depth=1, expr_nodes=1, p_special_lit=0, max_tokens=98)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("opt", [0, 1])
def test_encode_batch_equals_vocab_encode(seed, opt):
    batch = generate_batch(300, seed, GenConfig(p_special_lit=0.3))
    code = compile_batch(batch, opt, 256)
    tokens, ok = encode_batch(code.code, code.lengths, batch.lits, batch.nlits, 128)
    spelled = 0
    for i in range(len(batch)):
        n = int(code.lengths[i])
        expected = vocab.encode(code.code[i, :n].numpy(), batch.lits[i, :int(batch.nlits[i])])
        fits = expected is not None and len(expected) <= 128
        assert bool(ok[i]) == fits, f"seed {seed} opt {opt} program {i}"
        if fits:
            spelled += 1
            np.testing.assert_array_equal(tokens[i, :len(expected)].numpy(), expected)
            assert not tokens[i, len(expected):].any()
    assert spelled > 100  # the comparison covered real programs


def test_oracle_targets_fall_back_to_unfolded_code():
    """-O1 folds ``-100`` into a constant no token spells; the -O0 code spells it as
    ``lit``, ``neg``."""
    from kiln.compilers.tokens import TokenBatch

    batch = TokenBatch.from_sources(["def f(x):\n    return x + -100\n",
                                     "def f(x):\n    return x + 3\n"])
    tokens, ok = oracle_targets(batch, 64)
    assert ok.all()
    names = [[vocab.target_token_name(t) for t in row if t] for row in tokens.tolist()]
    assert names[0] == ["get 0", "lit 0", "neg", "add", "return"]
    assert names[1] == ["get 0", "const 3", "add", "return"]


def test_learning_rate_warms_up_then_decays():
    config = ImitationConfig(steps=100, warmup=10, lr=1.0)
    rates = [learning_rate(s, config) for s in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:])) and rates[-1] < 0.01
    timed = ImitationConfig(steps=100, warmup=10, lr=1.0, time_limit_s=10.0)
    assert learning_rate(20, timed, elapsed_s=10.0) == pytest.approx(0.0)
    # A run resumed at step 1000 starts a fresh optimiser: it warms up again, then decays to 0
    # at its last step.
    resumed = ImitationConfig(steps=1100, warmup=10, lr=1.0)
    again = [learning_rate(s, resumed, first_step=1000) for s in range(1000, 1100)]
    assert again == pytest.approx(rates)


def test_a_trained_tiny_model_beats_the_untrained_one(tmp_path):
    held_out = generate_batch(128, 7_000_100, ADDITIONS)
    torch.manual_seed(0)
    before = evaluate(Seq2Seq(ModelConfig.preset("tiny")), held_out)
    config = ImitationConfig(size="tiny", steps=300, batch_size=64, lr=3e-3, warmup=20,
                             eval_every=0, device="cpu", run_dir=str(tmp_path))
    _, summary = train(config, progress=False, generators=(ADDITIONS,), eval_batch=held_out)
    after = summary["held_out"]
    assert after["pass_rate"] > before["pass_rate"] + 0.05, (before, after)
    assert after["exact_match"] > before["exact_match"]
    assert summary["steps"] == 300 and summary["loss"] < 2.0


def test_kiln_imitate_runs_and_resumes(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["imitate", "--size", "tiny", "--steps", "3", "--batch-size", "8", "--device", "cpu",
            "--eval-programs", "4", "--run-dir", str(run)]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 3 and set(summary["held_out"]) >= {"pass_rate", "exact_match"}
    meta = json.loads((run / "model.json").read_text())
    assert meta["step"] == 3 and meta["model"] == ModelConfig.preset("tiny").to_dict()
    assert any(p.name.startswith("events.out.tfevents") for p in run.iterdir())
    assert main(args[:4] + ["5"] + args[5:] + ["--resume", str(run / "model")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == 5


def test_kiln_imitate_bad_options_are_one_line_errors(tmp_path, capsys):
    assert main(["imitate", "--size", "huge", "--run-dir", str(tmp_path)]) == 2
    assert "unknown model size 'huge'" in capsys.readouterr().err
    assert main(["imitate", "--steps", "many"]) == 2
    assert "'many' is not an int" in capsys.readouterr().err
    assert main(["imitate", "--resume", str(tmp_path / "nothing"), "--run-dir",
                 str(tmp_path)]) == 2
    assert "no such checkpoint metadata file" in capsys.readouterr().err
