"""``Program``: one compiled kiln function, runnable on the CPU VM."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .asm import disassemble
from .interpreter import OutOfFuel, as_args
from .isa import OP_COST
from .validate import validate

DEFAULT_FUEL = 1_000_000


@dataclass(frozen=True)
class Program:
    """A compiled function: its bytecode, parameters, and how to run and cost it.

    ``run(args)`` and ``cost(args)`` take an array-like of shape ``(N, nparams)`` (one row per
    call) and execute on the CPU VM; ``asm()`` is the disassembly. ``provenance`` says which
    approach produced the code and its evidence: ``{"approach": "traditional", "opt": ...}``
    (correct by construction), or for ``"neural"`` the checkpoint's hash, the samples drawn,
    how many passed, the tests run and ``"proved": False``.
    """

    name: str
    params: tuple[str, ...]
    code: np.ndarray = field(repr=False)  # int32 (n, 2): (opcode, arg) pairs
    opt: int = 1
    source: str = field(default="", repr=False)
    provenance: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)

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
        approach = self.provenance.get("approach", "traditional")
        how = f"-O{self.opt}" if approach == "traditional" else approach
        return disassemble(self.code, header=f"{self.name}({', '.join(self.params)})  {how}")

    def execute(self, args, fuel: int = DEFAULT_FUEL):
        """Run on every row: (values int32 (N,), statuses int32 (N,), cycles int32 (N,))."""
        from .vm import execute

        rows = as_args(args, self.nparams)
        result = execute(self.code[None], rows, self.nparams, fuel=fuel, strict=True)
        return result.value[0], result.status[0], result.cycles[0]

    def run(self, args, fuel: int = DEFAULT_FUEL) -> np.ndarray:
        """Return values for each row; raise OutOfFuel if a row runs out of fuel."""
        values, status, _ = self.execute(args, fuel)
        _raise_on_fuel(status, fuel)
        return values

    def cost(self, args, fuel: int = DEFAULT_FUEL) -> float:
        """Mean dynamic cycles over the rows (OutOfFuel if a row runs out)."""
        _, status, cycles = self.execute(args, fuel)
        _raise_on_fuel(status, fuel)
        return float(cycles.mean()) if len(cycles) else 0.0


def _raise_on_fuel(status: np.ndarray, fuel: int) -> None:
    bad = np.flatnonzero(status != 0)
    if len(bad):
        raise OutOfFuel(int(bad[0]), fuel, unit="instructions")
