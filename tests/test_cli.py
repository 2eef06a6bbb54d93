"""The kiln command line: outputs, and one-line errors for every user mistake."""
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

import kiln
from kiln.cli import main

ROOT = Path(__file__).resolve().parents[1]
GCD = ROOT / "examples" / "gcd.py"


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_compile_prints_assembly(capsys):
    status, out, err = run_cli(capsys, "compile", str(GCD), "-O2")
    assert status == 0 and err == ""
    assert out == kiln.compile(GCD.read_text(), 2).asm()


def test_compile_json(capsys):
    status, out, _ = run_cli(capsys, "compile", str(GCD), "--json")
    data = json.loads(out)
    prog = kiln.compile(GCD.read_text(), 1)
    assert data == {"function": "gcd", "params": ["a", "b"], "code": prog.code.tolist(),
                    "asm": prog.asm(), "static_cost": prog.static_cost,
                    "provenance": json.loads(json.dumps(dataclasses.asdict(prog.provenance)))}
    assert data["provenance"]["approach"] == "traditional"


def test_run_prints_result(capsys):
    status, out, _ = run_cli(capsys, "run", str(GCD), "12", "-18")
    assert status == 0 and out == "6\n"


@pytest.mark.parametrize("argv,message", [
    (["compile", "nope.py"], "no such file"),
    (["compile", str(GCD), "--bogus"], "unrecognized arguments"),
    (["compile", str(GCD), "-O7"], "optimisation level"),
    (["run", str(GCD), "1"], "takes 2 argument"),
    (["run", str(GCD), "1", "x"], "not an integer"),
    (["run", str(GCD), "1", "99999999999"], "outside int32"),
    (["run", str(GCD), "1", "2", "--fuel", "0"], "fuel"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
    (["compile", str(ROOT)], "directory"),
])
def test_errors_are_one_line(capsys, argv, message):
    status, out, err = run_cli(capsys, *argv)
    assert status != 0
    assert err.startswith("kiln: error:") and err.count("\n") == 1, err
    assert message in err


def test_bad_source_and_fuel(capsys, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(a):\n    return a / 2\n")
    status, _, err = run_cli(capsys, "compile", str(bad))
    assert status != 0 and "line 2, column 12" in err and err.count("\n") == 1
    binary = tmp_path / "bin.py"
    binary.write_bytes(b"\xff\xfe\x00")
    status, _, err = run_cli(capsys, "run", str(binary))
    assert status != 0 and "UTF-8" in err
    loop = tmp_path / "loop.py"
    loop.write_text("def f():\n    while True:\n        pass\n")
    status, _, err = run_cli(capsys, "run", str(loop), "--fuel", "100")
    assert status != 0 and "fuel" in err


def test_console_script_entry_point():
    proc = subprocess.run([sys.executable, "-m", "kiln", "run", str(GCD), "7", "21"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout == "7\n", proc.stderr
    proc = subprocess.run([sys.executable, "-m", "kiln", "compile"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr
