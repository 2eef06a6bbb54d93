"""``kiln leaderboard``: tasks, scoring, re-validated submissions and the outputs.

A submission that lies (a tampered results file, an artifact whose code gives wrong outputs, a
truncated checkpoint) is refused with the reason and the rest of the run goes on; so does a
suite directory with bad files.
"""
import json
import math

import numpy as np
import pytest

import kiln
from kiln.cli import main
from kiln.compilers.isa import OP
from kiln.compilers.programs.suite import get_program
from kiln.leaderboard import (HELD_OUT, LeaderboardConfig, Refused, Task, TraditionalEntry,
                              load_submission, run_leaderboard, score_code, summarise,
                              write_submission)
from kiln.leaderboard.entries import Compiled
from kiln.leaderboard.score import ProgramScore
from kiln.leaderboard.tasks import held_out, make_program, suite_dir

NAMES = ("gcd", "popcount", "fizzbuzz", "collatz_steps", "is_prime")


@pytest.fixture(scope="module")
def task():
    programs = tuple(make_program(n, get_program(n).source, i)
                     for i, n in enumerate(NAMES))
    return Task("mini", "five suite functions", programs)


@pytest.fixture(scope="module")
def o2_costs(task):
    compiled = TraditionalEntry(2).compile(task, "cpu")
    return [s.cost for s in score_code(task, compiled.codes, compiled.errors)]


def test_expected_outputs_are_the_interpreters(task):
    for p in task.programs:
        assert p.counted.all()
        assert np.array_equal(p.expected, kiln.interpret(p.source, p.inputs))


@pytest.mark.parametrize("opt", [0, 1, 2])
def test_traditional_entries_pass_everything(task, opt):
    compiled = TraditionalEntry(opt).compile(task, "cpu")
    for code, p in zip(compiled.codes, task.programs):
        assert np.array_equal(code, kiln.compile(p.source, opt).code), p.name
    scores = score_code(task, compiled.codes, compiled.errors)
    assert all(s.passed for s in scores), [s.failure for s in scores]
    for s, p in zip(scores, task.programs):
        assert s.cost == pytest.approx(kiln.compile(p.source, opt).cost(p.inputs))


def test_wrong_missing_and_invalid_code_fail_with_the_reason(task):
    codes = [kiln.compile(p.source, 1).code for p in task.programs]
    codes[0] = np.array([[OP["const"], 7], [OP["return"], 0]], np.int32)  # gcd -> 7
    codes[1] = None
    codes[2] = np.array([[OP["add"], 0]], np.int32)  # stack underflow
    errors = [None, "sampler gave up", None, None, None]
    scores = score_code(task, codes, errors)
    assert [s.passed for s in scores] == [False, False, False, True, True]
    assert "gcd(" in scores[0].failure and "gave 7, expected" in scores[0].failure
    assert scores[1].failure == "sampler gave up"
    assert "invalid bytecode at pc 0" in scores[2].failure


def test_summary_figures(task, o2_costs):
    scores = [ProgramScore("a", True, 2 * o2_costs[0]), ProgramScore("b", True, o2_costs[1] / 2),
              ProgramScore("c", False, None, "wrong"), ProgramScore("d", True, o2_costs[3]),
              ProgramScore("e", True, o2_costs[4])]
    s = summarise(scores, o2_costs)
    assert s.pass_rate == 0.8 and s.proved_rate is None
    assert s.geomean_cost_ratio == pytest.approx(1.0)  # x2, x1/2, x1, x1
    assert s.cheaper_than_o2 == pytest.approx(0.2)
    assert math.isclose(summarise(scores[:1], o2_costs[:1]).geomean_cost_ratio, 2.0)


def test_suite_dir_keeps_good_files_and_reports_each_bad_one(tmp_path):
    (tmp_path / "gcd.py").write_text(get_program("gcd").source)
    (tmp_path / "twice.py").write_text("def twice(x):\n    return x + x\n")
    (tmp_path / "syntax.py").write_text("def f(x):\n    return x +\n")
    (tmp_path / "two.py").write_text("def f(x):\n    return x\ndef g(x):\n    return x\n")
    (tmp_path / "lists.py").write_text("def f(x):\n    return [x]\n")
    (tmp_path / "binary.py").write_bytes(b"\xff\xfe def")
    (tmp_path / "forever.py").write_text("def f(x):\n    while True:\n        x += 1\n"
                                         "    return x\n")
    task = suite_dir(tmp_path)
    assert [p.name for p in task.programs] == ["gcd", "twice"]
    reasons = {e.split(": ", 1)[0].rsplit("/", 1)[1]: e for e in task.errors}
    assert set(reasons) == {"syntax.py", "two.py", "lists.py", "binary.py", "forever.py"}
    assert "line 2" in reasons["syntax.py"]
    assert "2 function definitions" in reasons["two.py"]
    assert "not UTF-8" in reasons["binary.py"]
    assert "out of fuel" in reasons["forever.py"]
    with pytest.raises(ValueError, match="not a directory"):
        suite_dir(tmp_path / "gcd.py")


def test_cli_ranks_a_directory_and_lists_the_bad_files(tmp_path, capsys):
    progs = tmp_path / "progs"
    progs.mkdir()
    (progs / "gcd.py").write_text(get_program("gcd").source)
    (progs / "bad.py").write_text("def f(x):\n    return x +\n")
    out = tmp_path / "out"
    assert main(["leaderboard", "--suite", str(progs), "--out", str(out), "--device",
                 "cpu"]) == 0
    report = json.loads((out / "leaderboard.json").read_text())
    assert [r["entry"] for r in report["rows"]] == ["-O0", "-O1", "-O2"]
    assert all(r["pass_rate"] == 1.0 for r in report["rows"])
    text = (out / "leaderboard.md").read_text()
    assert "bad.py: line 2" in text and "| 1 | -O2 |" in text
    assert (out / "chart_progs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((out / "leaderboard.csv").read_text().splitlines()) == 4
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))


@pytest.fixture()
def submissions(task, tmp_path, o2_costs):
    """Three honest submissions of the -O1 code, to damage one way each."""
    folders = []
    compiled = TraditionalEntry(1).compile(task, "cpu")
    scores = score_code(task, compiled.codes, compiled.errors)
    for name in ("honest", "tampered", "truncated"):
        folder = tmp_path / name
        write_submission(folder, name, task, compiled, scores, summarise(scores, o2_costs))
        folders.append(folder)
    return folders


def test_an_honest_submission_is_listed_with_its_rerun(task, submissions):
    entry, got_task = load_submission(submissions[0], {"mini": task})
    assert got_task is task and entry.name == "honest"
    compiled = entry.compile(task, "cpu")
    for code, p in zip(compiled.codes, task.programs):
        assert np.array_equal(code, kiln.compile(p.source, 1).code)


def _run(task, folders, tmp_path, monkeypatch):
    import kiln.leaderboard.run as run

    monkeypatch.setattr(run, "load_task", lambda name, quick: task)
    return run_leaderboard(LeaderboardConfig(tasks=("mini",), entries="O2",
                                             submissions=tuple(map(str, folders)),
                                             device="cpu", out=str(tmp_path / "lb")),
                           echo=lambda line: None)


def test_tampered_results_and_truncated_artifact_are_refused(task, submissions, tmp_path,
                                                             monkeypatch):
    honest, tampered, truncated = submissions
    results = json.loads((tampered / "results.json").read_text())
    results["summary"]["pass_rate"] = 1.0
    results["programs"][2]["cost"] /= 2  # claims fizzbuzz runs twice as fast
    (tampered / "results.json").write_text(json.dumps(results))
    data = (truncated / "code.safetensors").read_bytes()
    (truncated / "code.safetensors").write_bytes(data[:len(data) - 40])
    report = _run(task, submissions, tmp_path, monkeypatch)
    assert sorted(r["entry"] for r in report["rows"]) == ["-O2", "honest"]
    reasons = {r["submission"].rsplit("/", 1)[1]: r["reason"] for r in report["refused"]}
    assert set(reasons) == {"tampered", "truncated"}
    assert "claims fizzbuzz costs" in reasons["tampered"]
    assert "truncated" in reasons["truncated"] and "safetensors" in reasons["truncated"]
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "## Refused submissions" in md and "claims fizzbuzz costs" in md


def test_an_artifact_with_wrong_outputs_is_refused(task, tmp_path, o2_costs, monkeypatch):
    honest = TraditionalEntry(1).compile(task, "cpu")
    claims = score_code(task, honest.codes, honest.errors)
    codes = list(honest.codes)
    codes[3] = kiln.compile("def f(n):\n    return n\n", 1).code  # collatz_steps -> identity
    liar = tmp_path / "liar"
    write_submission(liar, "liar", task, Compiled(tuple(codes), honest.errors), claims,
                     summarise(claims, o2_costs))
    report = _run(task, [liar], tmp_path, monkeypatch)
    assert [r["entry"] for r in report["rows"]] == ["-O2"]
    (refusal,) = report["refused"]
    assert "claims collatz_steps passes; the rerun fails: test" in refusal["reason"]


@pytest.mark.parametrize("damage, reason", [
    (lambda f: (f / "results.json").write_text("{not json"), "not valid JSON"),
    (lambda f: (f / "results.json").unlink(), "does not exist"),
    (lambda f: (f / "code.json").write_text('{"programs": []}'), "changed or replaced"),
])
def test_malformed_submissions_are_refused(task, submissions, damage, reason):
    damage(submissions[0])
    with pytest.raises(Refused, match=reason):
        load_submission(submissions[0], {"mini": task})


def test_a_submission_for_another_task_version_is_refused(task, submissions):
    other = Task("mini", "changed", task.programs[:-1])
    with pytest.raises(Refused, match="another version of task 'mini'"):
        load_submission(submissions[0], {"mini": other})


def test_held_out_sets_are_not_in_the_training_pool():
    from kiln.envs.programs import GeneratorSource

    pool = GeneratorSource().tokens(__import__("torch").device("cpu"))
    training = {pool.source(i) for i in range(len(pool))}
    for name, spec in HELD_OUT.items():
        assert spec.seed >= 7_000_000
        held = held_out(name, 24)
        sources = {p.source.replace(f"def {p.name}(", "def f(") for p in held.programs}
        assert not sources & training, name


def test_quick_leaderboard_runs_every_task(tmp_path, capsys):
    out = tmp_path / "lb"
    assert main(["leaderboard", "--quick", "--device", "cpu", "--out", str(out)]) == 0
    report = json.loads((out / "leaderboard.json").read_text())
    assert [t["name"] for t in report["tasks"]] == ["suite", "small", "loops", "deep"]
    assert len(report["rows"]) == 12
    assert all(r["pass_rate"] == 1.0 for r in report["rows"]), \
        [(r["task"], r["entry"], r["failures"][:1]) for r in report["rows"]]
    for t in report["tasks"]:
        assert (out / f"chart_{t['name']}.png").exists()


def test_a_compiler_outside_kiln_enters_through_make_submission(task, tmp_path, monkeypatch):
    from kiln.leaderboard import make_submission

    # An "outside compiler": -O1 code, except that it gives up on popcount.
    codes = [kiln.compile(p.source, 1).code for p in task.programs]
    codes[1] = None
    make_submission(tmp_path / "mine", "mine", task, codes)
    report = _run(task, [tmp_path / "mine"], tmp_path, monkeypatch)
    assert report["refused"] == []
    (row,) = [r for r in report["rows"] if r["entry"] == "mine"]
    assert row["approach"] == "submission" and row["pass_rate"] == 0.8
    assert row["failures"] == [{"program": "popcount",
                                "reason": "the submission has no code for it"}]


@pytest.mark.parametrize("argv, message", [
    (["--tasks", "nope"], "unknown task 'nope'"),
    (["--tasks", ""], "nothing to rank"),
    (["--entries", "O3", "--tasks", "suite"], "unknown entry 'O3'"),
    (["--suite", "/no/such/dir"], "not a directory"),
    (["--tasks", "suite", "--out", "FILE"], "cannot make the output directory"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, argv, message):
    file = tmp_path / "file"
    file.write_text("x")
    argv = [str(file) if a == "FILE" else a for a in argv]
    assert main(["leaderboard", "--device", "cpu", *argv]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("kiln: error: ") and message in err and len(err.splitlines()) == 1


def test_a_function_without_a_token_form_is_ranked_too(tmp_path):
    """More distinct literals than the token form holds: valid kiln, no batched compiling."""
    source = "def many(a):\n" + "".join(f"    a = a ^ {1000 + i}\n" for i in range(70)) + \
        "    return a\n"
    (tmp_path / "many.py").write_text(source)
    task = suite_dir(tmp_path)
    assert task.errors == () and [p.name for p in task.programs] == ["many"]
    for opt in (0, 1, 2):
        compiled = TraditionalEntry(opt).compile(task, "cpu")
        assert np.array_equal(compiled.codes[0], kiln.compile(source, opt).code)
        assert score_code(task, compiled.codes, compiled.errors)[0].passed


def test_prove_marks_what_the_solver_proves(task):
    from kiln.leaderboard.score import prove

    o0 = TraditionalEntry(0).compile(task, "cpu")
    o2 = TraditionalEntry(2).compile(task, "cpu")
    small = Task("two", "", task.programs[:1] + task.programs[1:2])  # gcd, popcount
    scores = prove(small, o0.codes[:2], score_code(small, o0.codes[:2], o0.errors[:2]),
                   o2.codes[:2])
    assert all(s.proved or s.proof for s in scores)  # a verdict for every program not proved
    wrong = [o2.codes[1], o0.codes[1]]  # popcount's code for gcd: fails, so never proved
    failed = prove(small, wrong, score_code(small, wrong, o0.errors[:2]), o2.codes[:2])
    assert not failed[0].passed and failed[0].proved is False
    same = prove(small, o2.codes[:2], score_code(small, o2.codes[:2], o2.errors[:2]),
                 o2.codes[:2])
    assert [s.proved for s in same] == [True, True]


def test_prove_flag_fills_the_proved_rate(tmp_path, capsys):
    progs = tmp_path / "progs"
    progs.mkdir()
    for name in ("abs_diff", "clamp"):  # no loops: the solver proves them outright
        (progs / f"{name}.py").write_text(get_program(name).source)
    out = tmp_path / "out"
    assert main(["leaderboard", "--suite", str(progs), "--entries", "O0,O2", "--prove",
                 "--device", "cpu", "--out", str(out)]) == 0
    rows = json.loads((out / "leaderboard.json").read_text())["rows"]
    assert [r["proved_rate"] for r in rows] == [1.0, 1.0]
    assert "| 100.0% | 100.0% |" in (out / "leaderboard.md").read_text()
