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


def test_arguments_wrap_to_int32_like_program_run(capsys, tmp_path):
    ident = tmp_path / "ident.py"
    ident.write_text("def f(a):\n    return a\n")
    for text, want in [("4294967297", 1), ("0x80000000", -2**31), ("-2147483649", 2**31 - 1)]:
        status, out, err = run_cli(capsys, "run", str(ident), text)
        assert status == 0, err
        assert int(out) == want == int(kiln.compile(ident.read_text()).run([[int(text, 0)]])[0])


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out == f"kiln {kiln.__version__}\n"


def test_bench_help_names_every_section():
    from kiln.cli import BENCH_SECTIONS
    from kiln.bench import SECTIONS

    assert BENCH_SECTIONS == tuple(SECTIONS)


@pytest.mark.parametrize("make", ["missing_dir", "directory", "read_only", "device"])
def test_bench_json_path_is_checked_before_the_work(capsys, tmp_path, monkeypatch, make):
    import kiln.bench as bench

    ran = []
    monkeypatch.setattr(bench, "run_bench", lambda cfg: ran.append(cfg))
    path = {"missing_dir": tmp_path / "no" / "b.json", "directory": tmp_path,
            "read_only": tmp_path / "ro.json", "device": "/dev/null"}[make]
    if make == "read_only":
        path.write_text("keep")
        path.chmod(0o444)
    status, _, err = run_cli(capsys, "bench", "--quick", "--json", str(path))
    assert status != 0 and not ran
    assert err.startswith("kiln: error: cannot write") and err.count("\n") == 1, err
    if make == "read_only":
        assert path.read_text() == "keep"


def test_bench_writes_no_file_unless_asked(capsys, tmp_path, monkeypatch):
    import kiln.bench as bench

    seen = []
    monkeypatch.setattr(bench, "run_bench", lambda cfg: seen.append(cfg))
    assert run_cli(capsys, "bench", "--quick")[0] == 0
    assert seen[0].json_path is None and bench.BenchConfig().json_path is None
    assert run_cli(capsys, "bench", "--quick", "--json", str(tmp_path / "b.json"))[0] == 0
    assert seen[1].json_path == str(tmp_path / "b.json")


def test_interrupt_inside_compiled_code_is_one_line(capsys, monkeypatch):
    import kiln.bench as bench

    def interrupted(cfg):  # what numba raises when Ctrl-C lands inside compiled code
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise SystemError("returned a result with an exception set") from exc

    monkeypatch.setattr(bench, "run_bench", interrupted)
    status, _, err = run_cli(capsys, "bench", "--quick")
    assert status == 130 and err == "kiln: interrupted\n"


def test_full_disk_is_one_line_error():
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "kiln", "compile", str(GCD)], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("kiln: error: cannot write output") \
        and proc.stderr.count("\n") == 1, proc.stderr


def test_first_use_says_that_kernels_compile(capsys, tmp_path, monkeypatch):
    from kiln import firstuse

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))  # an empty cache: cold
    assert not firstuse.kernels_cached()
    monkeypatch.setattr(firstuse, "kernels_cached", lambda: False)
    status, out, err = run_cli(capsys, "run", str(GCD), "12", "18")
    assert status == 0 and out == "6\n" and err == firstuse.NOTICE + "\n"
