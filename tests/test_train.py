"""``kiln train`` and ``kiln eval`` end to end on tiny budgets: both PPO paths, kill and resume,
TensorBoard's own loader on the event files, and one-line errors that leave nothing behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from kiln.cli import main
from kiln.training.tblog import TAGS

# The smoke preset, smaller still: 2 updates of 8 lanes x 32 steps.
TINY = ["--preset", "smoke", "--total-timesteps", "512", "--eval-programs", "8"]
SB3_MISSING = ("losses/old_approx_kl", "losses/kl_to_reference")


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar curve of a run as TensorBoard shows it (purged events hidden)."""
    events = EventAccumulator(str(run))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*"))


@pytest.fixture(scope="module")
def native_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("native") / "run"
    assert main(["train", *TINY, "--run-dir", str(run)]) == 0
    return run


def test_native_smoke_run_writes_config_events_and_checkpoints(native_run: Path) -> None:
    config = json.loads((native_run / "config.json").read_text())
    assert config["algo"] == "native" and config["total_timesteps"] == 512
    names = files(native_run)
    assert "checkpoints/step_000000000512.json" in names and "policy.json" in names
    assert not [n for n in names if n.endswith(".tmp")]
    curves = scalars(native_run)
    missing = [tag for tag in TAGS if tag not in curves]
    assert not missing, f"tags missing from the event files: {missing}"
    assert [s for s, _ in curves["charts/SPS"]] == [256, 512]
    assert [s for s, _ in curves["compiler/pass_rate"]] == [0, 512]
    evaluations = json.loads((native_run / "eval.json").read_text())["evaluations"]
    assert [e["global_step"] for e in evaluations] == [0, 512]
    assert evaluations[-1]["suite"]["programs"] == 65
    events = EventAccumulator(str(native_run))
    events.Reload()
    assert "hyperparameters/text_summary" in events.Tags()["tensors"]


def test_sb3_smoke_run_logs_the_same_tags(tmp_path: Path) -> None:
    run = tmp_path / "sb3"
    assert main(["train", *TINY, "--algo", "sb3", "--run-dir", str(run)]) == 0
    curves = scalars(run)
    missing = [tag for tag in TAGS if tag not in curves and tag not in SB3_MISSING]
    assert not missing, f"tags missing from the SB3 run: {missing}"
    assert [s for s, _ in curves["charts/SPS"]] == [256, 512]
    assert (run / "checkpoints" / "step_000000000512.json").exists()


def test_kill_and_resume_continues_without_gap_or_duplicate(tmp_path: Path) -> None:
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "kiln", "train", *TINY, "--total-timesteps", "100000",
           "--run-dir", str(run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not (run / "checkpoints" / "step_000000001024.json").exists():
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # Resume from an earlier checkpoint than the events on disk reach: TensorBoard must hide
    # the killed run's events from that step on.
    for path in (run / "checkpoints").iterdir():
        if path.name >= "step_000000001024":
            path.unlink()
    assert main(["train", "--resume", str(run), "--total-timesteps", "1536"]) == 0
    curves = scalars(run)
    for tag in ("charts/SPS", "losses/policy_loss", "charts/episodic_return"):
        steps = [s for s, _ in curves[tag]]
        assert steps == list(range(256, 1537, 256)), f"{tag}: {steps}"
    assert [s for s, _ in curves["compiler/pass_rate"]] == [0, 512, 1024, 1536]
    evaluations = json.loads((run / "eval.json").read_text())["evaluations"]
    assert [e["global_step"] for e in evaluations] == [0, 512, 1024, 1536]
    meta = json.loads((run / "checkpoints" / "step_000000001536.json").read_text())
    assert meta["global_step"] == 1536 and meta["update"] == 6


def test_kiln_eval_prints_and_writes_the_metrics(native_run: Path, tmp_path: Path,
                                                 capsys) -> None:
    out = tmp_path / "eval.json"
    assert main(["eval", str(native_run), "--programs", "8", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for name in ("generated", "suite"):
        assert set(report[name]) == {"programs", "pass_rate", "cost_ratio_oracle",
                                     "cost_ratio_O2", "frac_cheaper_than_O2", "invalid_rate"}
        assert 0.0 <= report[name]["pass_rate"] <= 1.0
    assert report["generated"]["programs"] == 8
    assert "pass_rate" in capsys.readouterr().out


def one_line_error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kiln: error: ") and "\n" not in err, err
    return err


def test_bad_flags_get_one_line(capsys) -> None:
    assert "num_envs" in one_line_error(["train", "--preset", "smoke", "--num-envs", "0"],
                                        capsys)
    assert "not an int" in one_line_error(["train", "--num-envs", "x"], capsys)
    assert "smoke" in one_line_error(["train", "--preset", "nope"], capsys)
    assert "true or false" in one_line_error(["train", "--anneal-lr", "maybe"], capsys)
    assert "exclude" in one_line_error(["train", "--preset", "smoke", "--resume", "x"], capsys)


def test_help_comes_from_the_field_docstrings(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--kl-coef" in text and "KL penalty to the starting policy" in text
    assert "--refresh-every" in text and "Regenerate the program table" in text


def test_broken_run_dirs_and_checkpoints_are_refused(native_run: Path, tmp_path: Path,
                                                     capsys) -> None:
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(native_run, run)
    before = files(run)
    err = one_line_error(["train", "--resume", str(run), "--num-envs", "4"], capsys)
    assert "config mismatch" in err and "--num-envs 4" in err
    latest = run / "checkpoints" / "step_000000000512.safetensors"
    latest.write_bytes(latest.read_bytes()[:100])
    err = one_line_error(["train", "--resume", str(run)], capsys)
    assert "step_000000000512.safetensors" in err and "truncated, corrupted or replaced" in err
    (run / "config.json").write_text("{not json")
    assert "config.json" in one_line_error(["train", "--resume", str(run)], capsys)
    assert files(run) == before, "a refused resume must not write anything"
    assert "no run directory" in one_line_error(["train", "--resume", str(tmp_path / "none")],
                                                capsys)
    assert "already holds a run" in one_line_error(
        ["train", *TINY, "--run-dir", str(native_run)], capsys)
    assert "no checkpoint" in one_line_error(["eval", str(tmp_path / "missing.json")], capsys)


@pytest.mark.skipif(sys.platform != "linux", reason="torchrun with gloo, as CI runs it")
def test_two_processes_train_data_parallel_with_gloo(tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "kiln", "train", *TINY, "--nproc", "2",
                             "--total-timesteps", "1024", "--run-dir", str(run)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    # Each update takes 256 steps in each of the two processes.
    assert [s for s, _ in scalars(run)["charts/SPS"]] == [512, 1024]
    meta = json.loads((run / "checkpoints" / "step_000000001024.json").read_text())
    assert meta["update"] == 2
