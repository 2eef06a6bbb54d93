"""Random bytecode for the VM tests, valid by construction: every instruction is one that
``validate.check_step`` admits in the state the program has reached.

- ``structured_program``: terminating programs shaped like compiled code: expressions, if/else,
  blocks left by ``br``/``br_if``, and loops run by a counter in a reserved slot.
- ``random_walk_program``: any admissible instruction at each step, so branches back to loops
  are common and runs may never end (they test fuel).
- ``corrupt``: a valid program with one instruction changed until the validator rejects it.

All take a ``numpy.random.Generator``, so a seed reproduces a program.
"""
from __future__ import annotations

import numpy as np

from kiln.compilers import isa
from kiln.compilers.isa import (BLOCK, BR, BR_IF, CONST, DROP, ELSE, END, FIRST_BINARY,
                                FIRST_UNARY, GET, IF, LAST_BINARY, LAST_UNARY, LOOP, MAX_LOCALS,
                                MAX_STACK, OP, RETURN, SELECT, SET, TEE)
from kiln.compilers.validate import K_BLOCK, K_ELSE, K_IF, K_LOOP, check_step, validate

INT_MIN, INT_MAX = isa.INT32_MIN, isa.INT32_MAX
POWERS = tuple(1 << k for k in range(31)) + tuple(-(1 << k) for k in range(32))
EDGE = (0, 1, -1, 2, -2, 3, 31, 32, 33, 63, INT_MIN, INT_MIN + 1, INT_MAX, INT_MAX - 1) + POWERS
BINARY = tuple(range(FIRST_BINARY, LAST_BINARY + 1))
UNARY = tuple(range(FIRST_UNARY, LAST_UNARY + 1))
DATA_SLOTS = 24           # set/tee write slots 0..23; 24..31 count loops
MAX_LOOP_NEST = 3         # with counters <= 4: at most 64 runs of an innermost body


def int32_value(rng: np.random.Generator) -> int:
    """An int32 drawn from the edge values half the time, else uniformly."""
    if rng.random() < 0.5:
        return int(EDGE[rng.integers(len(EDGE))])
    return int(rng.integers(INT_MIN, INT_MAX, endpoint=True))


def random_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """int32 inputs mixing edge values (0, +-1, INT_MIN, INT_MAX, powers of two) and random."""
    flat = [int32_value(rng) for _ in range(int(np.prod(shape)))]
    return np.array(flat, dtype=np.int64).astype(np.int32).reshape(shape)


class Builder:
    """Appends instructions, refusing any that ``check_step`` rejects, and tracks the state."""

    def __init__(self) -> None:
        self.code: list[tuple[int, int]] = []
        self.height = 0
        self.kinds: list[int] = []   # open blocks, innermost last

    def allowed(self, op: int, arg: int = 0) -> bool:
        top = self.kinds[-1] if self.kinds else -1
        return check_step(op, arg, self.height, len(self.kinds), top) == 0

    def emit(self, op: int, arg: int = 0) -> None:
        assert self.allowed(op, arg), f"generator bug: {isa.OPS[op].name} {arg} refused at " \
                                      f"height {self.height}, blocks {self.kinds}"
        self.height += isa.OPS[op].pushes - isa.OPS[op].pops
        if op in (BLOCK, LOOP, IF):
            self.kinds.append({BLOCK: K_BLOCK, LOOP: K_LOOP, IF: K_IF}[op])
        elif op == ELSE:
            self.kinds[-1] = K_ELSE
        elif op == END:
            self.kinds.pop()
        self.code.append((op, arg))

    def close(self) -> None:
        """Drop what is left and end every open block, so the program validates."""
        while self.height or self.kinds:
            self.emit(DROP if self.height else END)

    def array(self) -> np.ndarray:
        code = np.array(self.code, dtype=np.int32).reshape(-1, 2)
        validate(code)
        return code


class _Structured:
    def __init__(self, rng: np.random.Generator, nparams: int):
        self.rng = rng
        self.nparams = nparams
        self.b = Builder()
        self.loops = 0

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, options):
        return options[self.rng.integers(len(options))]

    def value(self, depth: int) -> None:
        """Emit code that pushes exactly one value."""
        b, r = self.b, self.rng.random()
        if depth <= 0 or r < 0.35 or b.height > MAX_STACK - 8:
            if self.nparams and self.chance(0.6):
                b.emit(GET, int(self.rng.integers(self.nparams)))
            elif self.chance(0.3):
                b.emit(GET, int(self.rng.integers(MAX_LOCALS)))
            else:
                b.emit(CONST, int32_value(self.rng) if self.chance(0.6)
                       else int(self.rng.integers(-4, 5)))
        elif r < 0.5:
            self.value(depth - 1)
            b.emit(self.pick(UNARY))
        elif r < 0.85:
            self.value(depth - 1)
            self.value(depth - 1)
            b.emit(self.pick(BINARY))
        elif r < 0.93:
            for _ in range(3):
                self.value(depth - 1)
            b.emit(SELECT)
        else:
            self.value(depth - 1)
            b.emit(TEE, int(self.rng.integers(DATA_SLOTS)))

    def stmts(self, budget: int, depth: int) -> None:
        start = len(self.b.code)
        while len(self.b.code) - start < budget and not self.chance(0.08):
            self.stmt(budget // 2, depth)

    def forward_targets(self) -> list[int]:
        """Depths of open blocks a branch may leave without looping back."""
        kinds = self.b.kinds
        return [d for d in range(len(kinds)) if kinds[-1 - d] != K_LOOP]

    def stmt(self, budget: int, depth: int) -> None:
        b, r = self.b, self.rng.random()
        nested = depth < 4 and len(b.kinds) < isa.MAX_NEST - 1
        if r < 0.3 or not nested:
            self.value(3)
            if self.chance(0.8):
                b.emit(SET, int(self.rng.integers(DATA_SLOTS)))
            else:
                b.emit(DROP)
        elif r < 0.5:
            self.value(3)
            b.emit(IF)
            self.stmts(budget, depth + 1)
            if self.chance(0.5):
                b.emit(ELSE)
                self.stmts(budget, depth + 1)
            b.emit(END)
        elif r < 0.62:
            b.emit(BLOCK)
            self.stmts(budget // 2, depth + 1)
            self.leave()
            self.stmts(budget // 2, depth + 1)
            b.emit(END)
        elif r < 0.77 and self.loops < MAX_LOOP_NEST:
            counter = MAX_LOCALS - 1 - self.loops
            b.emit(CONST, int(self.rng.integers(1, 5)))
            b.emit(SET, counter)
            b.emit(LOOP)
            self.loops += 1
            self.stmts(budget, depth + 1)
            if self.chance(0.3):
                self.leave()
            self.loops -= 1
            for op, arg in ((GET, counter), (CONST, 1), (OP["sub"], 0), (TEE, counter),
                            (BR_IF, 0)):
                b.emit(op, arg)
            b.emit(END)
        elif r < 0.85 and self.forward_targets():
            self.leave()
        elif r < 0.9:
            self.value(3)
            b.emit(RETURN)
        elif r < 0.98:
            self.value(3)
            b.emit(SET, int(self.rng.integers(DATA_SLOTS)))
        else:
            self.deep_stack()

    def leave(self) -> None:
        """A br or br_if out of an enclosing non-loop block, if there is one."""
        targets = self.forward_targets()
        if not targets:
            return
        depth = int(self.pick(targets))
        if self.chance(0.7):
            self.value(2)
            self.b.emit(BR_IF, depth)
        else:
            self.b.emit(BR, depth)

    def deep_stack(self) -> None:
        """Fill the operand stack to its limit, then fold it back to one value and store it."""
        b = self.b
        room = MAX_STACK - b.height
        for _ in range(room):
            b.emit(CONST, int32_value(self.rng))
        for _ in range(room - 1):
            b.emit(self.pick(BINARY))
        b.emit(SET, int(self.rng.integers(DATA_SLOTS)))


def structured_program(rng: np.random.Generator, nparams: int, budget: int = 40) -> np.ndarray:
    """A terminating program of roughly ``budget`` instructions (more with deep stacks)."""
    gen = _Structured(rng, nparams)
    gen.stmts(budget, 0)
    if gen.chance(0.8):
        gen.value(3)
        gen.b.emit(RETURN)
    return gen.b.array()


# Relative weights of opcodes in a random walk: pushes often, so binary ops and control have
# operands; control often enough that blocks, loops and branches appear.
_WALK_WEIGHTS = np.array([6.0 if op in (CONST, GET) else 2.5 if op >= BLOCK else 1.0
                          for op in range(isa.NUM_OPS)])
_WALK_WEIGHTS /= _WALK_WEIGHTS.sum()


def random_walk_program(rng: np.random.Generator, length: int) -> np.ndarray:
    """About ``length`` admissible instructions chosen at random, then closed; may not halt."""
    b = Builder()
    while len(b.code) < length:
        op = int(rng.choice(isa.NUM_OPS, p=_WALK_WEIGHTS))
        kind = isa.OPS[op].arg
        if kind == isa.IMM:
            arg = int32_value(rng)
        elif kind == isa.SLOT:
            arg = int(rng.integers(MAX_LOCALS))
        elif kind == isa.DEPTH:
            arg = int(rng.integers(max(len(b.kinds), 1)))
        else:
            arg = 0
        if b.allowed(op, arg):
            b.emit(op, arg)
        elif b.height and rng.random() < 0.1:
            b.emit(DROP)  # empty the stack now and then, so control instructions fit
    b.close()
    return b.array()


def corrupt(rng: np.random.Generator, code: np.ndarray) -> np.ndarray:
    """``code`` with one instruction replaced so that the validator rejects it."""
    if len(code) == 0:
        return np.array([[END, 0]], dtype=np.int32)  # an end with no block open
    while True:
        bad = code.copy()
        pc = int(rng.integers(len(bad)))
        if rng.random() < 0.5:
            bad[pc, 0] = int(rng.integers(-2, isa.NUM_OPS + 2))
        else:
            bad[pc, 1] = int(rng.integers(-3, 40))
        try:
            validate(bad)
        except ValueError:
            return bad


def pad(programs: list[np.ndarray], length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Programs as a batch ``code[B, L, 2]`` (padding rows are garbage on purpose) and lengths."""
    longest = max((len(p) for p in programs), default=0)
    length = longest if length is None else length
    code = np.full((len(programs), length, 2), -7, dtype=np.int32)
    for i, p in enumerate(programs):
        code[i, :len(p)] = p
    return code, np.array([len(p) for p in programs], dtype=np.int32)
