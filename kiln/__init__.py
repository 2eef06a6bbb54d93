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


APPROACHES = ("traditional", "neural", "hybrid")


def compile(source: str, opt: int = 1, *, approach: str = "traditional",  # noqa: A001
            samples: int = 16, checkpoint: str | None = None, device: str | None = None
            ) -> Program:
    """Compile kiln source text to a ``Program``.

    ``approach="traditional"`` (the default) runs the compiler at optimisation level ``opt``
    (0, 1 or 2): correct by construction. ``approach="neural"`` samples ``samples`` candidates
    (the first greedy) from the transformer of ``checkpoint`` (default: the shipped model) on
    ``device`` (default: CUDA when present), keeps those that agree with the traditional
    compiler's code on the tests, and returns the cheapest (``opt`` is ignored); if none
    passes it raises ``kiln.compilers.neural.NoCandidatePassed`` (a ValueError).
    ``approach="hybrid"`` samples the same way, keeps the cheapest candidate that passes the
    tests and that SMT proves equal to the traditional ``-O2`` code, and otherwise returns the
    ``-O2`` code. The result's ``provenance`` says which approach produced it and on what
    evidence.

    Raises CompileError (with ``lineno``, ``col``) for any source outside the language and
    ValueError for a bad ``opt``, ``approach`` or ``samples``.
    """
    if approach not in APPROACHES:
        raise ValueError(f"approach must be one of {APPROACHES}, got {approach!r}")
    if approach != "traditional" and (isinstance(samples, bool) or not isinstance(samples, int)
                                      or samples < 1):
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    if approach == "neural":
        from .compilers.neural import compile_source as compile_neural

        return compile_neural(source, samples, checkpoint=checkpoint, device=device)
    if approach == "hybrid":
        from .compilers.hybrid import HybridConfig, compile_hybrid, neural_candidates
        from .compilers.neural import default_device

        device = default_device() if device is None else device
        return compile_hybrid([source], neural_candidates(checkpoint, device),
                              HybridConfig(samples=samples), device)[0]
    from .compilers.traditional.pipeline import compile_source

    fn, code = compile_source(source, opt)
    return Program(fn.name, fn.params, code, int(opt), source)
