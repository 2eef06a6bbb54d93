"""``kiln verify`` and ``kiln compile --approach hybrid``: outputs, exit statuses, one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

import kiln
from kiln.agents.checkpoint import read_metadata
from kiln.cli import EXIT_COUNTEREXAMPLE, EXIT_USAGE, main

LE = "def f(x, y):\n    return x <= y\n"
LE_WRONG = "def f(x, y):\n    return x - 1 < y\n"
GE = "def f(x, y):\n    return y >= x\n"
LOOP = "def f(x):\n    s = 0\n    while s < x:\n        s += 1\n    return s\n"


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def files(tmp_path):
    for name, text in {"le.py": LE, "wrong.py": LE_WRONG, "ge.py": GE, "loop.py": LOOP}.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_verify_equivalent_and_counterexample(capsys, files):
    assert run_cli(capsys, "verify", files / "le.py", files / "ge.py") == (0, "equivalent\n", "")
    status, out, err = run_cli(capsys, "verify", files / "le.py", files / "wrong.py")
    assert status == EXIT_COUNTEREXAMPLE and err == ""
    assert out.startswith("counterexample: (x=-2147483648, y=")
    y = int(out.split("y=")[1].split(")")[0])  # the counterexample reproduces on the VM
    assert kiln.compile(LE).run([[-2**31, y]])[0] != kiln.compile(LE_WRONG).run([[-2**31, y]])[0]


def test_verify_bounded_loops(capsys, files):
    status, out, _ = run_cli(capsys, "verify", files / "loop.py", files / "loop.py", "--unroll", 4)
    assert (status, out) == (0, "equivalent up to 4 iterations of every loop\n")


def test_verify_reads_assembly_and_json(capsys, files):
    (files / "le.asm").write_text(kiln.compile(LE, 2).asm())
    prog = kiln.compile(GE, 1)
    (files / "ge.json").write_text(json.dumps({"params": list(prog.params),
                                               "code": prog.code.tolist()}))
    assert run_cli(capsys, "verify", files / "le.asm", files / "ge.json")[:2] == (0, "equivalent\n")


def test_verify_folders_pairs_by_name(capsys, files, tmp_path_factory):
    left, right = tmp_path_factory.mktemp("left"), tmp_path_factory.mktemp("right")
    for name, (a, b) in {"same": (LE, GE), "differs": (LE, LE_WRONG)}.items():
        (left / f"{name}.py").write_text(a)
        (right / f"{name}.py").write_text(b)
    status, out, _ = run_cli(capsys, "verify", left, right)
    assert status == EXIT_COUNTEREXAMPLE
    lines = out.splitlines()
    assert lines[0].startswith("differs: counterexample") and lines[1] == "same: equivalent"
    assert lines[2] == "1 counterexample, 1 equivalent"


@pytest.mark.parametrize("argv, message", [
    (["missing.py", "le.py"], "no such file: "),
    (["le.py", "bad.py"], "bad.py: line 2"),
    (["le.py", "one.py"], "takes 2 parameter(s)"),
    (["junk.asm", "le.py"], "junk.asm: assembly line 1"),
    (["bare.asm", "bare.asm"], "says how many parameters"),
    (["invalid.asm", "le.py"], "invalid bytecode at pc 0"),
    (["le.py", "le.py", "--unroll", "0"], "must be at least 1"),
])
def test_verify_errors_are_one_line(capsys, files, argv, message):
    (files / "bad.py").write_text("def f(x):\n    return x @ 2\n")
    (files / "one.py").write_text("def f(x):\n    return x\n")
    (files / "junk.asm").write_text("frobnicate 3\n")
    (files / "bare.asm").write_text("get 0\nreturn\n")
    (files / "invalid.asm").write_text("add\nreturn\n")
    args = [files / a if a.endswith((".py", ".asm")) else a for a in argv]
    status, out, err = run_cli(capsys, "verify", *args)
    assert status == EXIT_USAGE and out == ""
    assert err.startswith("kiln: error: ") and message in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    import torch

    from kiln.agents.checkpoint import save_checkpoint
    from kiln.agents.config import ModelConfig
    from kiln.agents.model import Seq2Seq

    torch.manual_seed(0)
    config = ModelConfig(**{**ModelConfig.preset("tiny").to_dict(), "max_target_len": 24})
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", Seq2Seq(config))


def test_untrained_model_hybrid_falls_back_to_o2_everywhere(tiny_checkpoint):
    from kiln.compilers.programs.generator import generate_sources

    for source in generate_sources(6, seed=3):
        program = kiln.compile(source, approach="hybrid", samples=4,
                               checkpoint=str(tiny_checkpoint))
        assert program.provenance.approach == "hybrid"
        assert program.provenance.outcome == "fell_back"
        assert np.array_equal(program.code, kiln.compile(source, 2).code)


def test_compile_hybrid_cli(capsys, files, tiny_checkpoint):
    status, out, err = run_cli(capsys, "compile", files / "le.py", "--approach", "hybrid",
                               "--samples", 2, "--checkpoint", tiny_checkpoint)
    assert status == 0 and err == ""
    assert out.startswith("; hybrid: fell_back (no candidate passed the tests); 2 samples")
    assert out.split("\n", 1)[1] == kiln.compile(LE, 2).asm()
    weights = read_metadata(tiny_checkpoint)["weights_sha256"][:16]
    assert out.split("\n", 1)[0].endswith(f"; checkpoint {weights}")
    status, out, _ = run_cli(capsys, "compile", files / "le.py", "--approach", "hybrid",
                             "--samples", 2, "--checkpoint", tiny_checkpoint, "--json")
    provenance = json.loads(out)["provenance"]
    assert (provenance["outcome"], provenance["checkpoint"]) == ("fell_back", weights)
    status, _, err = run_cli(capsys, "compile", files / "le.py", "--approach", "hybrid",
                             "--checkpoint", files / "nothing")
    assert status == EXIT_USAGE and err.startswith("kiln: error: ") and "nothing" in err


def test_compile_rejects_an_unknown_approach():
    with pytest.raises(ValueError, match="approach"):
        kiln.compile(LE, approach="magic")
