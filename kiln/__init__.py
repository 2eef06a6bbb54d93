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

try:
    from .compilers.frontend import CompileError
except ModuleNotFoundError as error:  # a checkout on sys.path without the install's mapping
    if error.name != f"{__name__}.compilers":
        raise
    raise ImportError("kiln.compilers is not importable: kiln maps its top-level folders into "
                      "the kiln namespace at install time; run `pip install -e .` in the "
                      "checkout first") from error
from .compilers.interpreter import OutOfFuel, interpret
from .compilers.program import Program
from .compilers.validate import ValidationError

__all__ = ["CompileError", "OutOfFuel", "Program", "ValidationError", "compile", "interpret"]
__version__ = "0.1.0"


APPROACHES = ("traditional", "hybrid")


def compile(source: str, opt: int = 1, *, approach: str = "traditional",  # noqa: A001
            samples: int = 16, checkpoint: str | None = None, device: str = "cpu") -> Program:
    """Compile kiln source text.

    ``approach="traditional"`` (default) runs the traditional compiler at optimisation level
    ``opt`` (0, 1 or 2). ``approach="hybrid"`` draws ``samples`` candidates from the neural
    compiler (the model saved at ``checkpoint``; an untrained one when None) on ``device``,
    keeps the cheapest that passes the tests and that SMT proves equal to the ``-O2`` code, and
    otherwise returns the ``-O2`` code; ``Program.provenance`` says which (``opt`` is ignored).

    Raises CompileError (with ``lineno``, ``col``) for any source outside the language and
    ValueError for a bad ``opt``, ``approach`` or ``samples``.
    """
    if approach == "hybrid":
        from .compilers.hybrid import HybridConfig, compile_hybrid, neural_candidates

        return compile_hybrid([source], neural_candidates(checkpoint, device),
                              HybridConfig(samples=samples), device)[0]
    if approach != "traditional":
        raise ValueError(f"approach must be one of {', '.join(APPROACHES)}, got {approach!r}")
    from .compilers.traditional.pipeline import compile_source

    fn, code = compile_source(source, opt)
    return Program(fn.name, fn.params, code, int(opt), source)
