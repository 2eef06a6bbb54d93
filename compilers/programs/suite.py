"""The public suite: hand-written kiln functions of the kind people write.

Each program is one file ``suite/NAME.py`` holding a single ``def NAME(...)``; the files ship as
package data and are read with ``importlib.resources``, so the suite works from an installed
wheel as well as from a checkout. Every loop in the suite terminates quickly for all int32 inputs
(bounds are clamped), so any program can run on arbitrary inputs within a small fuel budget.
"""
from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from importlib import resources

__all__ = ["SuiteProgram", "get_program", "load_suite"]

_PACKAGE = "kiln.compilers.programs"
_FOLDER = "suite"


@dataclass(frozen=True)
class SuiteProgram:
    """One suite function: its name (the file's stem and the def's name) and source text."""

    name: str
    source: str
    nparams: int


def _program(name: str, source: str) -> SuiteProgram:
    # Counted from the Python ast rather than the kiln front end so that loading the suite
    # cannot fail on a front-end change; tests check that every program compiles.
    fn = next(s for s in ast.parse(source).body if isinstance(s, ast.FunctionDef))
    if fn.name != name:
        raise ValueError(f"suite file {name}.py defines {fn.name!r}; expected def {name}(...)")
    return SuiteProgram(name, source, len(fn.args.args))


@functools.cache
def _suite() -> tuple[SuiteProgram, ...]:
    folder = resources.files(_PACKAGE).joinpath(_FOLDER)
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".py")),
                   key=lambda f: f.name)
    return tuple(_program(f.name[:-3], f.read_text(encoding="utf-8")) for f in files)


def load_suite() -> list[SuiteProgram]:
    """All suite programs, sorted by name."""
    return list(_suite())


def get_program(name: str) -> SuiteProgram:
    """The suite program called ``name``; KeyError (listing the names) if there is none."""
    for program in _suite():
        if program.name == name:
            return program
    names = ", ".join(p.name for p in _suite())
    raise KeyError(f"no suite program {name!r}; the suite has: {names}")
