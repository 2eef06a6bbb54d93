"""Plausible wrong programs: one-instruction mutations of correct bytecode.

The mistakes a code generator makes: a constant off by one (or replaced by an edge value), an
operator swapped for its neighbour (``lt``/``le``, ``shr``/``lshr``, ``div``/``udiv``,
``add``/``sub``, ...), a read of the wrong local, a branch condition inverted. Each mutation keeps
the stack effect and the slot range, so the result is valid bytecode; it may still be equivalent
to the original (``x * 1`` -> ``x * 2`` is not, ``min(x, x)`` -> ``max(x, x)`` is), which is why
the soundness measurement asks SMT for the truth.
"""
from __future__ import annotations

import numpy as np

from ..isa import CONST, GET, INT32_MAX, INT32_MIN, OP, wrap

_FAMILIES = (
    ("add", "sub", "xor", "or"),
    ("mul", "add"),
    ("div", "udiv", "mod", "shr"),
    ("mod", "urem", "and"),
    ("and", "or", "xor"),
    ("shl", "shr", "lshr"),
    ("min", "max"),
    ("eq", "ne"),
    ("lt", "le", "gt", "ult"),
    ("le", "lt", "ge", "ule"),
    ("gt", "ge", "lt", "ugt"),
    ("ge", "gt", "le", "uge"),
    ("andv", "orv", "and"),
    ("neg", "not", "abs"),
    ("eqz", "neg"),
)
# For each opcode that has neighbours: the opcodes it may become (same pops and pushes).
SWAPS: dict[int, tuple[int, ...]] = {}
for family in _FAMILIES:
    head = OP[family[0]]
    SWAPS[head] = tuple(dict.fromkeys(SWAPS.get(head, ()) + tuple(OP[n] for n in family[1:])))

_EDGES = (0, 1, -1, INT32_MIN, INT32_MAX, 31, 32)


def mutate(code: np.ndarray, nparams: int, rng: np.random.Generator) -> np.ndarray | None:
    """One random mutation of valid ``code`` (int32 ``(n, 2)``), or None if it has no
    mutable instruction. The result is valid bytecode with the same parameters."""
    sites = [pc for pc, (op, _) in enumerate(code.tolist())
             if op == CONST or op in SWAPS or (op == GET and nparams > 1)]
    if not sites:
        return None
    pc = int(rng.choice(sites))
    op, arg = (int(v) for v in code[pc])
    out = code.copy()
    if op == CONST:
        if rng.random() < 0.5:
            out[pc, 1] = wrap(arg + int(rng.choice((-1, 1))))
        else:
            choices = [e for e in _EDGES if e != arg]
            out[pc, 1] = int(rng.choice(choices))
    elif op == GET:
        others = [s for s in range(nparams) if s != arg] if arg < nparams else list(
            range(nparams))
        out[pc, 1] = int(rng.choice(others))
    else:
        out[pc, 0] = int(rng.choice(SWAPS[op]))
    return out
