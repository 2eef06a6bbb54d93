"""The neural entry and neural submissions on the leaderboard (the shipped checkpoint, and a
tiny untrained one where only the plumbing is under test)."""
import json

import numpy as np
import pytest
import torch

from kiln.cli import main
from kiln.compilers.programs.suite import get_program
from kiln.compilers.validate import validate
from kiln.leaderboard import LeaderboardConfig, Task, run_leaderboard, score_code
from kiln.leaderboard.approaches import NeuralEntry
from kiln.leaderboard.tasks import make_program

NAMES = ("abs_diff", "clamp", "sign")
LONG = "def long(a):\n" + "    a = a ^ (a >> 1)\n" * 60 + "    return a\n"


@pytest.fixture(scope="module")
def task():
    programs = [make_program(n, get_program(n).source, i) for i, n in enumerate(NAMES)]
    return Task("mini", "three suite functions and a long one",
                tuple(programs) + (make_program("long", LONG, 9),))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from kiln.agents.checkpoint import save_checkpoint
    from kiln.agents.config import ModelConfig
    from kiln.agents.model import Seq2Seq

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint(path, Seq2Seq(ModelConfig.preset("tiny")))
    return path


def test_shipped_neural_entry_reruns_to_the_same_code(task):
    entry = NeuralEntry()  # the shipped checkpoint
    first, second = entry.compile(task, "cpu"), entry.compile(task, "cpu")
    for a, b in zip(first.codes, second.codes):
        assert (a is None and b is None) or np.array_equal(a, b)
    assert first.codes[3] is None and "longer than the model reads" in first.errors[3]
    for code, error in zip(first.codes[:3], first.errors[:3]):
        assert (code is None) != (error is None)
        if code is not None:
            validate(code)
    scores = score_code(task, first.codes, first.errors)
    # What the approach's own tests accepted, the leaderboard's tests are run on again.
    assert "longer than the model reads" in scores[3].failure


def test_neural_submission_round_trip_and_truncated_checkpoint(task, tiny, tmp_path,
                                                               monkeypatch):
    import kiln.leaderboard.run as run

    monkeypatch.setattr(run, "load_task", lambda name, quick: task)
    subs = tmp_path / "subs"
    cfg = dict(tasks=("mini",), device="cpu", checkpoint=str(tiny), samples=2)
    run_leaderboard(LeaderboardConfig(entries="neural", out=str(tmp_path / "a"),
                                      save_submissions=str(subs), **cfg), echo=lambda _: None)
    good = subs / "mini_neural"
    artifact = json.loads((good / "results.json").read_text())["artifact"]
    assert artifact["kind"] == "neural" and artifact["samples"] == 2
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in good.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    weights = bad / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    report = run_leaderboard(LeaderboardConfig(entries="O2", submissions=(str(good), str(bad)),
                                               out=str(tmp_path / "b"), **cfg),
                             echo=lambda _: None)
    assert sorted(r["entry"] for r in report["rows"]) == ["-O2", "neural"]
    (refusal,) = report["refused"]
    assert refusal["submission"] == str(bad) and "truncated" in refusal["reason"]


def test_a_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    assert main(["leaderboard", "--tasks", "suite", "--entries", "neural", "--checkpoint",
                 str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kiln: error: ") and "nothing" in err and len(err.splitlines()) == 1


def test_shipped_hybrid_entry_passes_everything_and_says_what_it_proved(task):
    """The hybrid's code is proved equal to -O2 or is -O2: every program passes, the long one
    (which the model cannot read) falls back, and each outcome is reported."""
    from kiln.leaderboard.approaches import HybridEntry

    entry = HybridEntry(samples=2)  # the shipped checkpoint
    compiled = entry.compile(task, torch.device("cpu"))
    assert all(s.passed for s in score_code(task, compiled.codes, compiled.errors))
    assert compiled.errors == (None,) * 4
    assert set(compiled.outcomes) <= {"proved", "fell_back"} and compiled.outcomes[3] == "fell_back"
    assert entry.provenance()["approach"] == "hybrid"


def test_hybrid_submission_is_rerun_and_reports_its_fallbacks(task, tiny, tmp_path,
                                                              monkeypatch):
    import kiln.leaderboard.run as run

    monkeypatch.setattr(run, "load_task", lambda name, quick: task)
    subs = tmp_path / "subs"
    cfg = dict(tasks=("mini",), device="cpu", checkpoint=str(tiny), samples=2)
    first = run_leaderboard(LeaderboardConfig(entries="hybrid", out=str(tmp_path / "a"),
                                              save_submissions=str(subs), **cfg),
                            echo=lambda _: None)
    (row,) = first["rows"]
    # An untrained model: every program falls back to -O2 and passes.
    assert (row["pass_rate"], row["own_proved_rate"], row["fell_back_rate"]) == (1.0, 0.0, 1.0)
    assert "fell back to -O2" in (tmp_path / "a" / "leaderboard.md").read_text()
    good = subs / "mini_hybrid"
    assert json.loads((good / "results.json").read_text())["artifact"]["kind"] == "hybrid"
    report = run_leaderboard(LeaderboardConfig(entries="O2", submissions=(str(good),),
                                               out=str(tmp_path / "b"), **cfg),
                             echo=lambda _: None)
    assert report["refused"] == []
    listed = [r for r in report["rows"] if r["approach"] == "submission"]
    assert listed and listed[0]["fell_back_rate"] == 1.0
