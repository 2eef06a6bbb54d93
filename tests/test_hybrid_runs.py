"""The one command that runs the hybrid's GPU measurements, at CI sizes on the CPU: each step
writes its files, and a step that fails is recorded while the others still run."""
import json

import pytest

from kiln.bench import hybrid_runs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_steps_write_their_files_and_a_failure_does_not_stop_the_rest(tmp_path, monkeypatch):
    def broken(out, device, quick):
        raise RuntimeError("no GPU here")

    monkeypatch.setitem(hybrid_runs.STEPS, "cycle", broken)  # the cycle has a test of its own
    record = hybrid_runs.run_steps(tmp_path, "cpu", True, ("hybrid", "cycle", "leaderboard"),
                                   echo=lambda _: None)
    cycle = record["steps"]["cycle"]
    assert (cycle["ok"], cycle["error"]) == (False, "RuntimeError: no GPU here")
    assert record["steps"]["hybrid"]["ok"] and record["steps"]["leaderboard"]["ok"]
    assert json.loads((tmp_path / "runs.json").read_text()) == record
    hybrid = json.loads((tmp_path / "hybrid.json").read_text())
    assert hybrid["programs"] == 8 and sum(hybrid["fraction"].values()) == pytest.approx(1.0)
    assert 0.0 <= hybrid["unknown_fraction"] <= 1.0
    board = json.loads((tmp_path / "leaderboard" / "leaderboard.json").read_text())
    (hybrid_row,) = [r for r in board["rows"] if r["entry"] == "hybrid"]
    assert hybrid_row["pass_rate"] == 1.0  # proved or -O2: always right
    assert hybrid_row["own_proved_rate"] + hybrid_row["fell_back_rate"] == pytest.approx(1.0)


def test_an_unknown_step_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown step 'nope'"):
        hybrid_runs.run_steps(tmp_path, "cpu", True, ("nope",))
    with pytest.raises(SystemExit) as exit_info:
        hybrid_runs.main([str(tmp_path), "--device", "cpu", "--steps", "leaderboard,x"])
    assert exit_info.value.code == 2
    assert not (tmp_path / "leaderboard").exists()  # refused before any step ran
