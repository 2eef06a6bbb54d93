"""The neural approach through the public API: the shipped checkpoint, kiln.compile, the CLI.

Whatever the model's quality, what it returns must be right: every program it returns is
checked here against the traditional compiler's on inputs of its own (not the tests the
neural compiler filtered with).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import kiln
from kiln.agents.checkpoint import CheckpointError, read_metadata
from kiln.cli import main
from kiln.compilers.neural import DEFAULT_CHECKPOINT, NoCandidatePassed, compile_sources
from kiln.compilers.programs.suite import load_suite

SUITE = load_suite()[:12]  # the whole suite takes minutes on a busy CPU; the rest on the GPU


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_shipped_checkpoint_is_in_the_package_and_small():
    meta = read_metadata(DEFAULT_CHECKPOINT)
    assert meta["model"]["d_model"] == 256
    weights = DEFAULT_CHECKPOINT.with_name(DEFAULT_CHECKPOINT.name + ".safetensors")
    assert weights.stat().st_size <= 10 * 2**20


def test_shipped_checkpoint_compiles_suite_programs_and_what_it_returns_is_right():
    programs = compile_sources([p.source for p in SUITE], device="cpu")
    rng = np.random.default_rng(0)
    returned = 0
    for suite_program, program in zip(SUITE, programs):
        if program is None:
            continue
        returned += 1
        reference = kiln.compile(suite_program.source)
        args = rng.integers(-50, 50, size=(40, reference.nparams))
        np.testing.assert_array_equal(program.run(args), reference.run(args),
                                      err_msg=suite_program.name)
        p = program.provenance
        assert (p.approach, p.outcome, p.samples) == ("neural", "tested", 1)
        assert p.passed == 1 and sum(n for _, n in p.tests) == 32 and len(p.checkpoint) == 16
        assert program.asm().splitlines()[0].endswith("neural")
    assert returned >= 1  # the shipped model compiles some of them (3 of these 12 when trained)


def test_kiln_compile_neural_and_its_errors(tmp_path):
    program = kiln.compile("def f(a, b):\n    return a - b\n", approach="neural", samples=2,
                           device="cpu")
    assert program.run([[5, 3], [0, -7]]).tolist() == [2, 7]
    assert program.provenance.samples == 2
    assert kiln.compile("def f(a):\n    return a\n").provenance.approach == "traditional"
    with pytest.raises(ValueError, match="approach must be one of"):
        kiln.compile("def f():\n    return 1\n", approach="magic")
    with pytest.raises(ValueError, match="samples must be a positive int"):
        kiln.compile("def f():\n    return 1\n", approach="neural", samples=0)
    with pytest.raises(CheckpointError, match="no such checkpoint metadata file"):
        kiln.compile("def f():\n    return 1\n", approach="neural", checkpoint=tmp_path / "x")
    with pytest.raises(kiln.CompileError):
        kiln.compile("def f(:\n", approach="neural")


def test_no_passing_candidate_is_an_error_not_wrong_code(monkeypatch):
    from kiln.compilers import neural

    original = neural.judge

    def nothing_passes(*args, **kwargs):
        verdict = original(*args, **kwargs)
        return verdict._replace(passed=verdict.passed & False, found=verdict.found & False)

    monkeypatch.setattr(neural, "judge", nothing_passes)
    with pytest.raises(NoCandidatePassed, match="none of the neural compiler's 1 candidate"):
        kiln.compile("def f(a):\n    return a\n", approach="neural", samples=1, device="cpu")


def test_cli_compile_neural(tmp_path, capsys):
    source = tmp_path / "f.py"
    source.write_text("def f(a, b):\n    return a + b\n")
    assert main(["compile", str(source), "--approach", "neural", "--samples", "2",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["provenance"]["approach"] == "neural" and out["provenance"]["samples"] == 2
    assert main(["compile", str(source), "--approach", "neural", "--checkpoint",
                 str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kiln: error:") and "no such checkpoint metadata file" in err
    assert len(err.strip().splitlines()) == 1
