"""The target ISA: a structured stack machine on int32, declared once.

Every fact about an opcode (its number, mnemonic, operand kind, stack effect, cycle cost,
semantics, and its traits: commutativity, the mirrored and negated comparison, the Python syntax it
implements) lives in ``OPS`` below, one record per opcode. The validator, the assembler, the VMs,
the front end's lowering, the passes, the token vocabulary and the docs all read this table;
nothing else lists opcodes or their traits.

An instruction is a pair ``(opcode, arg)`` of int32; a program is an int32 array of shape
``(n, 2)``. Control flow is structured (``block``/``loop``/``if``/``else``/``end``, ``br``/``br_if``
by depth), and every control instruction runs at an empty operand stack (``if``, ``br_if`` and
``return`` pop their one operand first), so one linear pass checks a program and branches never
need to unwind the stack. See ``docs/isa.md``.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

# Machine limits: the validator enforces them, so the VMs can use fixed-size buffers.
MAX_STACK = 64   # operand stack slots
MAX_LOCALS = 32  # local slots; parameters are slots 0..nparams-1, all others start at 0
MAX_NEST = 32    # open blocks at any point
MAX_PARAMS = 6


def wrap(x: int) -> int:
    """Wrap a Python int to int32 (two's complement)."""
    return ((int(x) + 2**31) & 0xFFFFFFFF) - 2**31


def _u(x: int) -> int:
    return int(x) & 0xFFFFFFFF


def _floordiv(a: int, b: int) -> int:
    return 0 if b == 0 else wrap(a // b)


def _floormod(a: int, b: int) -> int:
    return a if b == 0 else wrap(a % b)


def _udiv(a: int, b: int) -> int:
    return 0 if _u(b) == 0 else wrap(_u(a) // _u(b))


def _urem(a: int, b: int) -> int:
    return a if _u(b) == 0 else wrap(_u(a) % _u(b))


# Operand kinds.
NONE, IMM, SLOT, DEPTH = "none", "imm", "slot", "depth"


@dataclass(frozen=True)
class Op:
    """One opcode: everything the toolchain knows about it."""

    code: int
    name: str          # assembly mnemonic
    arg: str           # operand kind: none, imm (int32), slot (local), depth (enclosing block)
    pops: int
    pushes: int
    cost: int          # cycles each time it executes
    taken: int         # extra cycles when it transfers control (branches only)
    sem: Callable[..., int] | None  # pure value semantics on int32 operands (None: not pure)
    doc: str
    # Traits (xDSL-style): facts the passes and the lowering read, declared beside the opcode.
    commutative: bool = False       # op(a, b) == op(b, a)
    mirrored: str | None = None     # the opcode with swapped operands: op(a, b) == m(b, a)
    negated: str | None = None      # the opcode whose result is the logical not: eqz(op) == n
    python: type[ast.AST] | str | None = None  # the Python operator class (or builtin name)
    # The same semantics as an SMT term: z3 32-bit bit-vector operands to a bit-vector result
    # (pure opcodes only; compilers.verify.smt encodes the rest, which move values or steer).
    smt: Callable[..., Any] | None = None

    @property
    def comparison(self) -> bool:
        """Whether the opcode is a comparison (exactly those with a negation): 0/1 results."""
        return self.negated is not None


def _b(x: bool) -> int:
    return 1 if x else 0


# Helpers for the ``smt`` column. z3 is imported on first use, so that importing the ISA (every
# kiln import does) does not load the solver.
def _z3():
    import z3

    return z3


def _ite(c, a, b):
    return _z3().If(c, a, b)


def _flag(c):
    """A z3 Bool as the ISA's 0/1 int32."""
    z3 = _z3()
    return z3.If(c, z3.BitVecVal(1, 32), z3.BitVecVal(0, 32))


def _smt_floordiv(a, b):
    # bvsdiv truncates toward zero (and wraps INT_MIN / -1 to INT_MIN, as the ISA does); floor
    # division is one less when the remainder is nonzero and its sign differs from b's.
    z3 = _z3()
    rem = z3.SRem(a, b)
    trunc = a / b
    floor = z3.If(z3.And(rem != 0, (rem < 0) != (b < 0)), trunc - 1, trunc)
    return z3.If(b == 0, z3.BitVecVal(0, 32), floor)


def _smt_floormod(a, b):
    # bvsmod takes the divisor's sign: Python's floor modulo. The ISA defines a % 0 == a.
    return _ite(b == 0, a, a % b)


# fmt: off
OPS: tuple[Op, ...] = (
    # stack and locals
    Op(0,  "const",  IMM,   0, 1, 1, 0, None, "push the immediate"),
    Op(1,  "get",    SLOT,  0, 1, 1, 0, None, "push local[slot]"),
    Op(2,  "set",    SLOT,  1, 0, 1, 0, None, "pop into local[slot]"),
    Op(3,  "tee",    SLOT,  1, 1, 1, 0, None, "local[slot] = top, keep it on the stack"),
    Op(4,  "drop",   NONE,  1, 0, 1, 0, None, "discard the top"),
    # arithmetic (a is the deeper operand, b the top)
    Op(5,  "add",    NONE,  2, 1, 1, 0, lambda a, b: wrap(a + b), "a + b",
       commutative=True, python=ast.Add,
       smt=lambda a, b: a + b),
    Op(6,  "sub",    NONE,  2, 1, 1, 0, lambda a, b: wrap(a - b), "a - b",
       python=ast.Sub,
       smt=lambda a, b: a - b),
    Op(7,  "mul",    NONE,  2, 1, 3, 0, lambda a, b: wrap(a * b), "a * b",
       commutative=True, python=ast.Mult,
       smt=lambda a, b: a * b),
    Op(8,  "div",    NONE,  2, 1, 20, 0, _floordiv, "floor division, a // 0 == 0",
       python=ast.FloorDiv,
       smt=_smt_floordiv),
    Op(9,  "mod",    NONE,  2, 1, 20, 0, _floormod, "floor modulo, a % 0 == a",
       python=ast.Mod,
       smt=_smt_floormod),
    Op(10, "udiv",   NONE,  2, 1, 20, 0, _udiv, "unsigned division, udiv(a, 0) == 0",
       python="udiv",
       smt=lambda a, b: _ite(b == 0, 0, _z3().UDiv(a, b))),
    Op(11, "urem",   NONE,  2, 1, 20, 0, _urem, "unsigned remainder, urem(a, 0) == a",
       python="urem",
       smt=lambda a, b: _ite(b == 0, a, _z3().URem(a, b))),
    Op(12, "and",    NONE,  2, 1, 1, 0, lambda a, b: a & b, "bitwise and",
       commutative=True, python=ast.BitAnd,
       smt=lambda a, b: a & b),
    Op(13, "or",     NONE,  2, 1, 1, 0, lambda a, b: a | b, "bitwise or",
       commutative=True, python=ast.BitOr,
       smt=lambda a, b: a | b),
    Op(14, "xor",    NONE,  2, 1, 1, 0, lambda a, b: a ^ b, "bitwise xor",
       commutative=True, python=ast.BitXor,
       smt=lambda a, b: a ^ b),
    Op(15, "shl",    NONE,  2, 1, 1, 0, lambda a, b: wrap(a << (b & 31)), "a << (b mod 32)",
       python=ast.LShift,
       smt=lambda a, b: a << (b & 31)),
    Op(16, "shr",    NONE,  2, 1, 1, 0, lambda a, b: a >> (b & 31), "arithmetic a >> (b mod 32)",
       python=ast.RShift,
       smt=lambda a, b: a >> (b & 31)),
    Op(17, "lshr",   NONE,  2, 1, 1, 0, lambda a, b: wrap(_u(a) >> (b & 31)), "logical a >> (b mod 32)",
       python="lshr",
       smt=lambda a, b: _z3().LShR(a, b & 31)),
    Op(18, "min",    NONE,  2, 1, 2, 0, min, "signed minimum",
       commutative=True, python="min",
       smt=lambda a, b: _ite(a < b, a, b)),
    Op(19, "max",    NONE,  2, 1, 2, 0, max, "signed maximum",
       commutative=True, python="max",
       smt=lambda a, b: _ite(a > b, a, b)),
    Op(20, "eq",     NONE,  2, 1, 1, 0, lambda a, b: _b(a == b), "a == b (0/1)",
       commutative=True, negated="ne", python=ast.Eq,
       smt=lambda a, b: _flag(a == b)),
    Op(21, "ne",     NONE,  2, 1, 1, 0, lambda a, b: _b(a != b), "a != b",
       commutative=True, negated="eq", python=ast.NotEq,
       smt=lambda a, b: _flag(a != b)),
    Op(22, "lt",     NONE,  2, 1, 1, 0, lambda a, b: _b(a < b), "signed a < b",
       mirrored="gt", negated="ge", python=ast.Lt,
       smt=lambda a, b: _flag(a < b)),
    Op(23, "le",     NONE,  2, 1, 1, 0, lambda a, b: _b(a <= b), "signed a <= b",
       mirrored="ge", negated="gt", python=ast.LtE,
       smt=lambda a, b: _flag(a <= b)),
    Op(24, "gt",     NONE,  2, 1, 1, 0, lambda a, b: _b(a > b), "signed a > b",
       mirrored="lt", negated="le", python=ast.Gt,
       smt=lambda a, b: _flag(a > b)),
    Op(25, "ge",     NONE,  2, 1, 1, 0, lambda a, b: _b(a >= b), "signed a >= b",
       mirrored="le", negated="lt", python=ast.GtE,
       smt=lambda a, b: _flag(a >= b)),
    Op(26, "ult",    NONE,  2, 1, 1, 0, lambda a, b: _b(_u(a) < _u(b)), "unsigned a < b",
       mirrored="ugt", negated="uge", python="ult",
       smt=lambda a, b: _flag(_z3().ULT(a, b))),
    Op(27, "ule",    NONE,  2, 1, 1, 0, lambda a, b: _b(_u(a) <= _u(b)), "unsigned a <= b",
       mirrored="uge", negated="ugt", python="ule",
       smt=lambda a, b: _flag(_z3().ULE(a, b))),
    Op(28, "ugt",    NONE,  2, 1, 1, 0, lambda a, b: _b(_u(a) > _u(b)), "unsigned a > b",
       mirrored="ult", negated="ule", python="ugt",
       smt=lambda a, b: _flag(_z3().UGT(a, b))),
    Op(29, "uge",    NONE,  2, 1, 1, 0, lambda a, b: _b(_u(a) >= _u(b)), "unsigned a >= b",
       mirrored="ule", negated="ult", python="uge",
       smt=lambda a, b: _flag(_z3().UGE(a, b))),
    Op(30, "andv",   NONE,  2, 1, 2, 0, lambda a, b: b if a != 0 else a, "Python `a and b`",
       python=ast.And,
       smt=lambda a, b: _ite(a != 0, b, a)),
    Op(31, "orv",    NONE,  2, 1, 2, 0, lambda a, b: a if a != 0 else b, "Python `a or b`",
       python=ast.Or,
       smt=lambda a, b: _ite(a != 0, a, b)),
    # unary
    Op(32, "neg",    NONE,  1, 1, 1, 0, lambda a: wrap(-a), "-a",
       python=ast.USub,
       smt=lambda a: -a),
    Op(33, "not",    NONE,  1, 1, 1, 0, lambda a: ~a, "bitwise ~a",
       python=ast.Invert,
       smt=lambda a: ~a),
    Op(34, "eqz",    NONE,  1, 1, 1, 0, lambda a: _b(a == 0), "logical not: a == 0",
       python=ast.Not,
       smt=lambda a: _flag(a == 0)),
    Op(35, "abs",    NONE,  1, 1, 2, 0, lambda a: wrap(abs(a)), "|a|, abs(INT_MIN) == INT_MIN",
       python="abs",
       smt=lambda a: _ite(a < 0, -a, a)),
    # ternary (a deepest, c top)
    Op(36, "select", NONE,  3, 1, 2, 0, lambda a, b, c: a if c != 0 else b, "a if c else b",
       smt=lambda a, b, c: _ite(c != 0, a, b)),
    # structured control: each runs at an empty stack (after popping its operand, if any)
    Op(37, "block",  NONE,  0, 0, 0, 0, None, "open a block; br to it jumps past its end"),
    Op(38, "loop",   NONE,  0, 0, 0, 0, None, "open a loop; br to it jumps back to its start"),
    Op(39, "if",     NONE,  1, 0, 1, 1, None, "pop c; open a block, entering it if c != 0, else at its else"),
    Op(40, "else",   NONE,  0, 0, 2, 0, None, "end the then-arm of the innermost if (jumps past its end)"),
    Op(41, "end",    NONE,  0, 0, 0, 0, None, "close the innermost block"),
    Op(42, "br",     DEPTH, 0, 0, 2, 0, None, "branch to the block `depth` levels out (0: innermost)"),
    Op(43, "br_if",  DEPTH, 1, 0, 1, 1, None, "pop c; br depth if c != 0"),
    Op(44, "return", NONE,  1, 0, 1, 0, None, "pop and return the value"),
)
# fmt: on

NUM_OPS = len(OPS)
assert all(op.code == i for i, op in enumerate(OPS)), "opcodes must be dense and in order"
BY_NAME: dict[str, Op] = {op.name: op for op in OPS}
OP: dict[str, int] = {op.name: op.code for op in OPS}

# Numeric views of the table for numba kernels (global arrays are frozen into the kernels).
ARG_KIND_CODE = {NONE: 0, IMM: 1, SLOT: 2, DEPTH: 3}
OP_ARG_KIND = np.array([ARG_KIND_CODE[op.arg] for op in OPS], dtype=np.int32)
OP_POPS = np.array([op.pops for op in OPS], dtype=np.int32)
OP_PUSHES = np.array([op.pushes for op in OPS], dtype=np.int32)
OP_COST = np.array([op.cost for op in OPS], dtype=np.int32)
OP_TAKEN = np.array([op.taken for op in OPS], dtype=np.int32)

# Opcode groups, by number, for the kernels' dispatch.
CONST, GET, SET, TEE, DROP = (OP[n] for n in ("const", "get", "set", "tee", "drop"))
FIRST_BINARY, LAST_BINARY = OP["add"], OP["orv"]
FIRST_UNARY, LAST_UNARY = OP["neg"], OP["abs"]
SELECT = OP["select"]
BLOCK, LOOP, IF, ELSE, END, BR, BR_IF, RETURN = (
    OP[n] for n in ("block", "loop", "if", "else", "end", "br", "br_if", "return")
)
EQZ, NEG = OP["eqz"], OP["neg"]
PURE_OPS = tuple(op for op in OPS if op.sem is not None)

# The traits as maps over opcode numbers (views of the table, for passes and kernels).
COMMUTATIVE = frozenset(op.code for op in OPS if op.commutative)
MIRRORED = {op.code: OP[op.mirrored] for op in OPS if op.mirrored}
NEGATED = {op.code: OP[op.negated] for op in OPS if op.negated}
PY_OPERATOR = {op.python: op.code for op in OPS if isinstance(op.python, type)}
"""The opcode of each Python operator (``ast`` class: ``ast.Add`` -> add, ``ast.Not`` -> eqz)."""
PY_BUILTIN = {op.python: op.code for op in OPS if isinstance(op.python, str)}
"""The opcode of each builtin the language has (``"abs"`` -> abs, ``"ult"`` -> ult)."""
PY_CONVERSION = {"int": (), "bool": (OP["eqz"], OP["eqz"])}
"""The builtins with no opcode of their own, as the unary opcodes applied to their argument in
turn: ``int(x)`` is ``x``, ``bool(x)`` is ``not not x``."""


def evaluate(code: int, *operands: int) -> int:
    """Apply a pure opcode's semantics to int32 operands (deepest first)."""
    sem = OPS[code].sem
    if sem is None:
        raise ValueError(f"opcode {OPS[code].name} has no value semantics")
    return sem(*operands)


def cost_table_markdown() -> str:
    """The opcode table as Markdown, for docs/isa.md (a test keeps the doc in sync)."""
    rows = ["| code | mnemonic | operand | pops | pushes | cycles | +taken | meaning |",
            "|---:|---|---|---:|---:|---:|---:|---|"]
    for op in OPS:
        rows.append(f"| {op.code} | `{op.name}` | {op.arg} | {op.pops} | {op.pushes} | "
                    f"{op.cost} | {op.taken or ''} | {op.doc.replace('|', '&#124;')} |")
    return "\n".join(rows)
