"""``Program``: one compiled kiln function, runnable on the CPU VM."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .asm import disassemble
from .interpreter import OutOfFuel, as_args
from .isa import OP_COST
from .validate import validate

# Fuel of one call of Program.execute/run/cost (and of ``kiln run``): generous, since a user's
# call is one program, where the batch VM's default (vm.DEFAULT_FUEL, the evaluation protocol's
# fuel) bounds thousands of runs at once.
CALL_FUEL = 1_000_000


@dataclass(frozen=True)
class Provenance:
    """Where a Program's code came from and what vouches for it.

    ``approach`` is the compiler that produced the code (``"traditional"``, ``"neural"`` or
    ``"hybrid"``). The traditional compiler's outcome is ``"compiled"`` (correct by
    construction); the neural compiler's is ``"tested"``: the code agreed with the traditional
    compiler's on every test, which is evidence, not proof. For the hybrid, ``outcome`` is
    ``"proved"`` (SMT: equal to the traditional code on every input), ``"proved_bounded"``
    (equal wherever every loop runs at most ``bound`` iterations) or ``"fell_back"`` (the
    traditional ``-O2`` code; ``reason`` says why). ``tests`` are the test rows the accepted
    candidate passed, by kind; ``samples`` the candidates drawn, ``passed`` how many passed the
    tests, ``proofs`` the SMT queries run, ``refuted`` and ``unknown`` how they ended, and
    ``solver_seconds`` their wall time; ``checkpoint`` the neural model's weights hash (prefix).
    """

    approach: str = "traditional"
    outcome: str = "compiled"
    reason: str = ""
    bound: int | None = None
    tests: tuple[tuple[str, int], ...] = ()
    samples: int = 0
    passed: int = 0
    proofs: int = 0
    refuted: int = 0
    unknown: int = 0
    solver_seconds: float = 0.0
    checkpoint: str = ""


@dataclass(frozen=True)
class Program:
    """A compiled function: its bytecode, parameters, and how to run and cost it.

    ``run(args)`` and ``cost(args)`` take an array-like of shape ``(N, nparams)`` (one row per
    call) and execute on the CPU VM; ``asm()`` is the disassembly; ``provenance`` says where
    the code came from and what vouches for it.
    """

    name: str
    params: tuple[str, ...]
    code: np.ndarray = field(repr=False)  # int32 (n, 2): (opcode, arg) pairs
    opt: int = 1
    source: str = field(default="", repr=False)
    provenance: Provenance = field(default=Provenance(), compare=False)

    def __post_init__(self):
        validate(self.code)  # a Program always holds valid code

    @property
    def nparams(self) -> int:
        return len(self.params)

    @property
    def static_cost(self) -> int:
        """Sum of the cycle costs of the instructions, each counted once."""
        return int(OP_COST[self.code[:, 0]].sum()) if len(self.code) else 0

    def asm(self) -> str:
        """The program as assembly text (``compilers.asm`` reads it back)."""
        p = self.provenance
        # Traditional code (the hybrid's fallback included) names its level; other code its
        # approach.
        how = f"-O{self.opt}" if p.approach == "traditional" or p.outcome == "fell_back" \
            else p.approach
        return disassemble(self.code, header=f"{self.name}({', '.join(self.params)})  {how}")

    def execute(self, args, fuel: int = CALL_FUEL):
        """Run on every row: (values int32 (N,), statuses int32 (N,), cycles int32 (N,))."""
        from .vm import execute

        rows = as_args(args, self.nparams)
        result = execute(self.code[None], rows, self.nparams, fuel=fuel, strict=True)
        return result.value[0], result.status[0], result.cycles[0]

    def run(self, args, fuel: int = CALL_FUEL) -> np.ndarray:
        """Return values for each row; raise OutOfFuel if a row runs out of fuel."""
        values, status, _ = self.execute(args, fuel)
        _raise_on_fuel(status, fuel)
        return values

    def cost(self, args, fuel: int = CALL_FUEL) -> float:
        """Mean dynamic cycles over the rows (OutOfFuel if a row runs out)."""
        _, status, cycles = self.execute(args, fuel)
        _raise_on_fuel(status, fuel)
        return float(cycles.mean()) if len(cycles) else 0.0


def _raise_on_fuel(status: np.ndarray, fuel: int) -> None:
    bad = np.flatnonzero(status != 0)
    if len(bad):
        raise OutOfFuel(int(bad[0]), fuel, unit="instructions")
