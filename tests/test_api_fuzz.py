"""Fuzz the public API's argument types: whatever a caller passes, only kiln's documented
exception types escape (CompileError, ValidationError, OutOfFuel, ValueError and its
subclasses, TypeError), never an AttributeError, OverflowError, ZeroDivisionError, a torch
RuntimeError, a hang or a crash. The CLI never raises at all: it returns a status.

Reproduce a failure with ``KILN_API_FUZZ_SEED=<seed> pytest tests/test_api_fuzz.py``.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import kiln
from kiln.cli import main
from kiln.compilers import vm
from kiln.compilers.asm import assemble, disassemble
from kiln.compilers.batch import compile_batch
from kiln.compilers.programs.generator import GenConfig, generate_batch
from kiln.compilers.tokens import TokenBatch, tokenize
from kiln.compilers.validate import validate
from kiln.envs.compile_env import CompileEnv, EnvParams
from kiln.envs.vector_env import CompileVectorEnv

ALLOWED = (kiln.CompileError, kiln.ValidationError, kiln.OutOfFuel, ValueError, TypeError)
SEEDS = [int(os.environ["KILN_API_FUZZ_SEED"])] if "KILN_API_FUZZ_SEED" in os.environ \
    else list(range(4))
GCD = "def gcd(a, b):\n    while b != 0:\n        a, b = b, a % b\n    return a\n"


def odd_values(rng: np.random.Generator) -> list:
    """Values of every type a caller might pass by mistake."""
    return [None, True, 0, -1, 2**31, 2**40, -2**63, 2**64, 1.5, float("nan"), float("inf"),
            "", "x", "12", "def f(:", GCD, b"\xff", [], [1, 2], [[1, 2]], [[2**40, 1]],
            {"a": 1}, (1,), object(),
            np.zeros((2, 3), np.float32), np.zeros((1, 3, 2), np.int64) + 2**33,
            rng.integers(-2**31, 2**31, (2, 4, 2)).astype(np.int32),
            torch.zeros(3, dtype=torch.complex64), torch.full((2, 2), 2**40),
            torch.zeros((1, 2, 2), dtype=torch.bool)]


def expect_documented(call, where: str) -> None:
    try:
        call()
    except ALLOWED:
        pass
    except Exception as exc:  # noqa: BLE001 - the point is to catch the undocumented ones
        pytest.fail(f"{where}: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("seed", SEEDS)
def test_library_calls_raise_only_documented_errors(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = odd_values(rng)
    prog = kiln.compile(GCD)
    code = prog.code[None]
    calls = {
        "kiln.compile(v)": lambda v: kiln.compile(v),
        "kiln.compile(GCD, v)": lambda v: kiln.compile(GCD, v),
        "kiln.interpret(GCD, v)": lambda v: kiln.interpret(GCD, v),
        "Program.run(v)": lambda v: prog.run(v),
        "Program.run(args, fuel=v)": lambda v: prog.run([[1, 2]], fuel=v),
        "vm.execute(v, ...)": lambda v: vm.execute(v, np.zeros((1, 2), np.int32), 2),
        "vm.execute(code, v, 2)": lambda v: vm.execute(code, v, 2),
        "vm.execute(nparams=v)": lambda v: vm.execute(code, np.zeros((1, 2), np.int32), v),
        "vm.execute(lengths=v)": lambda v: vm.execute(code, np.zeros((1, 2), np.int32), 2, v),
        "vm.execute(fuel=v)": lambda v: vm.execute(code, np.zeros((1, 2), np.int32), 2, fuel=v),
        "vm.execute(linked=v)": lambda v: vm.execute(code, np.zeros((1, 2), np.int32), 2,
                                                     linked=v),
        "vm.link(v)": lambda v: vm.link(v),
        "vm.link(code, v)": lambda v: vm.link(code, v),
        "validate(v)": lambda v: validate(v),
        "assemble(v)": lambda v: assemble(v),
        "disassemble(v)": lambda v: disassemble(v),
        "tokenize(v)": lambda v: tokenize(v),
        "generate_batch(v, 0)": lambda v: generate_batch(v, 0),
        "generate_batch(2, v)": lambda v: generate_batch(2, v),
        "generate_batch(2, 0, v)": lambda v: generate_batch(2, 0, v),
        "generate_batch(2, 0, device=v)": lambda v: generate_batch(2, 0, device=v),
        "GenConfig(max_trip=v)": lambda v: GenConfig(max_trip=v),
        "compile_batch(v)": lambda v: compile_batch(TokenBatch(*(
            v if i == 0 else t for i, t in enumerate(batch_fields(rng))))),
        "compile_batch(batch, v)": lambda v: compile_batch(batch_of(rng), v),
        "EnvParams(fuel=v)": lambda v: EnvParams(fuel=v),
        "EnvParams(speed_weight=v)": lambda v: EnvParams(speed_weight=v),
        "CompileEnv(v)": lambda v: CompileEnv(v),
        "CompileEnv(suite=v)": lambda v: CompileEnv(source="suite", suite=v).reset(seed=0),
        "CompileEnv.step(v)": lambda v: suite_env().step(v),
        "CompileEnv.reset(options=v)": lambda v: CompileEnv(source="suite").reset(seed=0,
                                                                                  options=v),
        "CompileVectorEnv(v)": lambda v: CompileVectorEnv(v, source="suite"),
        "CompileVectorEnv(device=v)": lambda v: CompileVectorEnv(1, source="suite", device=v),
        "CompileVectorEnv(max_episode_steps=v)":
            lambda v: CompileVectorEnv(1, source="suite", max_episode_steps=v),
    }
    picks = rng.permutation(len(values))[:12]
    for name, call in calls.items():
        for i in picks:
            v = values[i]
            expect_documented(lambda: call(v), f"seed {seed}: {name} with v = {v!r:.60}")


def batch_fields(rng: np.random.Generator) -> list[torch.Tensor]:
    batch = batch_of(rng)
    return [batch.tokens, batch.lengths, batch.lits, batch.nlits, batch.nparams, batch.nnames]


def batch_of(rng: np.random.Generator) -> TokenBatch:
    return TokenBatch.from_sources([GCD])


def suite_env() -> CompileEnv:
    env = CompileEnv(source="suite")
    env.reset(seed=0)
    return env


@pytest.mark.parametrize("seed", SEEDS)
def test_cli_never_raises(seed: int, tmp_path, capsys) -> None:
    rng = np.random.default_rng(seed)
    source = tmp_path / "f.py"
    source.write_text(GCD)
    words = ["compile", "run", "bench", "-O0", "-O2", "-O9", "--json", "--fuel", "0", "-1",
             "99999999999999999999", "x", str(source), str(tmp_path), "/dev/null",
             str(tmp_path / "missing" / "out.json"), "--sections", "nope", "--repeats", "0",
             "--device", "tpu", "--cycles", "12", "18", "é", ""]
    for _ in range(40):
        argv = [str(w) for w in rng.choice(words, int(rng.integers(0, 6)))]
        if argv[:1] == ["bench"] and "--sections" not in argv:
            argv += ["--sections", "nope"]  # a real bench run is the bench test's job
        try:
            status = main(argv)
        except SystemExit as exc:  # --help and --version exit, as argparse does
            status = exc.code
        except BaseException as exc:  # noqa: BLE001
            pytest.fail(f"seed {seed}: kiln {' '.join(argv)} raised {type(exc).__name__}: {exc}")
        err = capsys.readouterr().err
        assert isinstance(status, int), argv
        assert "Traceback" not in err, (argv, err)
