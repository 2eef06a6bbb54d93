"""The target token vocabulary, and the action mask that keeps generation valid.

A token is one whole instruction: an opcode without operand, ``const k`` for a small immediate,
``lit k`` (push the k-th literal of the *source* program), ``get/set/tee s``, ``br/br_if d``, or
``eos`` (end of program). The vocabulary is built from ``isa.OPS``; ``TABLES`` holds, per token,
the numbers that the mask needs, so the same vectorised formula serves numpy (one env) and torch
(the vector env on the GPU).

The mask is the validator's rule (``validate.check_step``) applied to every token at once, plus
one rule of its own: a token is allowed only if the program can still be finished within the
length limit afterwards (drop or combine every stacked value, close every block, then ``eos``).
So every generated sequence that ends, ends in a valid program. (``kiln.envs.lanes.transition``
applies a token to the state the mask reads: stack height and open blocks.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import isa
from .isa import DEPTH, IMM, MAX_LOCALS, MAX_NEST, MAX_STACK, NONE, OPS, SLOT
from .validate import K_IF

IMM_MIN, IMM_MAX = -16, 16   # immediates with a token of their own
MAX_LITS = 64                # literal references (the source token form has as many)
MAX_BR_DEPTH = 16            # branch depths with a token

EOS = 0


def _build() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    names, ops, args, lits = ["eos"], [-1], [0], [-1]

    def add(name: str, op: int, arg: int = 0, lit: int = -1) -> None:
        names.append(name)
        ops.append(op)
        args.append(arg)
        lits.append(lit)

    for op in OPS:
        if op.arg == NONE:
            add(op.name, op.code)
        elif op.arg == IMM:
            for k in range(IMM_MIN, IMM_MAX + 1):
                add(f"const {k}", op.code, k)
            for k in range(MAX_LITS):
                add(f"lit {k}", op.code, 0, k)
        elif op.arg == SLOT:
            for s in range(MAX_LOCALS):
                add(f"{op.name} {s}", op.code, s)
        elif op.arg == DEPTH:
            for d in range(MAX_BR_DEPTH):
                add(f"{op.name} {d}", op.code, d)
    return names, np.array(ops), np.array(args), np.array(lits)


TOKEN_NAMES, TOKEN_OP, TOKEN_ARG, TOKEN_LIT = _build()
TARGET_VOCAB_SIZE = len(TOKEN_NAMES)
TOKEN_ID: dict[str, int] = {name: i for i, name in enumerate(TOKEN_NAMES)}


@dataclass(frozen=True)
class MaskTables:
    """Per-token facts the mask formula needs; numpy arrays or torch tensors alike."""

    pops: object
    pushes: object
    control: object      # runs only at an empty stack
    opens: object        # block, loop, if
    closes: object       # end
    nest_delta: object   # +1 for opens, -1 for end
    is_else: object
    depth: object        # branch depth, else -1
    lit: object          # literal index, else -1
    is_eos: object

    def to(self, convert) -> "MaskTables":
        """The same tables passed through ``convert`` (e.g. ``torch.as_tensor``)."""
        return MaskTables(**{k: convert(v) for k, v in self.__dict__.items()})


def _tables() -> MaskTables:
    op = np.where(TOKEN_OP >= 0, TOKEN_OP, 0)
    real = TOKEN_OP >= 0
    name = np.array([OPS[o].name for o in op])
    is_branch = real & np.isin(name, ["br", "br_if"])
    return MaskTables(
        pops=np.where(real, isa.OP_POPS[op], 0).astype(np.int64),
        pushes=np.where(real, isa.OP_PUSHES[op], 0).astype(np.int64),
        control=real & (op >= isa.BLOCK),
        opens=real & np.isin(name, ["block", "loop", "if"]),
        closes=real & (name == "end"),
        nest_delta=(real & np.isin(name, ["block", "loop", "if"])).astype(np.int64)
        - (real & (name == "end")).astype(np.int64),
        is_else=real & (name == "else"),
        depth=np.where(is_branch, TOKEN_ARG, -1).astype(np.int64),
        lit=TOKEN_LIT.astype(np.int64),
        is_eos=~real,
    )


TABLES = _tables()


def finish_cost(height, nest):
    """Fewest tokens that end a program from this state: one per stacked value (drop or an
    operator), one ``end`` per open block, then ``eos``."""
    return height + nest + 1


def action_mask(height, nest, top_kind, nlits, remaining, t: MaskTables = TABLES):
    """Which tokens may come next, for one state or a batch of states (broadcasting).

    ``height``/``nest``/``top_kind``/``nlits``/``remaining`` are scalars or arrays of shape
    ``(B, 1)``; ``remaining`` counts the tokens still allowed including this one. Works
    unchanged on numpy arrays and torch tensors.
    """
    after = height - t.pops
    new_height = after + t.pushes
    new_nest = nest + t.nest_delta
    ok = (after >= 0) & (new_height <= MAX_STACK)
    ok = ok & (~t.control | (after == 0))
    ok = ok & (~t.opens | (nest < MAX_NEST))
    ok = ok & (~t.closes | (nest > 0))
    ok = ok & (~t.is_else | ((nest > 0) & (top_kind == K_IF)))
    ok = ok & (t.depth < nest)
    ok = ok & (t.lit < nlits)
    ok = ok & (finish_cost(new_height, new_nest) <= remaining - 1)
    eos = t.is_eos & (height == 0) & (nest == 0)
    return (ok & ~t.is_eos) | eos


def target_token_name(token: int) -> str:
    """Readable name of a token id."""
    return TOKEN_NAMES[token] if 0 <= token < TARGET_VOCAB_SIZE else f"<bad token {token}>"


def decode(tokens, lits) -> np.ndarray:
    """Bytecode for a token sequence (stopping at ``eos``), resolving ``lit k`` via ``lits``.

    Raises ValueError naming the position of a token that is out of range or refers to a
    missing literal; validity of the program is ``validate``'s job.
    """
    lits = np.asarray(lits, dtype=np.int64)
    out = []
    for pos, tok in enumerate(np.asarray(tokens).tolist()):
        if not 0 <= tok < TARGET_VOCAB_SIZE:
            raise ValueError(f"token {tok} at position {pos} is outside the vocabulary "
                             f"0..{TARGET_VOCAB_SIZE - 1}")
        if tok == EOS:
            break
        lit = TOKEN_LIT[tok]
        if lit >= 0:
            if lit >= len(lits):
                raise ValueError(f"token lit {lit} at position {pos}: the source has only "
                                 f"{len(lits)} literals")
            out.append((TOKEN_OP[tok], int(lits[lit])))
        else:
            out.append((TOKEN_OP[tok], TOKEN_ARG[tok]))
    return np.array(out, dtype=np.int32).reshape(-1, 2)


def encode(code, lits) -> np.ndarray | None:
    """Target tokens spelling bytecode ``code`` (``eos`` last), or None if the vocabulary cannot:
    the inverse of ``decode``.

    Constants use their immediate token when in range, else ``lit k`` for a literal of the
    source with that value; branch depths need a token of their own. This is how an agent can
    replay the oracle's code (the tests check it earns the oracle's reward).
    """
    lits = [int(v) for v in lits]
    tokens = []
    for op, arg in np.asarray(code).tolist():
        name = OPS[op].name
        if op == isa.CONST:
            if IMM_MIN <= arg <= IMM_MAX:
                name = f"const {arg}"
            elif arg in lits:
                name = f"lit {lits.index(arg)}"
            else:
                return None
        elif OPS[op].arg != NONE:
            name = f"{name} {arg}"
        if name not in TOKEN_ID:
            return None
        tokens.append(TOKEN_ID[name])
    return np.array(tokens + [EOS], dtype=np.int64)
