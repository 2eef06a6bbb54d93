"""What a VM run reports: run statuses, link statuses, fuel limits and the result records.

Every VM (the reference, the CPU batch twin and the GPU kernels) returns the same statuses, so
outputs compare bit for bit across them.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from .. import isa, validate

# Run statuses, one per (program, input).
OK = 0           # ran to `return` or off the end of the code
OUT_OF_FUEL = 1  # would have executed more than `fuel` instructions; value 0
INVALID = 2      # never ran: the program failed to link, or its nparams or length is out of range
STATUS_NAMES = ("ok", "out of fuel", "invalid")

# Link statuses are the validator's codes, plus one for a length outside the code array (the
# batch linker must report it rather than raise), and one for a run whose lengths differ from
# those its link validated (the GPU VM reports it per program rather than sync to raise).
E_LENGTH = len(validate.MESSAGES)
E_UNLINKED = E_LENGTH + 1
LINK_MESSAGES = validate.MESSAGES + (
    "program length outside 0..L (the code array's length)",
    "program length differs from the length its link validated")

# Cycles are int32: fuel is capped so that even the dearest instruction, run `fuel` times, fits.
MAX_FUEL = isa.INT32_MAX // int((isa.OP_COST + isa.OP_TAKEN).max())
DEFAULT_FUEL = 100_000  # of a batch run; the evaluation protocol's fuel (evaluation.FUEL)


class Linked(NamedTuple):
    """A linked batch: branch targets ``jump[B, L]``, link ``status[B]`` (0 ok) and ``err_pc[B]``.

    Arrays are numpy or torch, matching the code the linker was given. ``code`` is the very
    array object ``link`` validated and ``lengths`` the int32 ``[B]`` lengths it validated: a
    run with a ``Linked`` must pass that same code object (unmodified) and the same lengths, or
    it is refused (``ValueError``, or status INVALID per program on the GPU), since the VM
    trusts the link's stack heights and jump targets.
    """

    jump: Any
    status: Any
    err_pc: Any
    code: Any = None
    lengths: Any = None


class Result(NamedTuple):
    """Per (program, input): the returned ``value``, run ``status`` and ``cycles``: int32 [B, T]."""

    value: Any
    status: Any
    cycles: Any
