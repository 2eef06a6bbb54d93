"""SMT equivalence of bytecode programs, with z3 over 32-bit bit-vectors.

``encode`` turns a validated program into one term: its return value as a function of the
parameters. Pure opcodes read their meaning from the ISA table (``isa.OPS[op].smt``); this module
adds only what moves values (``const``, ``get``, ``set``, ``tee``, ``drop``) and what steers
(blocks, branches, ``return``). Control flow is structured and every control instruction runs at
an empty operand stack, so the encoding walks the block tree once, carrying a path condition and
the locals, and merges the states that reach a join point with if-then-else terms.

Loops are unrolled ``unroll`` times per entry (Alive2's practice). A path that would enter a
loop's body once more is cut, and its condition joins ``Encoding.exceeded``: the term is exact
wherever ``exceeded`` is false. ``check_equivalent`` proves two programs equal where neither
exceeds the bound, then asks whether any input exceeds it: if none does, the proof covers every
input ("equivalent"), else it says "equivalent up to k iterations". The solver runs under z3's
``rlimit`` (a deterministic count of its work, unlike a timeout), so a query that is too hard ends
as UNKNOWN, the same way on every run; an encoding that would grow past ``max_steps`` symbolic
instructions is UNKNOWN too, before the solver starts.

Semantics are those of the VM without fuel: fuel bounds a run, it does not change the function.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import z3

from ..isa import (BLOCK, BR, BR_IF, CONST, DROP, ELSE, END, GET, IF, LOOP, MAX_LOCALS, OPS,
                   RETURN, SET, TEE, wrap)
from ..validate import validate

DEFAULT_UNROLL = 16
DEFAULT_RLIMIT = 5_000_000    # z3 resource units per query (deterministic, unlike a timeout)
DEFAULT_MAX_STEPS = 200_000   # symbolic instructions per encoding

# Outcomes of check_equivalent.
EQUIVALENT = "equivalent"
BOUNDED = "bounded"            # equal wherever every loop runs at most `unroll` iterations
COUNTEREXAMPLE = "counterexample"
UNKNOWN = "unknown"
OUTCOMES = (EQUIVALENT, BOUNDED, COUNTEREXAMPLE, UNKNOWN)

_ZERO = z3.BitVecVal(0, 32)


class EncodingTooLarge(Exception):
    """The unrolled program exceeds ``max_steps`` symbolic instructions."""


@dataclass(frozen=True)
class Encoding:
    """A program as a term over its parameters.

    ``value`` is the returned int32 wherever ``exceeded`` is false; ``exceeded`` holds on the
    inputs where some loop wants more than ``unroll`` iterations; ``loops`` says whether the
    program has a loop at all (if not, ``exceeded`` is false).
    """

    params: tuple[Any, ...]
    value: Any
    exceeded: Any
    loops: bool


@dataclass(frozen=True)
class Verdict:
    """The answer to "are A and B equal on every input?".

    ``outcome`` is one of ``OUTCOMES``; for BOUNDED, ``bound`` is the iterations per loop entry
    that the proof covers; for COUNTEREXAMPLE, ``inputs`` are the parameters and ``values`` what
    A and B return on them (the VM returns the same); for UNKNOWN, ``reason`` says why.
    ``solver_seconds`` is the wall time of the queries, ``rlimit`` the budget of each.
    """

    outcome: str
    bound: int | None = None
    inputs: tuple[int, ...] | None = None
    values: tuple[int, int] | None = None
    reason: str = ""
    solver_seconds: float = 0.0
    rlimit: int = DEFAULT_RLIMIT

    @property
    def proved(self) -> bool:
        """Equal on every input (not only up to a bound)."""
        return self.outcome == EQUIVALENT

    def describe(self, names: tuple[str, ...] = (), a: str = "A", b: str = "B") -> str:
        """One line for people: "equivalent", "equivalent up to k iterations", the
        counterexample, or "unknown (...)"."""
        if self.outcome == EQUIVALENT:
            return "equivalent"
        if self.outcome == BOUNDED:
            return f"equivalent up to {self.bound} iterations of every loop"
        if self.outcome == UNKNOWN:
            return f"unknown ({self.reason})"
        args = ", ".join(f"{n}={v}" for n, v in zip(names or _default_names(len(self.inputs)),
                                                   self.inputs))
        return (f"counterexample: ({args}): {a} returns {self.values[0]}, "
                f"{b} returns {self.values[1]}")


def _default_names(n: int) -> tuple[str, ...]:
    return tuple(f"p{i}" for i in range(n))


def parameters(nparams: int) -> tuple[Any, ...]:
    """The shared input variables ``p0..p{n-1}`` (32-bit)."""
    return tuple(z3.BitVec(f"p{i}", 32) for i in range(nparams))


# --- the block tree ------------------------------------------------------------------------

# An item is ("op", opcode, arg), ("block", body), ("loop", body) or ("if", then, else).
def _tree(code: np.ndarray) -> tuple[list, bool]:
    """The nested items of validated code, and whether it has a loop."""
    root: list = []
    open_items: list[list] = [root]
    arms: list[tuple] = []   # the open block items, innermost last
    loops = False
    for op, arg in code.tolist():
        if op in (BLOCK, LOOP, IF):
            loops |= op == LOOP
            item = ("if", [], []) if op == IF else ("block" if op == BLOCK else "loop", [])
            open_items[-1].append(item)
            arms.append(item)
            open_items.append(item[1])
        elif op == ELSE:
            open_items[-1] = arms[-1][2]
        elif op == END:
            arms.pop()
            open_items.pop()
        else:
            open_items[-1].append(("op", op, arg))
    return root, loops


# --- symbolic execution ----------------------------------------------------------------------

class _State:
    """A path condition and the locals on it."""

    __slots__ = ("guard", "slots")

    def __init__(self, guard, slots: tuple):
        self.guard = guard
        self.slots = slots


class _Label:
    """A branch target: the states that branch to it."""

    __slots__ = ("loop", "states")

    def __init__(self, loop: bool):
        self.loop = loop
        self.states: list[_State] = []


def _merge(states: list[_State | None]) -> _State | None:
    live = [s for s in states if s is not None]
    if len(live) <= 1:
        return live[0] if live else None
    guard = z3.Or(*(s.guard for s in live))
    slots = []
    for i in range(len(live[0].slots)):
        values = [s.slots[i] for s in live]
        merged = values[-1]
        if not all(v is merged or v.eq(merged) for v in values):
            for s, v in zip(reversed(live[:-1]), reversed(values[:-1])):
                merged = z3.If(s.guard, v, merged)
        slots.append(merged)
    return _State(guard, tuple(slots))


def _simplified(state: _State | None) -> _State | None:
    """The state with its terms simplified; None when its path condition is false."""
    if state is None:
        return None
    guard = z3.simplify(state.guard)
    if z3.is_false(guard):
        return None
    return _State(guard, tuple(z3.simplify(v) for v in state.slots))


class _Encoder:
    def __init__(self, unroll: int, max_steps: int):
        self.unroll = unroll
        self.max_steps = max_steps
        self.steps = 0
        self.returns: list[tuple[Any, Any]] = []
        self.exceeded: list[Any] = []

    def run(self, items: list, state: _State, labels: list[_Label]) -> _State | None:
        """Execute ``items`` from ``state``; the state that falls out of the end (None if none)."""
        stack: list = []
        for item in items:
            if state is None:  # after br or return: the rest of the block is unreachable
                return None
            self.steps += 1
            if self.steps > self.max_steps:
                raise EncodingTooLarge(f"unrolled program exceeds {self.max_steps} symbolic "
                                       f"instructions")
            kind = item[0]
            if kind == "op":
                state = self.instruction(item[1], item[2], state, stack, labels)
            elif kind == "block":
                label = _Label(loop=False)
                out = self.run(item[1], state, labels + [label])
                state = _merge(label.states + [out])
            elif kind == "if":
                cond = stack.pop() != 0
                label = _Label(loop=False)
                then = self.run(item[1], _State(z3.And(state.guard, cond), state.slots),
                                labels + [label])
                other = self.run(item[2], _State(z3.And(state.guard, z3.Not(cond)),
                                                 state.slots), labels + [label])
                state = _merge(label.states + [then, other])
            else:
                state = self.loop(item[1], state, labels)
        return state

    def loop(self, body: list, state: _State, labels: list[_Label]) -> _State | None:
        exits: list[_State | None] = []
        entry: _State | None = state
        for _ in range(self.unroll):
            label = _Label(loop=True)
            exits.append(self.run(body, entry, labels + [label]))
            entry = _simplified(_merge(label.states))
            if entry is None:
                break
        if entry is not None:  # paths that want one more iteration than the bound
            self.exceeded.append(entry.guard)
        return _merge(exits)

    def instruction(self, op: int, arg: int, state: _State, stack: list,
                    labels: list[_Label]) -> _State | None:
        info = OPS[op]
        if info.smt is not None:
            operands = stack[len(stack) - info.pops:]
            del stack[len(stack) - info.pops:]
            stack.append(info.smt(*operands))
        elif op == CONST:
            stack.append(z3.BitVecVal(arg, 32))
        elif op == GET:
            stack.append(state.slots[arg])
        elif op == SET or op == TEE:
            value = stack.pop() if op == SET else stack[-1]
            state = _State(state.guard, state.slots[:arg] + (value,) + state.slots[arg + 1:])
        elif op == DROP:
            stack.pop()
        elif op == BR:
            labels[-1 - arg].states.append(state)
            return None
        elif op == BR_IF:
            cond = stack.pop() != 0
            labels[-1 - arg].states.append(_State(z3.And(state.guard, cond), state.slots))
            return _State(z3.And(state.guard, z3.Not(cond)), state.slots)
        elif op == RETURN:
            self.returns.append((state.guard, stack.pop()))
            return None
        else:  # pragma: no cover - the tree holds no other opcode
            raise AssertionError(f"unexpected opcode {info.name}")
        return state


def encode(code, nparams: int, *, unroll: int = DEFAULT_UNROLL, params: tuple | None = None,
           max_steps: int = DEFAULT_MAX_STEPS) -> Encoding:
    """The program ``code`` (anything ``validate`` accepts) as a term over its parameters.

    ``params`` are the input variables (default ``parameters(nparams)``); pass the same ones to
    encode two programs over one input. Raises ``ValidationError`` for malformed code and
    ``EncodingTooLarge`` when unrolling would pass ``max_steps`` symbolic instructions.
    """
    if unroll < 1:
        raise ValueError(f"unroll must be at least 1, got {unroll}")
    linked = validate(code)
    params = parameters(nparams) if params is None else tuple(params)
    if len(params) != nparams:
        raise ValueError(f"{nparams} parameters, but {len(params)} variables given")
    root, loops = _tree(linked.code)
    slots = params + (_ZERO,) * (MAX_LOCALS - nparams)
    encoder = _Encoder(unroll, max_steps)
    encoder.run(root, _State(z3.BoolVal(True), slots), [])
    value = _ZERO  # running off the end returns 0 (and so, harmlessly, do cut paths)
    for guard, returned in reversed(encoder.returns):
        value = z3.If(guard, returned, value)
    exceeded = z3.Or(*encoder.exceeded) if encoder.exceeded else z3.BoolVal(False)
    return Encoding(params, value, exceeded, loops)


def _solver(rlimit: int) -> z3.Solver:
    solver = z3.Solver()
    solver.set("rlimit", int(rlimit))
    return solver


def _signed(value) -> int:
    return wrap(value.as_long())


def check_equivalent(a, b, nparams: int, *, unroll: int = DEFAULT_UNROLL,
                     rlimit: int = DEFAULT_RLIMIT,
                     max_steps: int = DEFAULT_MAX_STEPS) -> Verdict:
    """Prove bytecode ``a`` and ``b`` (both taking ``nparams`` parameters) equal, or refute it.

    See the module docstring for what each outcome means. Raises ``ValidationError`` when either
    program is malformed.
    """
    start = time.perf_counter()

    def verdict(outcome: str, **kw) -> Verdict:
        return Verdict(outcome, solver_seconds=time.perf_counter() - start, rlimit=rlimit, **kw)

    params = parameters(nparams)
    try:
        ea = encode(a, nparams, unroll=unroll, params=params, max_steps=max_steps)
        eb = encode(b, nparams, unroll=unroll, params=params, max_steps=max_steps)
    except EncodingTooLarge as exc:
        return verdict(UNKNOWN, reason=str(exc))
    solver = _solver(rlimit)
    solver.add(z3.Not(ea.exceeded), z3.Not(eb.exceeded), ea.value != eb.value)
    answer = solver.check()
    if answer == z3.sat:
        model = solver.model()
        inputs = tuple(_signed(model.eval(p, model_completion=True)) for p in params)
        values = (_signed(model.eval(ea.value, model_completion=True)),
                  _signed(model.eval(eb.value, model_completion=True)))
        return verdict(COUNTEREXAMPLE, inputs=inputs, values=values)
    if answer == z3.unknown:
        return verdict(UNKNOWN, reason=f"solver: {solver.reason_unknown()}")
    if not (ea.loops or eb.loops):
        return verdict(EQUIVALENT)
    # Proved where both stay within the bound: does any input leave it?
    solver = _solver(rlimit)
    solver.add(z3.Or(ea.exceeded, eb.exceeded))
    return verdict(EQUIVALENT) if solver.check() == z3.unsat else verdict(BOUNDED, bound=unroll)


def solve_outputs(code, nparams: int, rows, *, unroll: int = DEFAULT_UNROLL,
                  rlimit: int = DEFAULT_RLIMIT) -> list[int | None]:
    """Ask the solver "f(row) = ?" for each row of arguments: the value its model gives the
    program's result, or None where the run would exceed the unroll bound or the solver gives
    up. The program is encoded once; each row is a query to a fresh solver (an incremental one,
    with push and pop, skips the preprocessing that substitutes the fixed parameters, and then
    bit-blasts divisions it did not need to)."""
    encoding = encode(code, nparams, unroll=unroll)
    result = z3.BitVec("result", 32)
    values: list[int | None] = []
    for row in rows:
        solver = _solver(rlimit)
        solver.add(z3.Not(encoding.exceeded), result == encoding.value,
                   *(p == int(v) for p, v in zip(encoding.params, row)))
        values.append(_signed(solver.model().eval(result, model_completion=True))
                      if solver.check() == z3.sat else None)
    return values
