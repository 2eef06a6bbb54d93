"""Seeded random kiln programs, written straight into the canonical token form.

``gen_one`` builds program ``index`` of stream ``seed``: its token stream (``compilers.tokens``,
canonical, so ``tokenize(detokenize(...))`` gives it back unchanged) and its literal table. It is
one numba-compatible routine (no recursion, objects or exceptions; its stacks live in
caller-provided scratch arrays; int64 arithmetic that never overflows, so the Python path agrees
bit for bit), called by the CPU batch kernel here (``@njit``, ``prange``) and by the CUDA kernel
in ``generator_gpu`` (one thread per program); ``generate_batch(..., device=...)`` picks one.
Randomness is counter-based: a 32-bit hash of (key, counter), keyed by (seed, index), so a
program never depends on the others in its batch.

Every program is valid kiln (definite assignment is tracked exactly as the front end does, at
most 24 variables, at most 64 literals) and terminates quickly on every input:

- ``for`` loops run over ranges whose trip count is at most ``max_trip`` for any int32 input:
  literal bounds, ``range(min(e, K))``, ``range(min(max(e, 0), K))``, ``range(e & K)``,
  ``range(a, min(e, a + K))``, ``range(b, max(e, b - K), -1)``; the loop variable is not assigned
  in the body;
- ``while`` loops have one shape, ``c = 0`` then ``while c < K:`` (or ``while c < K and e:``)
  whose body starts with ``c += 1``, with ``c`` a fresh variable never assigned anywhere else.

So a program runs at most ``max_trip ** loop nesting`` iterations of its innermost body.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from numba import njit, prange
from numba.extending import register_jitable

from ..frontend import BUILTINS
from ..isa import INT32_MIN, MAX_PARAMS
from ..tokens import (AMP, AND, ASSIGN, AUG0, BINOP0, BINOP_PREC, BREAK, BUILTIN0, BUILTIN_NAMES,
                      CMP0, COLON, COMMA, CONTINUE, DEDENT, DEF, ELIF, ELSE, FOR, IF, IN, INDENT,
                      LIT0, LPAR, LT, MAX, MIN, MINUS, NAME0, NEWLINE, NOT, NUM_BINOPS,
                      NUM_BUILTINS, NUM_CMPS, NUM_LITS, OR, PASS, PLUS, PLUSEQ, PREC_AND,
                      PREC_BAND, PREC_BOR, PREC_CMP, PREC_IFEXP, PREC_NOT, PREC_OR, PREC_UNARY,
                      RANGE, RETURN, RPAR, TILDE, WHILE, TokenBatch)

MAX_VARS = 24          # variables a program may use: the rest of the 32 slots is the compiler's
MAX_DEPTH = 8          # statement nesting
MAX_EXPR_DEPTH = 8
MAX_EXPR_NODES = 32
UNOP_NAMES = ("-", "~", "not")
BOOLOP_NAMES = ("and", "or")

# Knob slots of GenConfig.to_array(), in field order.
(K_MIN_STMTS, K_MAX_STMTS, K_MAX_DEPTH, K_MIN_PARAMS, K_MAX_PARAMS, K_MAX_VARS, K_P_IF, K_P_FOR,
 K_P_WHILE, K_P_RETURN, K_P_BREAK, K_P_FINAL_RETURN, K_MAX_TRIP, K_BINOPS, K_CMPOPS, K_BUILTINS,
 K_UNOPS, K_BOOLOPS, K_TERNARY, K_EXPR_DEPTH, K_EXPR_NODES, K_LIT_MIN, K_LIT_MAX, K_P_SPECIAL_LIT,
 K_MAX_TOKENS, NUM_KNOBS) = range(26)


def bitmask(selected: Iterable[str], table: Sequence[str]) -> int:
    """The knob bitmask selecting ``selected`` names of ``table`` (bit i: ``table[i]``).

    Tables: ``tokens.BINOP_SYMBOLS``, ``tokens.CMP_SYMBOLS``, ``tokens.BUILTIN_NAMES``,
    ``UNOP_NAMES``, ``BOOLOP_NAMES``.
    """
    mask = 0
    for name in selected:
        if name not in table:
            raise ValueError(f"{name!r} is not one of {', '.join(table)}")
        mask |= 1 << table.index(name)
    return mask


@dataclass(frozen=True)
class GenConfig:
    """Knobs of the random program generator; probabilities are rounded to thousandths."""

    min_stmts: int = 4
    """Fewest statements per program (each compound statement and each arm counts one)."""
    max_stmts: int = 16
    """Most statements per program (the final ``return`` is extra)."""
    max_depth: int = 3
    """Deepest nesting of compound statements (0: straight-line code), at most 8."""
    min_params: int = 1
    """Fewest parameters."""
    max_params: int = 4
    """Most parameters, at most 6."""
    max_vars: int = 16
    """Most variables, parameters included, at most 24 (compilers need spare slots)."""
    p_if: float = 0.15
    """Probability that a statement is an ``if`` (with ``elif``/``else`` arms at random)."""
    p_for: float = 0.08
    """Probability that a statement is a ``for`` loop."""
    p_while: float = 0.05
    """Probability that a statement is a (counted) ``while`` loop."""
    p_return: float = 0.06
    """Probability that a statement in a nested block is an early ``return``."""
    p_break: float = 0.08
    """Probability that a statement inside a loop is ``break`` or ``continue``."""
    p_final_return: float = 0.95
    """Probability that the function ends with ``return`` (else it falls off the end)."""
    max_trip: int = 8
    """Most iterations of any loop, for every input, at most 64."""
    binops: int = 0x3FF
    """Binary operators allowed (also as ``op=``): bit i is ``tokens.BINOP_SYMBOLS[i]``."""
    cmpops: int = 0x3F
    """Comparisons allowed: bit i is ``tokens.CMP_SYMBOLS[i]``."""
    builtins: int = 0x3FF
    """Builtins allowed: bit i is ``tokens.BUILTIN_NAMES[i]`` (the default leaves out ``int``
    and ``bool``, bits 10 and 11)."""
    unops: int = 0x7
    """Unary operators allowed: bit i is ``UNOP_NAMES[i]`` (- ~ not)."""
    boolops: int = 0x3
    """Boolean operators allowed: bit i is ``BOOLOP_NAMES[i]`` (and, or)."""
    ternary: bool = True
    """Whether conditional expressions ``x if c else y`` may appear."""
    expr_depth: int = 3
    """Deepest nesting of operators in one expression (each draws a depth up to this)."""
    expr_nodes: int = 8
    """Most operators in one expression."""
    lit_min: int = -4
    """Smallest ordinary literal."""
    lit_max: int = 16
    """Largest ordinary literal."""
    p_special_lit: float = 0.1
    """Probability that a literal is a special value instead (0, -1, 31, 32, INT_MIN, ...)."""
    max_tokens: int = 512
    """Token capacity per program (the width of the generated batch); programs stop early to
    fit, so this must leave room for at least one statement (``min_tokens()``)."""

    def __post_init__(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ValueError(f"GenConfig: {what}")

        for f in fields(self):  # each knob's type is its default's: bool, int or float
            value, kind = getattr(self, f.name), type(f.default)
            ok = (isinstance(value, bool) if kind is bool
                  else isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                  if kind is int
                  else isinstance(value, (int, float, np.integer, np.floating))
                  and not isinstance(value, bool) and np.isfinite(value))
            if not ok:
                raise TypeError(f"GenConfig.{f.name} must be a {kind.__name__}, got {value!r}")

        need(1 <= self.min_stmts <= self.max_stmts <= 1000,
             "need 1 <= min_stmts <= max_stmts <= 1000")
        need(0 <= self.max_depth <= MAX_DEPTH, f"max_depth must be in 0..{MAX_DEPTH}")
        need(0 <= self.min_params <= self.max_params <= MAX_PARAMS,
             f"need 0 <= min_params <= max_params <= {MAX_PARAMS}")
        need(max(1, self.max_params) <= self.max_vars <= MAX_VARS,
             f"max_vars must be in max(1, max_params)..{MAX_VARS}")
        for name in ("p_if", "p_for", "p_while", "p_return", "p_break", "p_final_return",
                     "p_special_lit"):
            need(0.0 <= getattr(self, name) <= 1.0, f"{name} must be in [0, 1]")
        need(self.p_if + self.p_for + self.p_while + self.p_return + self.p_break <= 1.0,
             "p_if + p_for + p_while + p_return + p_break must be at most 1")
        need(0 <= self.max_trip <= 64, "max_trip must be in 0..64")
        for name, bits in (("binops", NUM_BINOPS), ("cmpops", NUM_CMPS),
                           ("builtins", NUM_BUILTINS), ("unops", len(UNOP_NAMES)),
                           ("boolops", len(BOOLOP_NAMES))):
            need(0 <= getattr(self, name) < 1 << bits, f"{name} must be a {bits}-bit mask")
        need(1 <= self.expr_depth <= MAX_EXPR_DEPTH, f"expr_depth must be in 1..{MAX_EXPR_DEPTH}")
        need(1 <= self.expr_nodes <= MAX_EXPR_NODES, f"expr_nodes must be in 1..{MAX_EXPR_NODES}")
        need(INT32_MIN <= self.lit_min <= self.lit_max < 2**31,
             "need INT32_MIN <= lit_min <= lit_max <= INT32_MAX")
        need(self.min_tokens() <= self.max_tokens <= 1 << 16,
             f"max_tokens must be in {self.min_tokens()}..65536 for these knobs")

    def min_tokens(self) -> int:
        """The smallest ``max_tokens`` these knobs allow (the header and one statement)."""
        return _HEADER_TOKENS + _reserve(self.expr_nodes, self.max_depth)

    def to_array(self) -> np.ndarray:
        """The knobs as the int32 array that ``gen_one`` reads (slot ``K_<FIELD>``; the
        probabilities in thousandths)."""
        return np.array([round(getattr(self, f.name) * 1000) if f.name.startswith("p_")
                         else int(getattr(self, f.name)) for f in fields(self)], dtype=np.int32)


# ------------------------------------------------------------------------------------------
# The routine. Scratch: st (NUM_STATE int64), blocks (MAX_BLOCKS x NUM_BFIELDS int64), es
# (ESTACK x 4 int64).

(S_KEY1, S_KEY2, S_COUNTER, S_POS, S_WIDTH, S_NLITS, S_NPARAMS, S_NNAMES, S_NODES, S_LOOPS,
 S_LOOPVARS, S_COUNTERS, S_BUDGET, NUM_STATE) = range(14)
# One row per open block: its kind, the variables definitely assigned so far (ALL once it can no
# longer fall through), for if-chains the set before the `if` and the meet of the closed arms,
# its statement count, how many statements it starts with, and its loop variable's bit.
B_KIND, B_MASK, B_BEFORE, B_ACC, B_NSTMTS, B_FLOOR, B_LOOPVAR, NUM_BFIELDS = range(8)
BK_FUNC, BK_IF, BK_ELSE, BK_FOR, BK_WHILE = range(5)
MAX_BLOCKS = MAX_DEPTH + 1
ESTACK = 64            # expression work items; depth 8 needs at most 41
ALL = -1               # every bit: the front end's "never falls through" assigned set
M32 = 0xFFFFFFFF

# Expression work items (kind, a, b, c): generate (min_prec, depth, flags), or emit token a.
E_GEN, E_EMIT = 0, 1
F_COND, F_NO_AND, F_NO_OR = 1, 2, 4   # used as a condition; flattening forbids a same-op child
N_ATOM, N_BINOP, N_UNARY, N_NOT, N_CMP, N_BOOL, N_IFEXP, N_CALL = range(8)

_HEADER_TOKENS = 2 + 2 * MAX_PARAMS - 1 + 4  # DEF LPAR, names and commas, RPAR COLON NEWLINE INDENT
P_CLOSE = 30           # percent: a block ends after any statement past its first
P_MORE_ARMS = 450      # per mille: an if-arm is followed by elif/else
P_ELIF = 40            # percent of those: elif rather than else
P_NEW_VAR = 30         # percent: an assignment target is a fresh variable
P_WHILE_AND = 30       # percent: `while c < K and e:`
P_TUPLE, P_CHAIN, P_AUG = 8, 4, 18   # percent of assignments

_BINOP_PREC = np.array(BINOP_PREC, dtype=np.int64)
_SPECIAL_LITS = np.array([0, 1, 2, -1, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 255, 256, 65535,
                          0x7FFFFFFF, INT32_MIN, 0x55555555, 1000, -2, -31, 0x0F0F0F0F],
                         dtype=np.int64)
_ADD_BIT = 1 << (PLUS - BINOP0)
_AMP_BIT = 1 << (AMP - BINOP0)
_LT_BIT = 1 << (LT - CMP0)
_MIN_BIT, _MAX_BIT = 1 << (MIN - BUILTIN0), 1 << (MAX - BUILTIN0)
# Arguments of builtin i (0: two or more).
_BUILTIN_ARITY = np.array([BUILTINS[name] or 0 for name in BUILTIN_NAMES], dtype=np.int64)
_NEG_BIT, _INV_BIT, _NOT_BIT = 1, 2, 4
_AND_BIT = 1


@register_jitable
def _max_expr_tokens(expr_nodes):
    # An operator adds at most 5 tokens of its own (a call with 3 arguments; a parenthesised
    # binary, comparison chain, boolean chain or conditional) and 2 leaves; a leaf is at most 2.
    return 9 * expr_nodes + 2


@register_jitable
def _reserve(expr_nodes, depth):
    # Room for the longest statement (a tuple assignment, or a loop head with its expression)
    # plus closing every block (`pass`, DEDENT) and the final `return e`.
    return 3 * _max_expr_tokens(expr_nodes) + 3 * depth + 48


@register_jitable
def _mul32(x, c):
    """x * c mod 2**32 for 32-bit x and c, in 16-bit halves so that int64 never overflows."""
    return (x * (c & 0xFFFF) + (((x * (c >> 16)) & 0xFFFF) << 16)) & M32


@register_jitable
def _hash32(x):
    """A 32-bit integer hash with strong avalanche (Wellons' lowbias32)."""
    x ^= x >> 16
    x = _mul32(x, 0x7FEB352D)
    x ^= x >> 15
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


@register_jitable
def _below(st, n):
    """A uniform draw from 0..n-1 (n >= 1): the next counter value, hashed under both keys."""
    st[S_COUNTER] += 1
    return _hash32(_hash32((st[S_COUNTER] + st[S_KEY1]) & M32) ^ st[S_KEY2]) % n


@register_jitable
def _chance(st, per_mille):
    return _below(st, 1000) < per_mille


@register_jitable
def _pick_bit(st, mask, nbits):
    """A uniformly chosen set bit of ``mask`` (nonzero) among its low ``nbits``."""
    count = 0
    for b in range(nbits):
        count += (mask >> b) & 1
    r = _below(st, count)
    for b in range(nbits):
        if (mask >> b) & 1:
            if r == 0:
                return b
            r -= 1
    return 0


@register_jitable
def _emit(st, out, tok):
    out[st[S_POS]] = tok
    st[S_POS] += 1


# Literal-table slots that only exact values (loop bounds, steps, counters) may take: a loop is
# only started while this many are free, and its header needs at most this many new values.
EXACT_RESERVE = 3


@register_jitable
def _lit_index(lits, n, value):
    for j in range(n):
        if lits[j] == value:
            return j
    return -1


@register_jitable
def _emit_lit(st, out, lits, value):
    """LIT k for an exact ``value``: its index in the table, added if new. Loops start only
    while ``EXACT_RESERVE`` slots are free and free literals never take those, so an exact
    value always finds room."""
    n = st[S_NLITS]
    k = _lit_index(lits, n, value)
    if k < 0:
        k = n
        lits[n] = value
        st[S_NLITS] = n + 1
    _emit(st, out, LIT0 + k)


@register_jitable
def _emit_value(st, out, lits, knobs, value):
    """An exact int32 value as canonical tokens: ``-k`` when unary minus is allowed, else a
    literal."""
    if value < 0 and value != INT32_MIN and knobs[K_UNOPS] & _NEG_BIT:
        _emit(st, out, MINUS)
        value = -value
    _emit_lit(st, out, lits, value)


@register_jitable
def _free_literal_room(st):
    return st[S_NLITS] < NUM_LITS - EXACT_RESERVE


@register_jitable
def _emit_free_literal(st, out, lits, knobs):
    """A random literal (``lit_min..lit_max`` or a special value) as an atom. When the table has
    no room left for free literals, an entry already in it that is itself such a literal is
    reused. (Only if none is, which takes 61 distinct loop constants outside the range and
    none special, does an arbitrary entry stand in: the reserved slots stay for loop bounds,
    whose promise is termination.)"""
    value = _literal(st, knobs)
    emitted = -value if value < 0 and value != INT32_MIN and knobs[K_UNOPS] & _NEG_BIT else value
    if _free_literal_room(st) or _lit_index(lits, st[S_NLITS], emitted) >= 0:
        _emit_value(st, out, lits, knobs, value)
        return
    n = st[S_NLITS]
    start = _below(st, n)
    for i in range(n):
        j = (start + i) % n
        if _is_free_literal(lits[j], knobs):
            _emit(st, out, LIT0 + j)
            return
    _emit(st, out, LIT0 + start)


@register_jitable
def _is_free_literal(value, knobs):
    if knobs[K_LIT_MIN] <= value <= knobs[K_LIT_MAX]:
        return True
    for special in _SPECIAL_LITS:
        if special == value:
            return True
    return False


@register_jitable
def _loop_room(st):
    """Whether a loop header's exact values are sure to find room in the literal table."""
    return st[S_NLITS] <= NUM_LITS - EXACT_RESERVE


@register_jitable
def _literal(st, knobs):
    if _chance(st, knobs[K_P_SPECIAL_LIT]):
        return _SPECIAL_LITS[_below(st, len(_SPECIAL_LITS))]
    lo = np.int64(knobs[K_LIT_MIN])
    return lo + _below(st, np.int64(knobs[K_LIT_MAX]) - lo + 1)


@register_jitable
def _push(es, sp, kind, a, b, c):
    es[sp, 0] = kind
    es[sp, 1] = a
    es[sp, 2] = b
    es[sp, 3] = c
    return sp + 1


@register_jitable
def _node(st, knobs, depth, flags):
    """The kind of the next expression node: weights favour conditions where one is wanted."""
    if depth <= 0 or st[S_NODES] <= 0:
        return N_ATOM
    cond = flags & F_COND
    bool_ok = knobs[K_BOOLOPS] & ~(((flags & F_NO_AND) >> 1) | ((flags & F_NO_OR) >> 1))
    w_atom = 20
    w_bin = 40 if knobs[K_BINOPS] else 0
    w_un = 6 if knobs[K_UNOPS] & (_NEG_BIT | _INV_BIT) else 0
    w_not = (8 if cond else 2) if knobs[K_UNOPS] & _NOT_BIT else 0
    w_cmp = (40 if cond else 8) if knobs[K_CMPOPS] else 0
    w_bool = (16 if cond else 4) if bool_ok else 0
    w_if = 4 if knobs[K_TERNARY] else 0
    w_call = 8 if knobs[K_BUILTINS] else 0
    r = _below(st, w_atom + w_bin + w_un + w_not + w_cmp + w_bool + w_if + w_call)
    if r < w_atom:
        return N_ATOM
    r -= w_atom
    if r < w_bin:
        return N_BINOP
    r -= w_bin
    if r < w_un:
        return N_UNARY
    r -= w_un
    if r < w_not:
        return N_NOT
    r -= w_not
    if r < w_cmp:
        return N_CMP
    r -= w_cmp
    if r < w_bool:
        return N_BOOL
    r -= w_bool
    return N_IFEXP if r < w_if else N_CALL


@register_jitable
def _expr(st, out, lits, knobs, es, readable, min_prec, depth, flags):
    """Emit a random expression reading only ``readable`` variables, canonically parenthesised
    for a position that needs precedence ``min_prec``; at most ``depth`` operators deep."""
    st[S_NODES] = knobs[K_EXPR_NODES]
    sp = _push(es, 0, E_GEN, min_prec, depth, flags)
    while sp > 0:
        sp -= 1
        if es[sp, 0] == E_EMIT:
            _emit(st, out, es[sp, 1])
            continue
        need, d, fl = es[sp, 1], es[sp, 2], es[sp, 3]
        kind = _node(st, knobs, d, fl) if sp < ESTACK - 8 else N_ATOM
        if kind == N_ATOM:
            if readable != 0 and _below(st, 100) < 65:
                _emit(st, out, NAME0 + _pick_bit(st, readable, 32))
            else:
                _emit_free_literal(st, out, lits, knobs)
            continue
        st[S_NODES] -= 1
        op = 0
        if kind == N_BINOP:
            op = _pick_bit(st, knobs[K_BINOPS], NUM_BINOPS)
            prec = _BINOP_PREC[op]
        elif kind == N_UNARY:
            prec = PREC_UNARY
        elif kind == N_NOT:
            prec = PREC_NOT
        elif kind == N_CMP:
            prec = PREC_CMP
        elif kind == N_BOOL:
            op = _pick_bit(st, knobs[K_BOOLOPS] & ~(((fl & F_NO_AND) >> 1)
                                                   | ((fl & F_NO_OR) >> 1)), 2)
            prec = PREC_AND if op == 0 else PREC_OR
        elif kind == N_IFEXP:
            prec = PREC_IFEXP
        else:
            prec = 99  # a call is an atom
        if prec < need:
            _emit(st, out, LPAR)
            sp = _push(es, sp, E_EMIT, RPAR, 0, 0)
        # Push the rest right to left: the stack pops it left to right.
        if kind == N_BINOP:
            sp = _push(es, sp, E_GEN, prec + 1, d - 1, 0)
            sp = _push(es, sp, E_EMIT, BINOP0 + op, 0, 0)
            sp = _push(es, sp, E_GEN, prec, d - 1, 0)
        elif kind == N_UNARY:
            if knobs[K_UNOPS] & _NEG_BIT and (not knobs[K_UNOPS] & _INV_BIT or _below(st, 2)):
                _emit(st, out, MINUS)
            else:
                _emit(st, out, TILDE)
            sp = _push(es, sp, E_GEN, PREC_UNARY, d - 1, 0)
        elif kind == N_NOT:
            _emit(st, out, NOT)
            sp = _push(es, sp, E_GEN, PREC_NOT, d - 1, F_COND)
        elif kind == N_CMP:
            for _ in range(1 + (_below(st, 100) < 15)):
                sp = _push(es, sp, E_GEN, PREC_BOR, d - 1, 0)
                sp = _push(es, sp, E_EMIT, CMP0 + _pick_bit(st, knobs[K_CMPOPS], NUM_CMPS), 0, 0)
            sp = _push(es, sp, E_GEN, PREC_BOR, d - 1, 0)
        elif kind == N_BOOL:
            child = F_COND | (F_NO_AND if op == 0 else F_NO_OR)
            for _ in range(1 + (_below(st, 100) < 20)):
                sp = _push(es, sp, E_GEN, prec + 1, d - 1, child)
                sp = _push(es, sp, E_EMIT, AND if op == 0 else OR, 0, 0)
            sp = _push(es, sp, E_GEN, prec + 1, d - 1, child)
        elif kind == N_IFEXP:
            sp = _push(es, sp, E_GEN, PREC_IFEXP, d - 1, 0)
            sp = _push(es, sp, E_EMIT, ELSE, 0, 0)
            sp = _push(es, sp, E_GEN, PREC_OR, d - 1, F_COND)
            sp = _push(es, sp, E_EMIT, IF, 0, 0)
            sp = _push(es, sp, E_GEN, PREC_OR, d - 1, 0)
        else:
            fn = _pick_bit(st, knobs[K_BUILTINS], NUM_BUILTINS)
            nargs = _BUILTIN_ARITY[fn]
            if nargs == 0:  # min, max: sometimes three arguments
                nargs = 2 + (_below(st, 100) < 20)
            _emit(st, out, BUILTIN0 + fn)
            _emit(st, out, LPAR)
            sp = _push(es, sp, E_EMIT, RPAR, 0, 0)
            for _ in range(nargs - 1):
                sp = _push(es, sp, E_GEN, PREC_IFEXP, d - 1, 0)
                sp = _push(es, sp, E_EMIT, COMMA, 0, 0)
            sp = _push(es, sp, E_GEN, PREC_IFEXP, d - 1, 0)


@register_jitable
def _value(st, out, lits, knobs, es, readable, min_prec):
    _expr(st, out, lits, knobs, es, readable, min_prec, 1 + _below(st, knobs[K_EXPR_DEPTH]), 0)


@register_jitable
def _condition(st, out, lits, knobs, es, readable, min_prec, flags):
    _expr(st, out, lits, knobs, es, readable, min_prec, 1 + _below(st, knobs[K_EXPR_DEPTH]),
          F_COND | flags)


@register_jitable
def _room(st, knobs, top):
    """Whether block ``top`` has room for one more statement and for closing everything."""
    return st[S_POS] + _reserve(knobs[K_EXPR_NODES], top) <= st[S_WIDTH]


@register_jitable
def _open(blocks, top, kind, mask, floor, loopvar):
    blocks[top, B_KIND] = kind
    blocks[top, B_MASK] = mask
    blocks[top, B_BEFORE] = mask
    blocks[top, B_ACC] = ALL
    blocks[top, B_NSTMTS] = floor
    blocks[top, B_FLOOR] = floor
    blocks[top, B_LOOPVAR] = loopvar


@register_jitable
def _suite(st, out):
    _emit(st, out, COLON)
    _emit(st, out, NEWLINE)
    _emit(st, out, INDENT)


@register_jitable
def _target(st, knobs, exclude):
    """A variable to assign: fresh (numbered next, so it must be emitted now) or an existing one
    that is no loop variable or while counter; -1 if there is none."""
    nnames = st[S_NNAMES]
    free = ((np.int64(1) << nnames) - 1) & ~(st[S_LOOPVARS] | st[S_COUNTERS] | exclude)
    if nnames < knobs[K_MAX_VARS] and (free == 0 or _below(st, 100) < P_NEW_VAR
                                       or nnames - st[S_NPARAMS] < 2):
        st[S_NNAMES] = nnames + 1
        return nnames
    if free == 0:
        return -1
    return _pick_bit(st, free, 32)


@register_jitable
def _assignment(st, out, lits, knobs, es, mask):
    """An assignment statement (or `pass` if no variable is free); returns the new mask."""
    nnames = st[S_NNAMES]
    free = mask & ((np.int64(1) << nnames) - 1) & ~(st[S_LOOPVARS] | st[S_COUNTERS])
    r = _below(st, 100)
    if r < P_AUG and free != 0 and knobs[K_BINOPS] != 0:
        t = _pick_bit(st, free, 32)
        _emit(st, out, NAME0 + t)
        _emit(st, out, AUG0 + _pick_bit(st, knobs[K_BINOPS], NUM_BINOPS))
        _value(st, out, lits, knobs, es, mask, PREC_IFEXP)
        _emit(st, out, NEWLINE)
        return mask
    t = _target(st, knobs, 0)
    if t < 0:
        _emit(st, out, PASS)
        _emit(st, out, NEWLINE)
        return mask
    _emit(st, out, NAME0 + t)
    second = -1
    if r < P_AUG + P_TUPLE + P_CHAIN:
        second = _target(st, knobs, np.int64(1) << t)
    if second >= 0 and r < P_AUG + P_TUPLE:
        _emit(st, out, COMMA)
        _emit(st, out, NAME0 + second)
        _emit(st, out, ASSIGN)
        _value(st, out, lits, knobs, es, mask, PREC_IFEXP)
        _emit(st, out, COMMA)
    else:
        _emit(st, out, ASSIGN)
        if second >= 0:
            _emit(st, out, NAME0 + second)
            _emit(st, out, ASSIGN)
    _value(st, out, lits, knobs, es, mask, PREC_IFEXP)
    _emit(st, out, NEWLINE)
    mask |= np.int64(1) << t
    if second >= 0:
        mask |= np.int64(1) << second
    return mask


@register_jitable
def _range_args(st, out, lits, knobs, es, readable):
    """``(...)`` of a range with at most max_trip iterations whatever the inputs."""
    trip = np.int64(knobs[K_MAX_TRIP])
    n = _below(st, trip + 1)
    form = _below(st, 8)
    if (form == 3 and not knobs[K_BUILTINS] & _MIN_BIT) \
            or (form == 4 and not (knobs[K_BUILTINS] & _MIN_BIT and knobs[K_BUILTINS] & _MAX_BIT)) \
            or (form == 5 and not knobs[K_BINOPS] & _AMP_BIT) \
            or (form == 6 and not knobs[K_BUILTINS] & _MIN_BIT) \
            or (form == 7 and not knobs[K_BUILTINS] & _MAX_BIT):
        form -= 3 if form < 6 else 6  # the literal form
    start = _below(st, 7) - 2
    _emit(st, out, LPAR)
    if form == 0:                                         # range(n)
        _emit_value(st, out, lits, knobs, n)
    elif form == 1:                                       # range(a, a + n)
        _emit_value(st, out, lits, knobs, start)
        _emit(st, out, COMMA)
        _emit_value(st, out, lits, knobs, start + n)
    elif form == 2:                                       # range(a, b, s), n steps either way
        step = 1 + _below(st, 3)
        if _below(st, 2):
            start += n * step
            step = -step
        _emit_value(st, out, lits, knobs, start)
        _emit(st, out, COMMA)
        _emit_value(st, out, lits, knobs, start + n * step)
        _emit(st, out, COMMA)
        _emit_value(st, out, lits, knobs, step)
    elif form == 3 or form == 4:                          # range(min([max(]e[, 0)], n))
        _emit(st, out, MIN)
        _emit(st, out, LPAR)
        if form == 4:
            _emit(st, out, MAX)
            _emit(st, out, LPAR)
        _value(st, out, lits, knobs, es, readable, PREC_IFEXP)
        if form == 4:
            _emit(st, out, COMMA)
            _emit_value(st, out, lits, knobs, 0)
            _emit(st, out, RPAR)
        _emit(st, out, COMMA)
        _emit_value(st, out, lits, knobs, n)
        _emit(st, out, RPAR)
    elif form == 5:                                       # range(e & (2**j - 1))
        bits = 0
        while (np.int64(2) << bits) - 1 <= trip:
            bits += 1
        _value(st, out, lits, knobs, es, readable, PREC_BAND)
        _emit(st, out, AMP)
        _emit_value(st, out, lits, knobs, (np.int64(1) << _below(st, bits + 1)) - 1)
    else:                                                 # range(a, min(e, a + n)) or
        _emit_value(st, out, lits, knobs, start)          # range(a, max(e, a - n), -1)
        _emit(st, out, COMMA)
        _emit(st, out, MIN if form == 6 else MAX)
        _emit(st, out, LPAR)
        _value(st, out, lits, knobs, es, readable, PREC_IFEXP)
        _emit(st, out, COMMA)
        _emit_value(st, out, lits, knobs, start + n if form == 6 else start - n)
        _emit(st, out, RPAR)
        if form == 7:
            _emit(st, out, COMMA)
            _emit_value(st, out, lits, knobs, -1)
    _emit(st, out, RPAR)


@register_jitable
def _statement(st, out, lits, knobs, es, blocks, top):
    """Emit one statement into block ``top``; returns the new top (a compound statement opens
    a block)."""
    mask = blocks[top, B_MASK]
    first = blocks[top, B_NSTMTS] == 0
    blocks[top, B_NSTMTS] += 1
    st[S_BUDGET] -= 1
    nest = top < knobs[K_MAX_DEPTH] and st[S_BUDGET] >= 1
    r = _below(st, 1000)
    p_for = knobs[K_P_IF] + knobs[K_P_FOR]
    p_while = p_for + knobs[K_P_WHILE]
    p_return = p_while + knobs[K_P_RETURN]
    if r < knobs[K_P_IF] and nest and not (blocks[top, B_KIND] == BK_ELSE and first):
        # (an `else` starting with `if` would be canonically `elif`)
        _emit(st, out, IF)
        _condition(st, out, lits, knobs, es, mask, PREC_IFEXP, 0)
        _suite(st, out)
        _open(blocks, top + 1, BK_IF, mask, 0, 0)
        return top + 1
    if knobs[K_P_IF] <= r < p_for and nest and _loop_room(st):
        t = _target(st, knobs, 0)
        if t >= 0:
            _emit(st, out, FOR)
            _emit(st, out, NAME0 + t)
            _emit(st, out, IN)
            _emit(st, out, RANGE)
            _range_args(st, out, lits, knobs, es, mask)
            _suite(st, out)
            bit = np.int64(1) << t
            _open(blocks, top + 1, BK_FOR, mask | bit, 0, bit)
            st[S_LOOPS] += 1
            st[S_LOOPVARS] |= bit
            return top + 1
    if p_for <= r < p_while and nest and _loop_room(st) and st[S_NNAMES] < knobs[K_MAX_VARS] \
            and knobs[K_CMPOPS] & _LT_BIT and knobs[K_BINOPS] & _ADD_BIT:
        c = st[S_NNAMES]
        st[S_NNAMES] = c + 1
        bit = np.int64(1) << c
        st[S_COUNTERS] |= bit
        mask |= bit
        blocks[top, B_MASK] = mask
        _emit(st, out, NAME0 + c)
        _emit(st, out, ASSIGN)
        _emit_value(st, out, lits, knobs, 0)
        _emit(st, out, NEWLINE)
        _emit(st, out, WHILE)
        _emit(st, out, NAME0 + c)
        _emit(st, out, LT)
        _emit_value(st, out, lits, knobs, _below(st, np.int64(knobs[K_MAX_TRIP]) + 1))
        if knobs[K_BOOLOPS] & _AND_BIT and _below(st, 100) < P_WHILE_AND:
            _emit(st, out, AND)
            _condition(st, out, lits, knobs, es, mask, PREC_NOT, F_NO_AND)
        _suite(st, out)
        _emit(st, out, NAME0 + c)
        _emit(st, out, PLUSEQ)
        _emit_value(st, out, lits, knobs, 1)
        _emit(st, out, NEWLINE)
        _open(blocks, top + 1, BK_WHILE, mask, 1, 0)
        st[S_LOOPS] += 1
        return top + 1
    if p_while <= r < p_return and top > 0:
        _emit(st, out, RETURN)
        if _below(st, 100) >= 5:
            _value(st, out, lits, knobs, es, mask, PREC_IFEXP)
        _emit(st, out, NEWLINE)
        blocks[top, B_MASK] = ALL
        return top
    if p_return <= r < p_return + knobs[K_P_BREAK] and st[S_LOOPS] > 0:
        _emit(st, out, BREAK if _below(st, 2) else CONTINUE)
        _emit(st, out, NEWLINE)
        blocks[top, B_MASK] = ALL
        return top
    blocks[top, B_MASK] = _assignment(st, out, lits, knobs, es, mask)
    return top


@register_jitable
def _close(st, out, lits, knobs, es, blocks, top):
    """Block ``top`` has just been closed (DEDENT): update its parent, or open the next arm of
    an if-chain in its place. Returns the new top."""
    kind = blocks[top, B_KIND]
    if kind == BK_FOR or kind == BK_WHILE:
        st[S_LOOPS] -= 1
        st[S_LOOPVARS] &= ~blocks[top, B_LOOPVAR]
        return top - 1  # the body may not run: the parent's set stands
    acc = blocks[top, B_ACC] & blocks[top, B_MASK]
    if kind == BK_ELSE:
        blocks[top - 1, B_MASK] = acc  # what every arm assigns (ALL: none falls through)
        return top - 1
    if st[S_BUDGET] >= 2 and _room(st, knobs, top) and _chance(st, P_MORE_ARMS):
        st[S_BUDGET] -= 1
        before = blocks[top, B_BEFORE]
        if _below(st, 100) < P_ELIF:
            _emit(st, out, ELIF)
            _condition(st, out, lits, knobs, es, before, PREC_IFEXP, 0)
            _open(blocks, top, BK_IF, before, 0, 0)
        else:
            _emit(st, out, ELSE)
            _open(blocks, top, BK_ELSE, before, 0, 0)
        blocks[top, B_ACC] = acc
        _suite(st, out)
        return top
    return top - 1  # no else: an arm that assigns nothing, so the parent's set stands


@register_jitable
def gen_one(seed, index, knobs, out_tokens, out_lits, st, blocks, es):
    """Generate program ``index`` of stream ``seed`` (0 <= seed < 2**63) under ``knobs``.

    Writes its tokens to ``out_tokens[:length]`` and its literals to ``out_lits[:nlits]``
    (nothing after them). Scratch: ``st`` int64[NUM_STATE], ``blocks``
    int64[MAX_BLOCKS, NUM_BFIELDS], ``es`` int64[ESTACK, 4]. Returns
    ``(length, nlits, nparams, nnames)``.
    """
    for i in range(NUM_STATE):
        st[i] = 0
    st[S_KEY1] = _hash32((_hash32(seed & M32) + index) & M32)
    st[S_KEY2] = _hash32(_hash32(((seed >> 32) & M32) ^ 0x68E31DA4) ^ st[S_KEY1])
    st[S_WIDTH] = min(knobs[K_MAX_TOKENS], out_tokens.shape[0])
    nparams = knobs[K_MIN_PARAMS] + _below(st, knobs[K_MAX_PARAMS] - knobs[K_MIN_PARAMS] + 1)
    st[S_NPARAMS] = nparams
    st[S_NNAMES] = nparams
    _emit(st, out_tokens, DEF)
    _emit(st, out_tokens, LPAR)
    for k in range(nparams):
        if k:
            _emit(st, out_tokens, COMMA)
        _emit(st, out_tokens, NAME0 + k)
    _emit(st, out_tokens, RPAR)
    _suite(st, out_tokens)
    st[S_BUDGET] = knobs[K_MIN_STMTS] + _below(st, knobs[K_MAX_STMTS] - knobs[K_MIN_STMTS] + 1)
    top = 0
    _open(blocks, 0, BK_FUNC, (np.int64(1) << nparams) - 1, 0, 0)
    while True:
        mask = blocks[top, B_MASK]
        n = blocks[top, B_NSTMTS]
        if not _room(st, knobs, top):
            st[S_BUDGET] = 0
        if mask != ALL and st[S_BUDGET] > 0 and (top == 0 or n <= blocks[top, B_FLOOR]
                                                 or _below(st, 100) >= P_CLOSE):
            top = _statement(st, out_tokens, out_lits, knobs, es, blocks, top)
            continue
        if top == 0 and mask != ALL and _chance(st, knobs[K_P_FINAL_RETURN]):
            _emit(st, out_tokens, RETURN)
            _value(st, out_tokens, out_lits, knobs, es, mask, PREC_IFEXP)
            _emit(st, out_tokens, NEWLINE)
            n += 1
        if n == 0:
            _emit(st, out_tokens, PASS)
            _emit(st, out_tokens, NEWLINE)
        _emit(st, out_tokens, DEDENT)
        if top == 0:
            break
        top = _close(st, out_tokens, out_lits, knobs, es, blocks, top)
    return st[S_POS], st[S_NLITS], nparams, st[S_NNAMES]


@njit(parallel=True, cache=True)
def _generate(seed, knobs, tokens, lits, meta):
    for i in prange(tokens.shape[0]):
        st = np.empty(NUM_STATE, np.int64)
        blocks = np.empty((MAX_BLOCKS, NUM_BFIELDS), np.int64)
        es = np.empty((ESTACK, 4), np.int64)
        length, nlits, nparams, nnames = gen_one(seed, i, knobs, tokens[i], lits[i], st, blocks,
                                                 es)
        meta[0, i] = length
        meta[1, i] = nlits
        meta[2, i] = nparams
        meta[3, i] = nnames


def check_seed(seed: int) -> int:
    """``seed`` as the int64 that ``gen_one`` takes: an int in 0..2**63-1, else ValueError
    (floats, strings and bools are refused rather than converted)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be an int in 0..2**63-1, got {seed!r}")
    return int(seed)


def check_count(n: int) -> int:
    """``n``, the number of programs of a batch: an int in 0..2**31-1, else ValueError."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= int(n) < 2**31:
        raise ValueError(f"the number of programs must be an int in 0..2**31-1, got {n!r}")
    return int(n)


def check_config(config: GenConfig | None) -> GenConfig:
    """``config``, or the defaults for None; TypeError for anything but a GenConfig."""
    if config is None:
        return GenConfig()
    if not isinstance(config, GenConfig):
        raise TypeError(f"config must be a GenConfig or None, got {type(config).__name__}")
    return config


def batch_from_arrays(tokens, lits, meta) -> TokenBatch:
    """The TokenBatch over generator outputs (``meta`` rows: lengths, nlits, nparams, nnames)."""
    return TokenBatch(tokens, meta[0], lits, meta[1], meta[2], meta[3])


def generate_batch(n: int, seed: int, config: GenConfig | None = None,
                   device: torch.device | str | None = None) -> TokenBatch:
    """Programs ``0..n-1`` of stream ``seed``: a TokenBatch ``config.max_tokens`` wide.

    On the CPU (``device`` None or ``"cpu"``) numba generates them in parallel over programs;
    on a CUDA device a kernel does (``generator_gpu``, one thread per program, asynchronously on
    torch's current stream), with identical programs.
    """
    n, seed, config = check_count(n), check_seed(seed), check_config(config)
    try:
        device = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda' or a torch.device, got {device!r}") \
            from None
    if device.type == "cuda":
        from .generator_gpu import generate_on_cuda

        return generate_on_cuda(n, seed, config, device)
    if device.type != "cpu":
        raise ValueError(f"generate_batch runs on the CPU or a CUDA device, got {device}")
    tokens = np.zeros((n, config.max_tokens), np.int32)
    lits = np.zeros((n, NUM_LITS), np.int32)
    meta = np.zeros((4, n), np.int32)
    _generate(seed, config.to_array(), tokens, lits, meta)
    return batch_from_arrays(torch.from_numpy(tokens), torch.from_numpy(lits),
                             torch.from_numpy(meta))


def generate_sources(n: int, seed: int, config: GenConfig | None = None) -> list[str]:
    """Programs ``0..n-1`` of stream ``seed`` as canonical source text."""
    batch = generate_batch(n, seed, config)
    return [batch.source(i) for i in range(n)]
