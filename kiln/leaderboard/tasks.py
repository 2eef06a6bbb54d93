"""The leaderboard's tasks: named sets of kiln functions, each with its test inputs and the
reference interpreter's outputs on them.

- ``suite``: the public suite (``compilers/programs/suite``);
- ``small``, ``loops``, ``deep``: held-out generated sets of named difficulty, from generator
  presets at fixed seeds that no training stream uses (``HELD_OUT``);
- any directory of ``.py`` files, one function per file (``suite_dir``): a file that cannot be
  read, holds no single function or is not kiln gets an error of its own, and the others stay.

Test inputs are the evaluation protocol's (``kiln.compilers.evaluation.test_inputs``: edge
values, rows built from the program's own literals, random rows), keyed by the task and the
program, so every entry sees the same inputs. The expected output of a test is the reference
interpreter's (the definition of the language). A test counts when the interpreter finishes it
within ``INTERPRETER_FUEL`` and the unoptimised (-O0) code within the protocol's fuel; other
tests are left out of the task, never counted for or against an entry.
"""
from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..compilers.evaluation import FUEL
from ..compilers.programs.generator import GenConfig, generate_batch
from ..compilers.tokens import TokenizedSource

QUICK_PROGRAMS = 24  # programs per generated set with ``quick``
FULL_PROGRAMS = 256  # programs per generated set otherwise
INTERPRETER_FUEL = 100_000  # statements and loop iterations per test (interpreter units)
LITERAL_ROWS = 8     # test rows built from the program's literals (after the edge rows)


@dataclass(frozen=True)
class HeldOutSet:
    """A generated task: a generator preset at a fixed seed."""

    seed: int
    config: GenConfig
    description: str


# Seeds 7_100_001.. are reserved for these sets: training draws its programs from seed 0 (the
# envs' default pool) and from seeds below 1_000_000; tests/test_leaderboard.py checks that no
# held-out program appears in the default training pool.
HELD_OUT: dict[str, HeldOutSet] = {
    "small": HeldOutSet(7_100_001, GenConfig(min_stmts=2, max_stmts=6, max_depth=1,
                                             p_for=0.0, p_while=0.0, expr_depth=2,
                                             expr_nodes=4, max_tokens=192),
                        "2-6 statements, no loops, shallow expressions"),
    "loops": HeldOutSet(7_100_002, GenConfig(min_stmts=6, max_stmts=12, max_depth=2, p_for=0.2,
                                             p_while=0.1, max_trip=8, max_tokens=384),
                        "6-12 statements, loops likely (at most 8 trips each)"),
    "deep": HeldOutSet(7_100_003, GenConfig(min_stmts=12, max_stmts=24, max_depth=5, p_if=0.25,
                                            p_for=0.1, p_while=0.05, max_trip=4,
                                            expr_depth=4, expr_nodes=10, max_tokens=1024),
                       "12-24 statements nested up to 5 deep, larger expressions"),
}
TASK_NAMES = ("suite", *HELD_OUT)


@dataclass(frozen=True)
class TaskProgram:
    """One program of a task with its tests: ``inputs`` int32 ``[T, nparams]``, ``expected``
    int32 ``[T]`` and ``counted`` bool ``[T]`` (False where the interpreter ran out of fuel)."""

    name: str
    source: str
    nparams: int
    inputs: np.ndarray = field(repr=False)
    expected: np.ndarray = field(repr=False)
    counted: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Task:
    """A named set of programs; ``errors`` holds one line per input file that was left out."""

    name: str
    description: str
    programs: tuple[TaskProgram, ...]
    errors: tuple[str, ...] = ()

    def digest(self) -> str:
        """sha256 over the programs' names, sources and tests: results name the task by it."""
        h = hashlib.sha256()
        for p in self.programs:
            for part in (p.name, p.source, p.inputs, p.expected, p.counted):
                h.update(part.encode() if isinstance(part, str) else np.ascontiguousarray(part)
                         .tobytes())
                h.update(b"\0")
        return h.hexdigest()


def token_form(source: str) -> TokenizedSource | None:
    """The token form of a kiln function, or None for one that has none (it holds more
    distinct literals than the token form's table)."""
    from ..compilers.frontend import CompileError
    from ..compilers.tokens import tokenize

    try:
        return tokenize(source)
    except CompileError:
        return None


def make_inputs(source: str, nparams: int, seed: int) -> np.ndarray:
    """The protocol's test inputs for one program: int32 ``[NUM_TESTS, nparams]`` (without
    literal rows where the program has no token form)."""
    from ..compilers.evaluation import NUM_TESTS, test_inputs
    from ..compilers.hashing import split_key
    from ..compilers.tokens import NUM_LITS

    tokenized = token_form(source)
    lits = torch.zeros((1, NUM_LITS), dtype=torch.int32)
    nlits = 0
    if tokenized is not None:
        nlits = tokenized.nlits
        lits[0, :nlits] = torch.from_numpy(tokenized.lits)
    key_lo, key_hi = split_key(seed, 1)
    rows = test_inputs(key_lo, key_hi, torch.zeros(1, dtype=torch.int64), NUM_TESTS, lits=lits,
                       nlits=torch.tensor([nlits]), literal_rows=LITERAL_ROWS)
    return rows[0, :, :nparams].numpy()


def _counted_outputs(source: str, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The interpreter's outputs, and which tests count (see the module's docstring)."""
    import kiln

    try:
        expected = kiln.interpret(source, inputs, fuel=INTERPRETER_FUEL)
        counted = np.ones(len(inputs), dtype=bool)
    except kiln.OutOfFuel:
        expected = np.zeros(len(inputs), dtype=np.int32)
        counted = np.zeros(len(inputs), dtype=bool)
        for r, row in enumerate(inputs):
            try:
                expected[r] = kiln.interpret(source, row[None], fuel=INTERPRETER_FUEL)[0]
                counted[r] = True
            except kiln.OutOfFuel:
                pass
    _, status, _ = kiln.compile(source, 0).execute(inputs, fuel=FUEL)
    return expected, counted & (status == 0)


def make_program(name: str, source: str, seed: int) -> TaskProgram:
    """A program with its seeded tests and the interpreter's outputs on them."""
    import kiln

    nparams = kiln.compile(source, 0).nparams
    inputs = make_inputs(source, nparams, seed)
    expected, counted = _counted_outputs(source, inputs)
    return TaskProgram(name, source, nparams, inputs, expected, counted)


def _stable_seed(*parts: str | int) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


def public_suite() -> Task:
    """The public suite, every program with its tests."""
    from ..compilers.programs.suite import load_suite

    programs = tuple(make_program(p.name, p.source, _stable_seed("suite", p.name))
                     for p in load_suite())
    return Task("suite", f"the public suite ({len(programs)} hand-written functions)", programs)


def held_out(name: str, count: int) -> Task:
    """``count`` programs of the held-out generated set ``name`` (indices ``0..count-1``)."""
    spec = HELD_OUT[name]
    batch = generate_batch(count, spec.seed, spec.config)
    programs = tuple(
        make_program(f"{name}_{i:04d}", batch.source(i, name=f"{name}_{i:04d}"),
                     _stable_seed(name, spec.seed, i))
        for i in range(count))
    return Task(name, f"generated, held out: {spec.description} (seed {spec.seed}, "
                      f"{count} programs)", programs)


def _one_function(path: Path) -> str:
    """The source of the single kiln function in ``path``; ValueError saying why not."""
    import kiln

    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ValueError(f"cannot read it ({exc.strerror})") from None
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"line {exc.lineno}: Python syntax error: {exc.msg}") from None
    defs = [s for s in tree.body if isinstance(s, ast.FunctionDef)]
    if len(defs) != 1:
        raise ValueError(f"holds {len(defs)} function definitions; the leaderboard takes "
                         f"exactly one per file")
    try:
        kiln.compile(source, 0)
    except kiln.CompileError as exc:
        raise ValueError(str(exc)) from None
    return source


def suite_dir(path: str | Path) -> Task:
    """Every ``*.py`` file of the directory ``path`` as one program (named after its file).

    A file that is not one kiln function gets a line in ``Task.errors``, and so does one whose
    every test runs out of the interpreter's fuel; the other files make the task. ValueError if
    ``path`` is not a directory or holds no ``.py`` file.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"--suite {path}: not a directory")
    files = sorted(folder.glob("*.py"))
    if not files:
        raise ValueError(f"--suite {path}: no .py files in it (one kiln function per file)")
    programs, errors = [], []
    for file in files:
        try:
            source = _one_function(file)
        except ValueError as exc:
            errors.append(f"{file}: {exc}")
            continue
        program = make_program(file.stem, source, _stable_seed("dir", file.stem))
        if not program.counted.any():
            errors.append(f"{file}: runs out of fuel on every test input (the interpreter's "
                          f"{INTERPRETER_FUEL:,} statements or the VM's {FUEL:,} "
                          f"instructions)")
            continue
        programs.append(program)
    plural = "" if len(programs) == 1 else "s"
    return Task(folder.name or str(folder), f"the {len(programs)} function{plural} of {folder}",
                tuple(programs), tuple(errors))


def load_task(name: str, quick: bool = False) -> Task:
    """A built-in task by name (``TASK_NAMES``); quick: fewer generated programs."""
    if name == "suite":
        return public_suite()
    if name in HELD_OUT:
        return held_out(name, QUICK_PROGRAMS if quick else FULL_PROGRAMS)
    raise ValueError(f"unknown task {name!r}; choose from {', '.join(TASK_NAMES)} or give a "
                     f"directory with --suite")
