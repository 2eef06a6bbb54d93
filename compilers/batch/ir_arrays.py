"""The -O2 IR of the batched compiler: ``traditional.ir`` held in a few int arrays.

The object compiler's -O2 passes rewrite ``traditional.ir`` trees; the batched compiler's twins
of those passes (``ir_rewrite`` ...) rewrite the same IR held in arrays, so that one routine,
free of objects and recursion, runs under numba on the CPU and on CUDA:

- ``ex`` (int64 ``[capacity, EX_WIDTH]``): expression nodes, *hash-consed*: equal trees are one
  node (``intern``), so the structural equality the passes test (``a == b`` on expressions) is
  equality of node numbers. A node is ``(kind, a0, a1, a2)``: kind ``K_CONST`` (a0 the int32
  value), ``K_LOCAL`` (a0 the slot) or an opcode of ``isa.OPS`` applied to the nodes a0.. (as
  many as the opcode pops). Each node also carries facts the passes read, computed once when it
  is made: its cycle cost (``ir_tools.expr_cost``), operand stack depth (``stack_depth``),
  whether it is 0/1 for every input (``ir_rules.is_bool``), the slots it reads (``ir.reads``,
  a bit mask: slots are below ``isa.MAX_LOCALS`` = 32); and a memo word with the stamp of the
  walk that wrote it (``X_STAMP``), so that a walk's results need no clearing.
- ``sm`` (int32 ``[capacity, SM_WIDTH]``): statements, ``(kind, next, fields...)``; a block is
  the chain of its first statement's ``next`` links (-1 ends it, and is the empty block).
- ``pool`` (int32): the target slots and value nodes of multi-target and tuple assignments.
- ``htab`` (int32, a power of two long): the hash table behind ``intern``.
- ``meta`` (int64 ``[META_SIZE]``): counts in use, the function's first statement, its number
  of variables, and a status that is ``ROOM`` once any array ran out of room (the result is
  then unusable).

``to_arrays`` and ``from_arrays`` convert to and from ``traditional.ir`` on the host, for the
differential tests and for debugging.
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from ..isa import NEGATED, NUM_OPS, OP, OP_COST, OP_POPS, OPS, SELECT
from ..traditional import ir

K_CONST, K_LOCAL = -1, -2
# ex columns
X_KIND, X_A0, X_A1, X_A2, X_COST, X_DEPTH, X_BOOL, X_MEMO, X_READS, X_STAMP = range(10)
EX_WIDTH = 10
# statement kinds and sm columns (F_* are per-kind field columns)
S_ASSIGN, S_TUPLE, S_IF, S_WHILE, S_FOR, S_BREAK, S_CONTINUE, S_RETURN = range(8)
M_KIND, M_NEXT = 0, 1
# ASSIGN: targets at pool[F0:F0+F1], value F2; TUPLE: targets pool[F0:F0+F1], values
# pool[F2:F2+F1]; IF: cond F0, then F1, else F2; WHILE: cond F0, body F1; FOR: var F0, start
# F1, stop F2, step F3, body F4, counter F5, limit F6; RETURN: value F0.
F0, F1, F2, F3, F4, F5, F6 = range(2, 9)
SM_WIDTH = 9
# meta words
(T_NEXPR, T_NSTMT, T_NPOOL, T_STATUS, T_BODY, T_STAMP, T_NNAMES) = range(7)
META_SIZE = 8
OK, ROOM = 0, 1
# Costs saturate here: a larger one marks the program as out of room (the object compiler's
# costs are exact integers, so a saturated comparison could differ).
COST_LIMIT = 1 << 40

# Opcode facts as arrays for the kernels (-1: none).
NEGATED_OF = np.full(NUM_OPS, -1, np.int64)
for _a, _b in NEGATED.items():
    NEGATED_OF[_a] = _b
_BOOL_ALL = np.zeros(NUM_OPS, np.int64)  # 0/1 when all operands are
for _n in ("or", "xor", "min", "max", "andv", "orv", "mul"):
    _BOOL_ALL[OP[_n]] = 1
_AND, _LSHR, _EQZ = OP["and"], OP["lshr"], OP["eqz"]
_CONST_COST, _GET_COST = int(OP_COST[OP["const"]]), int(OP_COST[OP["get"]])


@register_jitable
def arity(kind):
    """Operands of a node kind (0 for constants and locals)."""
    return OP_POPS[kind] if kind >= 0 else 0


@register_jitable
def _hash(kind, a0, a1, a2, mask):
    # Small multipliers on 32-bit operands: no int64 overflow, so Python (the host conversion)
    # and numba agree on every hash.
    m = np.int64(0xFFFFFFFF)
    h = ((np.int64(kind) + 3) * 40503 + (np.int64(a0) & m) * 62141) & m
    h = ((h ^ (h >> 15)) + ((np.int64(a1) + 1) & m) * 48271
         + ((np.int64(a2) + 1) & m) * 16807) & m
    h = h ^ (h >> 13)
    return h & mask


@register_jitable
def intern(ex, htab, meta, kind, a0, a1, a2):
    """The node ``(kind, a0, a1, a2)`` (unused operands -1), made if new. Out of room: sets
    ``meta[T_STATUS]`` to ``ROOM`` and returns node 0."""
    mask = htab.shape[0] - 1
    h = _hash(kind, a0, a1, a2, mask)
    while htab[h] >= 0:
        n = htab[h]
        if ex[n, X_KIND] == kind and ex[n, X_A0] == a0 and ex[n, X_A1] == a1 \
                and ex[n, X_A2] == a2:
            return n
        h = (h + 1) & mask
    n = meta[T_NEXPR]
    if n >= ex.shape[0] or 2 * (n + 1) > htab.shape[0]:
        meta[T_STATUS] = ROOM
        return 0
    meta[T_NEXPR] = n + 1
    htab[h] = n
    ex[n, X_KIND] = kind
    ex[n, X_A0] = a0
    ex[n, X_A1] = a1
    ex[n, X_A2] = a2
    ex[n, X_MEMO] = -1
    ex[n, X_STAMP] = -1
    ex[n, X_READS] = (np.int64(1) << a0) if kind == K_LOCAL else 0
    if kind < 0:
        ex[n, X_COST] = _CONST_COST if kind == K_CONST else _GET_COST
        ex[n, X_DEPTH] = 1
        ex[n, X_BOOL] = 1 if kind == K_CONST and (a0 == 0 or a0 == 1) else 0
        return n
    cost = OP_COST[kind]
    depth = 0
    k = arity(kind)
    all_bool = 1
    any_bool = 0
    reads = 0
    for i in range(k):
        child = ex[n, X_A0 + i]
        reads |= ex[child, X_READS]
        cost += ex[child, X_COST]
        depth = max(depth, i + ex[child, X_DEPTH])
        all_bool &= ex[child, X_BOOL]
        any_bool |= ex[child, X_BOOL]
    if cost > COST_LIMIT:
        meta[T_STATUS] = ROOM
        cost = COST_LIMIT
    ex[n, X_COST] = cost
    ex[n, X_DEPTH] = depth
    ex[n, X_READS] = reads
    if NEGATED_OF[kind] >= 0 or kind == _EQZ:
        is_bool = 1
    elif kind == _AND:
        is_bool = any_bool
    elif _BOOL_ALL[kind] == 1:
        is_bool = all_bool
    elif kind == SELECT:
        is_bool = ex[a0, X_BOOL] & ex[a1, X_BOOL]
    elif kind == _LSHR:
        is_bool = 1 if ex[a1, X_KIND] == K_CONST and (ex[a1, X_A0] & 31) == 31 else 0
    else:
        is_bool = 0
    ex[n, X_BOOL] = is_bool
    return n


@register_jitable
def const(ex, htab, meta, value):
    """The constant node of an int32 value."""
    return intern(ex, htab, meta, K_CONST, value, -1, -1)


@register_jitable
def push_blocks(sm, k, stack, top):
    """Push the first statements of statement k's nested blocks (an if's arms, a loop's body)
    onto ``stack`` at ``top``; returns the new top."""
    kind = sm[k, M_KIND]
    if kind == S_IF:
        stack[top] = sm[k, F1]
        stack[top + 1] = sm[k, F2]
        return top + 2
    if kind == S_WHILE or kind == S_FOR:
        stack[top] = sm[k, F1] if kind == S_WHILE else sm[k, F4]
        return top + 1
    return top


@register_jitable
def new_stmt(sm, meta, kind):
    """A fresh statement of ``kind`` (fields -1, no next); out of room: ``ROOM``, statement 0."""
    s = meta[T_NSTMT]
    if s >= sm.shape[0]:
        meta[T_STATUS] = ROOM
        return 0
    meta[T_NSTMT] = s + 1
    for q in range(SM_WIDTH):
        sm[s, q] = -1
    sm[s, M_KIND] = kind
    return s


# Host conversion ----------------------------------------------------------------------------

class IRArrays:
    """One function's IR in arrays (see the module docstring), with its name and variables."""

    def __init__(self, fn: ir.Function, expr_capacity: int = 4096, stmt_capacity: int = 1024,
                 pool_capacity: int = 1024):
        self.name, self.nparams, self.names = fn.name, fn.nparams, fn.names
        self.ex = np.zeros((expr_capacity, EX_WIDTH), np.int64)
        size = 1
        while size < 2 * expr_capacity:
            size *= 2
        self.htab = np.full(size, -1, np.int32)
        self.sm = np.zeros((stmt_capacity, SM_WIDTH), np.int32)
        self.pool = np.zeros(pool_capacity, np.int32)
        self.meta = np.zeros(META_SIZE, np.int64)
        self.meta[T_NNAMES] = len(fn.names)
        self.meta[T_BODY] = self._block(fn.body)
        if self.meta[T_STATUS] != OK:
            raise ValueError("IRArrays: capacity too small for this function")

    def arrays(self) -> tuple[np.ndarray, ...]:
        """``(ex, htab, sm, pool, meta)``, the arguments of the pass routines."""
        return self.ex, self.htab, self.sm, self.pool, self.meta

    def _expr(self, e: ir.Expr) -> int:
        if isinstance(e, ir.Const):
            return int(const(self.ex, self.htab, self.meta, e.value))
        if isinstance(e, ir.Local):
            return int(intern(self.ex, self.htab, self.meta, K_LOCAL, e.slot, -1, -1))
        args = [self._expr(a) for a in e.args] + [-1] * (3 - len(e.args))
        return int(intern(self.ex, self.htab, self.meta, e.op, *args))

    def _list(self, values: list[int]) -> int:
        start = int(self.meta[T_NPOOL])
        if start + len(values) > len(self.pool):
            raise ValueError("IRArrays: pool capacity too small for this function")
        self.pool[start:start + len(values)] = values
        self.meta[T_NPOOL] = start + len(values)
        return start

    def _block(self, stmts: tuple[ir.Stmt, ...]) -> int:
        head, prev = -1, -1
        for s in stmts:
            k = self._stmt(s)
            if prev < 0:
                head = k
            else:
                self.sm[prev, M_NEXT] = k
            prev = k
        return head

    def _stmt(self, s: ir.Stmt) -> int:
        sm, meta = self.sm, self.meta
        if isinstance(s, ir.Assign):
            k = new_stmt(sm, meta, S_ASSIGN)
            sm[k, F0], sm[k, F1] = self._list(list(s.targets)), len(s.targets)
            sm[k, F2] = self._expr(s.value)
        elif isinstance(s, ir.TupleAssign):
            k = new_stmt(sm, meta, S_TUPLE)
            sm[k, F0], sm[k, F1] = self._list(list(s.targets)), len(s.targets)
            sm[k, F2] = self._list([self._expr(v) for v in s.values])
        elif isinstance(s, ir.If):
            cond, then, orelse = self._expr(s.cond), self._block(s.then), self._block(s.orelse)
            k = new_stmt(sm, meta, S_IF)
            sm[k, F0], sm[k, F1], sm[k, F2] = cond, then, orelse
        elif isinstance(s, ir.While):
            cond, body = self._expr(s.cond), self._block(s.body)
            k = new_stmt(sm, meta, S_WHILE)
            sm[k, F0], sm[k, F1] = cond, body
        elif isinstance(s, ir.ForRange):
            start, stop, body = self._expr(s.start), self._expr(s.stop), self._block(s.body)
            k = new_stmt(sm, meta, S_FOR)
            sm[k, F0:F6 + 1] = (s.var, start, stop, s.step, body, s.counter, s.limit)
        elif isinstance(s, ir.Return):
            value = self._expr(s.value)
            k = new_stmt(sm, meta, S_RETURN)
            sm[k, F0] = value
        elif isinstance(s, ir.Break):
            k = new_stmt(sm, meta, S_BREAK)
        else:
            k = new_stmt(sm, meta, S_CONTINUE)
        return int(k)

    def function(self) -> ir.Function:
        """The IR the arrays hold now, as ``traditional.ir`` objects."""
        if self.meta[T_STATUS] != OK:
            raise ValueError("the arrays ran out of room: they hold no usable IR")
        return ir.Function(self.name, self.nparams, self.names,
                           self._to_block(int(self.meta[T_BODY])))

    def expr(self, n: int) -> ir.Expr:
        """Node ``n`` as a ``traditional.ir`` expression."""
        kind, a0 = int(self.ex[n, X_KIND]), int(self.ex[n, X_A0])
        if kind == K_CONST:
            return ir.Const(a0)
        if kind == K_LOCAL:
            return ir.Local(a0)
        return ir.Apply(kind, tuple(self.expr(int(self.ex[n, X_A0 + i]))
                                    for i in range(OPS[kind].pops)))

    def _to_block(self, k: int) -> tuple[ir.Stmt, ...]:
        out = []
        while k >= 0:
            out.append(self._to_stmt(k))
            k = int(self.sm[k, M_NEXT])
        return tuple(out)

    def _to_stmt(self, k: int) -> ir.Stmt:
        row = [int(v) for v in self.sm[k]]
        kind = row[M_KIND]
        if kind == S_ASSIGN:
            targets = tuple(int(t) for t in self.pool[row[F0]:row[F0] + row[F1]])
            return ir.Assign(targets, self.expr(row[F2]))
        if kind == S_TUPLE:
            targets = tuple(int(t) for t in self.pool[row[F0]:row[F0] + row[F1]])
            values = tuple(self.expr(int(v)) for v in self.pool[row[F2]:row[F2] + row[F1]])
            return ir.TupleAssign(targets, values)
        if kind == S_IF:
            return ir.If(self.expr(row[F0]), self._to_block(row[F1]), self._to_block(row[F2]))
        if kind == S_WHILE:
            return ir.While(self.expr(row[F0]), self._to_block(row[F1]))
        if kind == S_FOR:
            return ir.ForRange(row[F0], self.expr(row[F1]), self.expr(row[F2]), row[F3],
                               self._to_block(row[F4]), row[F5], row[F6])
        if kind == S_RETURN:
            return ir.Return(self.expr(row[F0]))
        return ir.Break() if kind == S_BREAK else ir.Continue()
