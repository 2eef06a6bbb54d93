"""kiln: a GPU-native reinforcement-learning environment for self-improving compilers.

The public facade: ``compile`` a kiln source (a Python subset on int32) to a ``Program`` of the
structured stack ISA, ``interpret`` a source with the reference interpreter, and the errors that
bad input raises.

Where the code lives: the ``kiln`` namespace maps onto the repository's top-level folders
(pyproject's ``[tool.setuptools.package-dir]``): ``kiln.compilers`` is ``compilers/``,
``kiln.envs`` is ``envs/``, ``kiln.agents`` is ``agents/``, ``kiln.training`` is ``training/``;
only this facade, the CLI and the benchmarks (``kiln.bench``) live in ``kiln/``. So
``from .compilers import ...`` here reads ``compilers/``, which resolves once kiln is installed
(``pip install -e .`` in a checkout).
"""
from __future__ import annotations

import os
import sys


def _choose_threading_layer() -> None:
    """Run numba's parallel CPU loops on TBB if it is installed, else on numba's own work
    queue, never on OpenMP unless asked: GNU OpenMP's threads spin-wait, so a busy core stalls
    every step (tens of times slower), and a process that used it cannot safely fork (as
    gymnasium's async vector envs do). Set NUMBA_THREADING_LAYER (or
    NUMBA_THREADING_LAYER_PRIORITY) to choose otherwise. Must run before numba's first
    parallel launch, hence here."""
    if "NUMBA_THREADING_LAYER" in os.environ or "NUMBA_THREADING_LAYER_PRIORITY" in os.environ:
        return
    priority = "tbb workqueue omp"
    os.environ["NUMBA_THREADING_LAYER_PRIORITY"] = priority
    config = getattr(sys.modules.get("numba.core.config"), "THREADING_LAYER_PRIORITY", None)
    if config is not None:  # numba was imported first: its config is already read
        sys.modules["numba.core.config"].THREADING_LAYER_PRIORITY = priority.split()


_choose_threading_layer()

try:
    from .compilers.frontend import CompileError  # noqa: E402  (after the threading layer)
except ModuleNotFoundError as error:  # a checkout on sys.path without the install's mapping
    if error.name != f"{__name__}.compilers":
        raise
    raise ImportError("kiln.compilers is not importable: kiln maps its top-level folders into "
                      "the kiln namespace at install time; run `pip install -e .` in the "
                      "checkout first") from error
from .compilers.interpreter import OutOfFuel, interpret  # noqa: E402
from .compilers.program import Program  # noqa: E402
from .compilers.validate import ValidationError  # noqa: E402

__all__ = ["CompileError", "OutOfFuel", "Program", "ValidationError", "compile", "interpret"]
__version__ = "0.1.0"


def compile(source: str, opt: int = 1) -> Program:  # noqa: A001 - the name users expect
    """Compile kiln source text at optimisation level ``opt`` (0, 1 or 2).

    Raises CompileError (with ``lineno``, ``col``) for any source outside the language and
    ValueError for a bad ``opt``.
    """
    from .compilers.traditional.pipeline import compile_source

    fn, code = compile_source(source, opt)
    return Program(fn.name, fn.params, code, int(opt), source)
