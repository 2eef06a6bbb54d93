"""The expression passes of -O2 on the array IR: folding, algebra, strength reduction.

Twins of ``traditional.ir_rewrite`` and ``traditional.ir_rules``: ``build`` is
``Rewriter.build`` (the simplest form of an opcode applied to simplified operands, trying the
rules in the same order with the same conditions), ``simplify`` is ``Rewriter.expr`` and
``fold_constants``, ``simplify_algebra``, ``reduce_strength`` are the passes. The rules are the
object compiler's, read in its order; each comment names the rule it mirrors, whose docstring
states the rewrite.

No recursion: a rule whose replacement is built from another build (``and(a, neg c)``,
``neg(shl(x, k))``, the select rule's second try on ``eqz c``) pushes a frame that finishes it
once the inner build is done; every other rule ends in a tail build or a node. ``rebuild``
walks a tree bottom-up with an explicit stack, memoising each node's result in ``X_MEMO``
under a stamp (building is a pure function of its operands, and equal trees are one node);
``simplify``, ``substitute`` (copy propagation) and ``replace_node`` (CSE) are its uses.
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from ..isa import COMMUTATIVE, INT32_MAX, INT32_MIN, MIRRORED, NUM_OPS, OP, SELECT
from ..vm.core import alu1, alu2
from .ir_arrays import (F0, F1, F2, F4, K_CONST, K_LOCAL, M_KIND, M_NEXT, NEGATED_OF, ROOM,
                        S_ASSIGN, S_FOR, S_IF, S_RETURN, S_TUPLE, S_WHILE, T_BODY, T_STAMP,
                        T_STATUS, X_A0, X_A1, X_A2, X_BOOL, X_COST, X_DEPTH, X_KIND, X_MEMO,
                        X_STAMP, arity, const, intern)

# Rule sets (bits): folding always runs first.
R_FOLD, R_ALGEBRA, R_STRENGTH = 0, 1, 2
R_FULL = R_ALGEBRA | R_STRENGTH
# What a rule did: nothing, gave a node, asks for a tail build, or an inner build first.
A_NONE, A_DONE, A_TAIL, A_NEST = 0, 1, 2, 3
# What to do with an inner build's result: and(f0, r), neg(r), the select rule's second try.
FR_AND, FR_NEG, FR_STEP = 0, 1, 2
FRAME_WIDTH = 4
MAX_FRAMES = 32

COMMUTATIVE_OF = np.zeros(NUM_OPS, np.int64)
MIRRORED_OF = np.full(NUM_OPS, -1, np.int64)
for _op in COMMUTATIVE:
    COMMUTATIVE_OF[_op] = 1
for _a, _b in MIRRORED.items():
    MIRRORED_OF[_a] = _b
(ADD, SUB, MUL, DIV, MOD, UDIV, UREM, AND, OR, XOR, SHL, SHR, LSHR, MIN, MAX, EQ, NE, LT, LE, GT,
 GE, ULT, ULE, UGT, UGE, ANDV, ORV, NEG, NOT, EQZ, ABS) = (
    OP[n] for n in ("add", "sub", "mul", "div", "mod", "udiv", "urem", "and", "or", "xor", "shl",
                    "shr", "lshr", "min", "max", "eq", "ne", "lt", "le", "gt", "ge", "ult", "ule",
                    "ugt", "uge", "andv", "orv", "neg", "not", "eqz", "abs"))
STEP_BY_ONE_OF = np.zeros(NUM_OPS, np.int64)
for _op in (ADD, SUB, OR, XOR, SHL, SHR, LSHR):
    STEP_BY_ONE_OF[_op] = 1
# ir_rules.SAME_OPERANDS: `x op x` is this constant (-1: not in the table).
SAME_CONST = np.full(NUM_OPS, -1, np.int64)
for _name, _v in {"sub": 0, "xor": 0, "mod": 0, "urem": 0, "ne": 0, "lt": 0, "gt": 0, "ult": 0,
                  "ugt": 0, "eq": 1, "le": 1, "ge": 1, "ule": 1, "uge": 1}.items():
    SAME_CONST[OP[_name]] = _v


@register_jitable
def _is_const(ex, n):
    return ex[n, X_KIND] == K_CONST


@register_jitable
def _is(ex, n, kind):
    """Whether node n applies opcode ``kind`` (``ir_rules.is_op``)."""
    return ex[n, X_KIND] == kind


@register_jitable
def _const_is(ex, n, value):
    """Whether node n is the constant ``value`` (``const_value(n) == value``)."""
    return ex[n, X_KIND] == K_CONST and ex[n, X_A0] == value


@register_jitable
def _not_deeper(ex, first, second):
    return ex[first, X_DEPTH] <= ex[second, X_DEPTH]


@register_jitable
def log2(c):
    """k if c read as unsigned 32-bit is 2**k, else -1 (``ir_rules.log2``)."""
    u = c & 0xFFFFFFFF
    if u == 0 or (u & (u - 1)) != 0:
        return -1
    k = 0
    while u > 1:
        u >>= 1
        k += 1
    return k


@register_jitable
def _ret(action, kind, a, b, c):
    return action, np.int64(kind), np.int64(a), np.int64(b), np.int64(c)


@register_jitable
def _done(n):
    return _ret(A_DONE, 0, n, -1, -1)


@register_jitable
def _tail(kind, a, b, c):
    return _ret(A_TAIL, kind, a, b, c)


@register_jitable
def _none():
    return _ret(A_NONE, 0, -1, -1, -1)


@register_jitable
def _right_identity(ex, htab, meta, kind, x, k):
    """``ir_rules.RIGHT_IDENTITIES``: ``kind(x, k)`` for the constant node k."""
    v = ex[k, X_A0]
    if kind == ADD:
        if v == 0:
            return _done(x)
    elif kind == MUL:
        if v == 0:
            return _done(const(ex, htab, meta, 0))
        if v == 1:
            return _done(x)
    elif kind == AND:
        if v == 0:
            return _done(const(ex, htab, meta, 0))
        if v == -1:
            return _done(x)
    elif kind == OR:
        if v == 0:
            return _done(x)
        if v == -1:
            return _done(k)
    elif kind == XOR:
        if v == 0:
            return _done(x)
        if v == -1:
            return _tail(NOT, x, -1, -1)
    elif kind == DIV:
        if v == 0:
            return _done(const(ex, htab, meta, 0))
        if v == 1:
            return _done(x)
        if v == -1:
            return _tail(NEG, x, -1, -1)
    elif kind == MOD:
        if v == 0:
            return _done(x)
        if v == 1 or v == -1:
            return _done(const(ex, htab, meta, 0))
    elif kind == UDIV:
        if v == 0:
            return _done(const(ex, htab, meta, 0))
        if v == 1:
            return _done(x)
    elif kind == UREM:
        if v == 0:
            return _done(x)
        if v == 1:
            return _done(const(ex, htab, meta, 0))
    elif kind == MIN or kind == MAX:
        keep, absorb = (INT32_MAX, INT32_MIN) if kind == MIN else (INT32_MIN, INT32_MAX)
        if v == keep:
            return _done(x)
        if v == absorb:
            return _done(k)
    elif kind == EQ:
        if v == 0:
            return _tail(EQZ, x, -1, -1)
    elif kind == LT or kind == GE:
        if v == INT32_MIN:
            return _done(const(ex, htab, meta, 0 if kind == LT else 1))
    elif kind == GT or kind == LE:
        if v == INT32_MAX:
            return _done(const(ex, htab, meta, 0 if kind == GT else 1))
    elif kind == ULT or kind == UGE:
        if v == 0:
            return _done(const(ex, htab, meta, 0 if kind == ULT else 1))
    elif kind == UGT:
        if v == -1:
            return _done(const(ex, htab, meta, 0))
        if v == 0:
            return _tail(NE, x, const(ex, htab, meta, 0), -1)
    elif kind == ULE:
        if v == -1:
            return _done(const(ex, htab, meta, 1))
        if v == 0:
            return _tail(EQZ, x, -1, -1)
    elif kind == ANDV:
        if v == 0:
            return _done(const(ex, htab, meta, 0))
    elif kind == ORV:
        if v == 0:
            return _done(x)
    return _none()


@register_jitable
def _binary_algebra(ex, htab, meta, kind, a, b):
    """``constants_right``, ``right_constant``, ``left_constant``, ``same_operands``,
    ``reassociate`` and ``logic``, in the order ``ir_rules.ALGEBRA`` tries them."""
    # constants_right
    if _is_const(ex, a) and not _is_const(ex, b):
        if COMMUTATIVE_OF[kind] == 1:
            return _tail(kind, b, a, -1)
        if MIRRORED_OF[kind] >= 0:
            return _tail(MIRRORED_OF[kind], b, a, -1)
    # right_constant
    if _is_const(ex, b):
        v = ex[b, X_A0]
        if kind == SUB:
            return _tail(ADD, a, const(ex, htab, meta, alu1(NEG, v)), -1)
        if (kind == SHL or kind == SHR or kind == LSHR) and (v & 31) == 0:
            return _done(a)
        if (kind == NE or kind == EQ) and (v == 0 or v == 1) and ex[a, X_BOOL] == 1:
            if (kind == NE) == (v == 0):
                return _done(a)
            return _tail(EQZ, a, -1, -1)
        out = _right_identity(ex, htab, meta, kind, a, b)
        if out[0] != A_NONE:
            return out
    # left_constant
    if _is_const(ex, a):
        c = ex[a, X_A0]
        if kind == SUB and c == 0:
            return _tail(NEG, b, -1, -1)
        if c == 0 and (kind == SHL or kind == SHR or kind == LSHR or kind == DIV or kind == MOD
                       or kind == UDIV or kind == UREM):
            return _done(a)
        if kind == SHR and c == -1:
            return _done(a)
        if kind == ANDV:
            return _done(b if c != 0 else a)
        if kind == ORV:
            return _done(a if c != 0 else b)
    # same_operands
    if a == b:
        if SAME_CONST[kind] >= 0:
            return _done(const(ex, htab, meta, SAME_CONST[kind]))
        if kind == AND or kind == OR or kind == MIN or kind == MAX or kind == ANDV \
                or kind == ORV:
            return _done(a)
    # reassociate
    if _is_const(ex, b) and _is(ex, a, kind) and _is_const(ex, ex[a, X_A1]):
        x = ex[a, X_A0]
        p = ex[ex[a, X_A1], X_A0]
        q = ex[b, X_A0]
        if kind == ADD or kind == MUL or kind == AND or kind == OR or kind == XOR:
            return _tail(kind, x, const(ex, htab, meta, alu2(kind, p, q)), -1)
        if kind == MIN or kind == MAX:
            return _tail(kind, x, const(ex, htab, meta, alu2(kind, p, q)), -1)
        if kind == SHL or kind == SHR or kind == LSHR:
            total = (p & 31) + (q & 31)
            if total < 32:
                return _tail(kind, x, const(ex, htab, meta, total), -1)
            if kind == SHR:
                return _tail(SHR, x, const(ex, htab, meta, 31), -1)
            return _done(const(ex, htab, meta, 0))
    # logic
    if (kind == ANDV or kind == ORV) and ex[a, X_BOOL] == 1 and ex[b, X_BOOL] == 1:
        return _tail(AND if kind == ANDV else OR, a, b, -1)
    return _none()


@register_jitable
def _unary_algebra(ex, kind, x):
    """``ir_rules.unary``."""
    if ex[x, X_KIND] < 0:
        return _none()
    inner = ex[x, X_KIND]
    if (kind == NEG and inner == NEG) or (kind == NOT and inner == NOT):
        return _done(ex[x, X_A0])
    if kind == NEG and inner == SUB and _not_deeper(ex, ex[x, X_A0], ex[x, X_A1]):
        return _tail(SUB, ex[x, X_A1], ex[x, X_A0], -1)
    if kind == EQZ and inner == EQZ and ex[ex[x, X_A0], X_BOOL] == 1:
        return _done(ex[x, X_A0])
    if kind == EQZ and NEGATED_OF[inner] >= 0:
        return _tail(NEGATED_OF[inner], ex[x, X_A0], ex[x, X_A1], -1)
    if kind == ABS and (inner == ABS or inner == NEG):
        if inner == NEG:
            return _tail(ABS, ex[x, X_A0], -1, -1)
        return _done(x)
    return _none()


@register_jitable
def _step_by_one(ex, htab, meta, x, y, b):
    """``ir_rules.step_by_one``: ``x op b`` if y is ``x op 1`` (or ``x + -1``: ``x - b``)."""
    if ex[y, X_KIND] < 0 or STEP_BY_ONE_OF[ex[y, X_KIND]] == 0 or ex[y, X_A0] != x \
            or not _is_const(ex, ex[y, X_A1]):
        return _none()
    kind = ex[y, X_KIND]
    k = ex[ex[y, X_A1], X_A0]
    if k == 1:
        return _tail(kind, x, b, -1)
    if kind == ADD and k == -1:
        return _tail(SUB, x, b, -1)
    return _none()


@register_jitable
def _min_max_abs(ex, a, b, c):
    """``ir_rules.min_max_abs``."""
    order = ex[c, X_KIND]
    if not (order == LT or order == LE or order == GT or order == GE):
        return _none()
    p = ex[c, X_A0]
    q = ex[c, X_A1]
    if (a == p and b == q) or (a == q and b == p):
        smaller_first = order == LT or order == LE
        picks_left = a == p
        return _tail(MIN if smaller_first == picks_left else MAX, a, b, -1)
    if _const_is(ex, q, 0):
        negative_first = order == LT or order == LE
        if negative_first and _is(ex, a, NEG) and ex[a, X_A0] == p and b == p:
            return _tail(ABS, p, -1, -1)
        if not negative_first and _is(ex, b, NEG) and ex[b, X_A0] == p and a == p:
            return _tail(ABS, p, -1, -1)
    return _none()


@register_jitable
def _select_algebra(ex, htab, meta, frames, a, b, c):
    """``ir_rules.select``; its nested builds push a frame and return ``A_NEST``."""
    if _is_const(ex, c):
        return _done(a if ex[c, X_A0] != 0 else b)
    if a == b:
        return _done(a)
    if _is(ex, c, EQZ) and _not_deeper(ex, a, b):
        return _tail(SELECT, b, a, ex[c, X_A0])
    if _is(ex, c, NE) and _const_is(ex, ex[c, X_A1], 0):
        return _tail(SELECT, a, b, ex[c, X_A0])
    if _const_is(ex, a, 0) and _const_is(ex, b, 1):
        return _tail(EQZ, c, -1, -1)
    if ex[c, X_BOOL] == 1:
        if _const_is(ex, a, 1) and _const_is(ex, b, 0):
            return _done(c)
        if _const_is(ex, b, 0):
            _push(frames, meta, FR_AND, a, -1, -1)
            return _ret(A_NEST, NEG, c, -1, -1)
        out = _step_by_one(ex, htab, meta, b, a, c)
        if out[0] != A_NONE:
            return out
        _push(frames, meta, FR_STEP, a, b, c)
        return _ret(A_NEST, EQZ, c, -1, -1)
    return _min_max_abs(ex, a, b, c)


@register_jitable
def _strength(ex, htab, meta, frames, kind, x, rhs):
    """``ir_rewrite.strength``."""
    if kind == ADD and x == rhs and ex[x, X_COST] > 1:
        return _tail(SHL, x, const(ex, htab, meta, 1), -1)
    if not _is_const(ex, rhs):
        return _none()
    c = ex[rhs, X_A0]
    k = log2(c)
    if kind == MUL:
        if k >= 1:
            return _tail(SHL, x, const(ex, htab, meta, k), -1)
        if c == -1:
            return _tail(NEG, x, -1, -1)
        k = log2(-c)
        if c < 0 and 1 <= k <= 30:
            _push(frames, meta, FR_NEG, -1, -1, -1)
            return _ret(A_NEST, SHL, x, const(ex, htab, meta, k), -1)
        return _none()
    if k < 1:
        return _none()
    if (kind == DIV or kind == MOD) and c > 0:
        if kind == DIV:
            return _tail(SHR, x, const(ex, htab, meta, k), -1)
        return _tail(AND, x, const(ex, htab, meta, c - 1), -1)
    if kind == UDIV:
        return _tail(LSHR, x, const(ex, htab, meta, k), -1)
    if kind == UREM:
        return _tail(AND, x, const(ex, htab, meta, (1 << k) - 1), -1)
    return _none()


@register_jitable
def _push(frames, meta, kind, f0, f1, f2):
    top = frames[0]
    if 1 + FRAME_WIDTH * (top + 1) > frames.shape[0]:
        meta[T_STATUS] = ROOM
        return
    at = 1 + FRAME_WIDTH * top
    frames[at] = kind
    frames[at + 1] = f0
    frames[at + 2] = f1
    frames[at + 3] = f2
    frames[0] = top + 1


@register_jitable
def _rules(ex, htab, meta, frames, rules, kind, a, b, c):
    """The first rule that applies to ``kind(a, b, c)``, in ``Rewriter`` order."""
    n = arity(kind)
    if n == 2:
        if _is_const(ex, a) and _is_const(ex, b):  # fold
            return _done(const(ex, htab, meta, alu2(kind, ex[a, X_A0], ex[b, X_A0])))
    elif n == 1:
        if _is_const(ex, a):
            return _done(const(ex, htab, meta, alu1(kind, ex[a, X_A0])))
    elif _is_const(ex, a) and _is_const(ex, b) and _is_const(ex, c):
        return _done(a if ex[c, X_A0] != 0 else b)
    if rules & R_ALGEBRA:
        if n == 2:
            out = _binary_algebra(ex, htab, meta, kind, a, b)
        elif n == 1:
            out = _unary_algebra(ex, kind, a)
        else:
            out = _select_algebra(ex, htab, meta, frames, a, b, c)
        if out[0] != A_NONE:
            return out
    if rules & R_STRENGTH and n == 2:
        return _strength(ex, htab, meta, frames, kind, a, b)
    return _none()


@register_jitable
def build(ex, htab, meta, frames, rules, kind, a, b, c):
    """The simplest form of ``kind`` applied to the simplified nodes a, b, c (unused: -1)
    under the rule set ``rules`` (``Rewriter.build``). Out of room: node 0, status ``ROOM``."""
    frames[0] = 0
    while True:
        if meta[T_STATUS] != 0:
            return 0
        action, k2, a2, b2, c2 = _rules(ex, htab, meta, frames, rules, kind, a, b, c)
        if action == A_TAIL or action == A_NEST:
            kind, a, b, c = k2, a2, b2, c2
            continue
        result = a2 if action == A_DONE else intern(ex, htab, meta, kind, a, b, c)
        # Finish the builds waiting on this one, innermost first.
        resumed = False
        while frames[0] > 0 and not resumed:
            frames[0] -= 1
            at = 1 + FRAME_WIDTH * frames[0]
            fk, f0, f1, f2 = frames[at], frames[at + 1], frames[at + 2], frames[at + 3]
            if fk == FR_AND:
                kind, a, b, c = AND, f0, result, -1
                resumed = True
            elif fk == FR_NEG:
                kind, a, b, c = NEG, result, -1, -1
                resumed = True
            else:  # FR_STEP: step_by_one(a, b, eqz c), else min_max_abs(a, b, c)
                out = _step_by_one(ex, htab, meta, f0, f1, result)
                if out[0] == A_NONE:
                    out = _min_max_abs(ex, f0, f1, f2)
                if out[0] != A_NONE:
                    kind, a, b, c = out[1], out[2], out[3], out[4]
                    resumed = True
                else:
                    result = intern(ex, htab, meta, SELECT, f0, f1, f2)
        if not resumed:
            return result


@register_jitable
def rebuild(ex, htab, meta, frames, stack, root, stamp, rules, table, old, new):
    """Node ``root`` rebuilt bottom-up: reads of slot s become node ``table[s]`` where the
    table has one and it is not -1, the subtree ``old`` becomes ``new``, and every operation
    is rebuilt with ``build`` under ``rules`` (or just interned, for ``rules`` -1). Results
    are memoised under ``stamp``: the walk is a pure function of each node."""
    stack[0] = root
    top = 1
    while top > 0:
        if meta[T_STATUS] != 0:
            return 0
        n = stack[top - 1]
        if ex[n, X_STAMP] == stamp:
            top -= 1
            continue
        kind = ex[n, X_KIND]
        if n == old or kind < 0:
            out = n
            if n == old:
                out = new
            elif kind == K_LOCAL and table.shape[0] > 0 and table[ex[n, X_A0]] >= 0:
                out = table[ex[n, X_A0]]
            ex[n, X_MEMO] = out
            ex[n, X_STAMP] = stamp
            top -= 1
            continue
        k = arity(kind)
        ready = True
        for i in range(k):
            child = ex[n, X_A0 + i]
            if ex[child, X_STAMP] != stamp:
                ready = False
                if top >= stack.shape[0]:
                    meta[T_STATUS] = ROOM
                    return 0
                stack[top] = child
                top += 1
        if ready:
            a = ex[ex[n, X_A0], X_MEMO]
            b = ex[ex[n, X_A1], X_MEMO] if k >= 2 else -1
            c = ex[ex[n, X_A2], X_MEMO] if k >= 3 else -1
            # building may make nodes, but never rewrites n's memo: set the stamp after.
            if rules < 0:
                ex[n, X_MEMO] = intern(ex, htab, meta, kind, a, b, c)
            else:
                ex[n, X_MEMO] = build(ex, htab, meta, frames, rules, kind, a, b, c)
            ex[n, X_STAMP] = stamp
            top -= 1
    return ex[root, X_MEMO]


@register_jitable
def simplify(ex, htab, meta, frames, stack, rules, root, stamp):
    """Node ``root`` simplified bottom-up (``Rewriter.expr``), reusing the results memoised
    under ``stamp`` (one per rule set and pass: ``new_stamp``)."""
    return rebuild(ex, htab, meta, frames, stack, root, stamp, rules, stack[:0], -1, -1)


@register_jitable
def substitute(ex, htab, meta, stack, root, table):
    """Node ``root`` with every read of a slot s replaced by node ``table[s]`` where that is
    not -1."""
    return rebuild(ex, htab, meta, stack[:0], stack, root, new_stamp(meta), -1, table, -1, -1)


@register_jitable
def replace_node(ex, htab, meta, stack, root, old, new):
    """Node ``root`` with every occurrence of the subtree ``old`` replaced by node ``new``
    (``ir_cse._replace``)."""
    return rebuild(ex, htab, meta, stack[:0], stack, root, new_stamp(meta), -1, stack[:0], old,
                   new)


@register_jitable
def new_stamp(meta):
    """A stamp no memo carries yet."""
    meta[T_STAMP] += 1
    return meta[T_STAMP]


@register_jitable
def rewrite_function(ex, htab, sm, pool, meta, work, rules):
    """Simplify every expression of every statement under ``rules`` (``Rewriter.function``).
    ``work`` is int64 scratch: frames, then the statement and expression stacks."""
    stamp = new_stamp(meta)
    frames = work[:1 + FRAME_WIDTH * MAX_FRAMES]
    rest = work[1 + FRAME_WIDTH * MAX_FRAMES:]
    blocks = rest[:2 * sm.shape[0] + 1]  # a block per if-arm or loop body, and the function's
    stack = rest[2 * sm.shape[0] + 1:]
    blocks[0] = meta[T_BODY]
    nb = 1
    while nb > 0:
        nb -= 1
        s = blocks[nb]
        while s >= 0 and meta[T_STATUS] == 0:
            kind = sm[s, M_KIND]
            if kind == S_ASSIGN:
                sm[s, F2] = simplify(ex, htab, meta, frames, stack, rules, sm[s, F2], stamp)
            elif kind == S_TUPLE:
                for i in range(sm[s, F1]):
                    q = sm[s, F2] + i
                    pool[q] = simplify(ex, htab, meta, frames, stack, rules, pool[q], stamp)
            elif kind == S_RETURN or kind == S_IF or kind == S_WHILE:
                sm[s, F0] = simplify(ex, htab, meta, frames, stack, rules, sm[s, F0], stamp)
            elif kind == S_FOR:
                sm[s, F1] = simplify(ex, htab, meta, frames, stack, rules, sm[s, F1], stamp)
                sm[s, F2] = simplify(ex, htab, meta, frames, stack, rules, sm[s, F2], stamp)
            if kind == S_IF and sm[s, F1] >= 0:
                blocks[nb] = sm[s, F1]
                nb += 1
            if kind == S_IF and sm[s, F2] >= 0:
                blocks[nb] = sm[s, F2]
                nb += 1
            elif (kind == S_WHILE and sm[s, F1] >= 0) or (kind == S_FOR and sm[s, F4] >= 0):
                blocks[nb] = sm[s, F1] if kind == S_WHILE else sm[s, F4]
                nb += 1
            s = sm[s, M_NEXT]


@register_jitable
def fold_constants(ex, htab, sm, pool, meta, work):
    """``traditional.ir_rewrite.fold_constants`` on the array IR."""
    rewrite_function(ex, htab, sm, pool, meta, work, R_FOLD)


@register_jitable
def simplify_algebra(ex, htab, sm, pool, meta, work):
    """``traditional.ir_rewrite.simplify_algebra`` on the array IR."""
    rewrite_function(ex, htab, sm, pool, meta, work, R_ALGEBRA)


@register_jitable
def reduce_strength(ex, htab, sm, pool, meta, work):
    """``traditional.ir_rewrite.reduce_strength`` on the array IR."""
    rewrite_function(ex, htab, sm, pool, meta, work, R_STRENGTH)
