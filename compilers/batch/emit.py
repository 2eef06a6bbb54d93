"""Pass 2 of the batched compiler: the syntax tree -> bytecode, checking definite assignment.

The walk emits the -O0 code of ``traditional.codegen`` node by node into ``stream.emit`` (which
applies the -O1 passes on the fly), in codegen's shapes: operands in post-order, ``select`` as
``then, else, condition``, ``and``/``or`` and ``min``/``max`` folded left, a comparison chain
``a < b < c`` as ``a b lt b c lt and`` (the middle operand walked twice), the loops' fixed
blocks, the for-loop temps in slots ``31 - 2d`` and ``30 - 2d`` at for-nesting depth ``d``.

Definite assignment follows the front end's rule with 32-bit masks: a statement that never falls
through leaves every variable assigned (``varmask``), an ``if`` leaves the meet (AND) of its
arms, a loop leaves what held before it, and a ``for`` body also has its loop variable.

Explicit stacks, all int32 caller scratch: ``xs`` (2 per open expression node: node * 8 +
state, cursor), ``ss`` (3 per open compound statement: node * 4 + phase, then the assigned
masks before it and after its then-arm) and ``ls`` (2 per open loop: the -O0 block levels that
``break`` and ``continue`` leave).
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from ..isa import BLOCK, BR, BR_IF, CONST, ELSE, END, GET, IF, LOOP, MAX_LOCALS, OP, RETURN, \
    SELECT, SET, TEE
from ..vm.core import alu1
from .parse import (N_ASSIGN, N_AUG, N_BIN, N_BOOL, N_BREAK, N_CALL, N_CMP, N_CONST,
                    N_CONTINUE, N_IF, N_NAME, N_RETURN, N_TUPLE, N_UNARY, N_WHILE, NO_OP, TRUTH)
from .status import E_DEEP, E_UNASSIGNED, E_UNDEFINED, OK
from .stream import S_STATUS, emit, fail

AND, ADD, SUB, EQZ, LT, GT, UGT, NEG = (OP[n] for n in ("and", "add", "sub", "eqz", "lt", "gt",
                                                        "ugt", "neg"))
STMT_WIDTH, LOOP_WIDTH = 3, 2


@register_jitable
def _to_i32(mask):
    """A 32-bit mask as the int32 with the same bits (scratch is int32)."""
    return mask - (np.int64(1) << 32) if mask >> 31 else mask


@register_jitable
def _read(st, code, pend, inl, node, slot, assigned, varmask):
    bit = np.int64(1) << slot
    if varmask & bit == 0:
        fail(st, E_UNDEFINED, node)
    elif assigned & bit == 0:
        fail(st, E_UNASSIGNED, node)
    emit(st, code, pend, inl, GET, slot, node)


@register_jitable
def _apply(st, code, pend, inl, op, node):
    """The code of operator ``op`` of ``node``, its operands emitted: none for ``NO_OP``
    (unary plus, ``int``), ``eqz; eqz`` for ``TRUTH`` (``bool``)."""
    if op == TRUTH:
        emit(st, code, pend, inl, EQZ, 0, node)
        emit(st, code, pend, inl, EQZ, 0, node)
    elif op != NO_OP:
        emit(st, code, pend, inl, op, 0, node)


@register_jitable
def emit_expr(root, assigned, varmask, nkind, narg, nchild, nsib, st, code, pend, inl, xs):
    """Emit the code of expression ``root``, checking its reads against ``assigned``."""
    cap = len(xs) // 2
    sp = 0
    go = root  # the node to walk next, or -1 to resume the innermost open node
    while True:
        if go >= 0:
            k = nkind[go] & 255
            if k == N_CONST:
                emit(st, code, pend, inl, CONST, narg[go], go)
            elif k == N_NAME:
                _read(st, code, pend, inl, go, narg[go], assigned, varmask)
            else:  # open it and walk its first child
                if sp == cap:
                    fail(st, E_DEEP, go)
                    return
                xs[2 * sp] = go * 8 + 1
                xs[2 * sp + 1] = nchild[go]
                sp += 1
                go = nchild[go]
                continue
            go = -1
            continue
        if sp == 0:
            return
        top = 2 * (sp - 1)
        node = xs[top] >> 3
        state = xs[top] & 7
        cur = xs[top + 1]  # the child walked last
        k = nkind[node] & 255
        op = narg[node]
        if k == N_UNARY:
            _apply(st, code, pend, inl, op, node)
            sp -= 1
        elif k == N_BIN:
            if state == 1:
                xs[top] += 1
                go = nsib[cur]
            else:
                emit(st, code, pend, inl, op, 0, node)
                sp -= 1
        elif k == N_BOOL or k == N_CALL:  # folded left; abs, int, bool have one argument
            nxt = nsib[cur]
            if state == 2 or nxt < 0:
                _apply(st, code, pend, inl, op, node)
            if nxt < 0:
                sp -= 1
            else:
                xs[top] = node * 8 + 2
                xs[top + 1] = nxt
                go = nxt
        elif k == N_CMP:
            # states: 1 after the first operand; 2 (first link) or 4 after a link's right
            # operand; 3 after walking that operand again as the next link's left one
            if state == 2 or state == 4:
                emit(st, code, pend, inl, nkind[cur] >> 8, 0, node)
                if state == 4:
                    emit(st, code, pend, inl, AND, 0, node)
                if nsib[cur] < 0:
                    sp -= 1
                else:
                    xs[top] = node * 8 + 3
                    go = cur
            else:
                xs[top] = node * 8 + (2 if state == 1 else 4)
                xs[top + 1] = nsib[cur]
                go = nsib[cur]
        else:  # N_IFEXP, children then, condition, else: emitted then, else, condition
            if state == 1:
                xs[top] += 1
                go = nsib[nsib[cur]]
            elif state == 2:
                xs[top] += 1
                go = nsib[cur]
            else:
                emit(st, code, pend, inl, SELECT, 0, node)
                sp -= 1


@register_jitable
def _for_exit(st, code, pend, inl, node, step, counter, limit):
    """The end of a for loop's inner block, its exit test, its step and its closing blocks."""
    up = step > 0
    emit(st, code, pend, inl, END, 0, node)
    emit(st, code, pend, inl, GET, limit if up else counter, node)
    emit(st, code, pend, inl, GET, counter if up else limit, node)
    emit(st, code, pend, inl, SUB, 0, node)
    emit(st, code, pend, inl, CONST, step if up else alu1(NEG, step), node)
    emit(st, code, pend, inl, UGT, 0, node)
    emit(st, code, pend, inl, EQZ, 0, node)
    emit(st, code, pend, inl, BR_IF, 1, node)
    emit(st, code, pend, inl, GET, counter, node)
    emit(st, code, pend, inl, CONST, step, node)
    emit(st, code, pend, inl, ADD, 0, node)
    emit(st, code, pend, inl, SET, counter, node)
    emit(st, code, pend, inl, BR, 0, node)
    emit(st, code, pend, inl, END, 0, node)
    emit(st, code, pend, inl, END, 0, node)


@register_jitable
def _assignment(s, assigned, varmask, nkind, narg, nchild, nsib, st, code, pend, inl, xs):
    """The code of an assignment, a tuple assignment or an augmented assignment ``s``;
    returns the variables assigned after it."""
    k = nkind[s] & 255
    if k == N_ASSIGN:
        emit_expr(narg[s], assigned, varmask, nkind, narg, nchild, nsib, st, code, pend, inl, xs)
        t = nchild[s]
        while nsib[t] >= 0:
            emit(st, code, pend, inl, TEE, narg[t], t)
            assigned |= np.int64(1) << narg[t]
            t = nsib[t]
        emit(st, code, pend, inl, SET, narg[t], t)
        return assigned | (np.int64(1) << narg[t])
    if k == N_TUPLE:
        v = narg[s]
        while v >= 0:
            emit_expr(v, assigned, varmask, nkind, narg, nchild, nsib, st, code, pend, inl, xs)
            v = nsib[v]
        count = 0
        t = nchild[s]
        while t >= 0:
            count += 1
            t = nsib[t]
        for q in range(count - 1, -1, -1):  # the targets last to first
            t = nchild[s]
            for _ in range(q):
                t = nsib[t]
            emit(st, code, pend, inl, SET, narg[t], t)
            assigned |= np.int64(1) << narg[t]
        return assigned
    t = nchild[s]  # N_AUG
    _read(st, code, pend, inl, t, narg[t], assigned, varmask)
    emit_expr(nsib[t], assigned, varmask, nkind, narg, nchild, nsib, st, code, pend, inl, xs)
    emit(st, code, pend, inl, narg[s], 0, s)
    emit(st, code, pend, inl, SET, narg[t], t)
    return assigned


@register_jitable
def _jump(s, assigned, varmask, nest, lp, nkind, narg, nchild, nsib, st, code, pend, inl, xs,
          ls):
    """The code of ``break``, ``continue`` or ``return`` ``s``."""
    k = nkind[s] & 255
    if k == N_RETURN:
        if nchild[s] < 0:
            emit(st, code, pend, inl, CONST, 0, s)
        else:
            emit_expr(nchild[s], assigned, varmask, nkind, narg, nchild, nsib, st, code, pend,
                      inl, xs)
        emit(st, code, pend, inl, RETURN, 0, s)
    else:
        target = ls[LOOP_WIDTH * (lp - 1) + (0 if k == N_BREAK else 1)]
        emit(st, code, pend, inl, BR, nest - 1 - target, s)


@register_jitable
def _for_entry(s, fors, assigned, varmask, nkind, narg, nchild, nsib, st, code, pend, inl, xs):
    """The code of for loop ``s`` up to its body: the counter and limit set, the entry test,
    the loop's blocks and the loop variable set."""
    target = nchild[s]
    first = nsib[target]
    step = narg[s + 3]  # at the RANGE token, with the argument count
    counter = MAX_LOCALS - 1 - 2 * fors
    limit = counter - 1
    if nchild[s + 3] == 1:
        emit(st, code, pend, inl, CONST, 0, s)
    else:
        emit_expr(first, assigned, varmask, nkind, narg, nchild, nsib, st, code, pend, inl, xs)
        first = nsib[first]
    emit(st, code, pend, inl, SET, counter, s)
    emit_expr(first, assigned, varmask, nkind, narg, nchild, nsib, st, code, pend, inl, xs)
    emit(st, code, pend, inl, SET, limit, s)
    emit(st, code, pend, inl, BLOCK, 0, s)
    emit(st, code, pend, inl, GET, counter, s)
    emit(st, code, pend, inl, GET, limit, s)
    emit(st, code, pend, inl, LT if step > 0 else GT, 0, s)
    emit(st, code, pend, inl, EQZ, 0, s)
    emit(st, code, pend, inl, BR_IF, 0, s)
    emit(st, code, pend, inl, LOOP, 0, s)
    emit(st, code, pend, inl, BLOCK, 0, s)
    emit(st, code, pend, inl, GET, counter, s)
    emit(st, code, pend, inl, SET, narg[target], s)


@register_jitable
def _open(s, sp, lp, fors, nest, assigned, varmask, nkind, narg, nchild, nsib, st, code, pend,
          inl, xs, ss, ls):
    """Open compound statement ``s`` (``if``, ``while``, ``for``) and emit its code up to its
    first block. Returns ``(sp, lp, fors, nest, assigned, cur)``, cur the block's first
    statement; sp -1 when its stacks are full."""
    if sp == len(ss) // STMT_WIDTH or lp == len(ls) // LOOP_WIDTH:
        fail(st, E_DEEP, s)
        return -1, lp, fors, nest, assigned, -1
    base = STMT_WIDTH * sp
    ss[base] = s * 4
    ss[base + 1] = _to_i32(assigned)
    sp += 1
    k = nkind[s] & 255
    if k == N_IF:
        emit_expr(nchild[s], assigned, varmask, nkind, narg, nchild, nsib, st, code, pend, inl,
                  xs)
        emit(st, code, pend, inl, IF, 0, s)
        return sp, lp, fors, nest + 1, assigned, nsib[nchild[s]]
    if k == N_WHILE:
        emit(st, code, pend, inl, BLOCK, 0, s)
        emit(st, code, pend, inl, LOOP, 0, s)
        nest += 2
        ls[LOOP_WIDTH * lp] = nest - 2
        ls[LOOP_WIDTH * lp + 1] = nest - 1
        emit_expr(nchild[s], assigned, varmask, nkind, narg, nchild, nsib, st, code, pend, inl,
                  xs)
        emit(st, code, pend, inl, EQZ, 0, s)
        emit(st, code, pend, inl, BR_IF, 1, s)
        return sp, lp + 1, fors, nest, assigned, nsib[nchild[s]]
    _for_entry(s, fors, assigned, varmask, nkind, narg, nchild, nsib, st, code, pend, inl, xs)
    nest += 3
    ls[LOOP_WIDTH * lp] = nest - 3
    ls[LOOP_WIDTH * lp + 1] = nest - 1
    assigned |= np.int64(1) << narg[nchild[s]]
    return sp, lp + 1, fors + 1, nest, assigned, narg[s]


@register_jitable
def _close(sp, lp, fors, nest, assigned, nkind, narg, nsib, st, code, pend, inl, ss):
    """The end of a block: close its statement, or move an ``if`` on to its else-arm.
    Returns ``(sp, lp, fors, nest, assigned, cur)`` as ``_open``."""
    sp -= 1
    base = STMT_WIDTH * sp
    node = ss[base] >> 2
    before = np.int64(ss[base + 1]) & 0xFFFFFFFF
    k = nkind[node] & 255
    if k == N_IF:
        if ss[base] & 3 == 0 and narg[node] >= 0:
            emit(st, code, pend, inl, ELSE, 0, node)
            ss[base] += 1
            ss[base + 2] = _to_i32(assigned)
            return sp + 1, lp, fors, nest, before, narg[node]
        emit(st, code, pend, inl, END, 0, node)
        nest -= 1
        if ss[base] & 3 == 0:
            assigned &= before  # no else-arm: it assigns nothing
        else:
            assigned &= np.int64(ss[base + 2]) & 0xFFFFFFFF
        return sp, lp, fors, nest, assigned, nsib[node]
    if k == N_WHILE:
        emit(st, code, pend, inl, BR, 0, node)
        emit(st, code, pend, inl, END, 0, node)
        emit(st, code, pend, inl, END, 0, node)
        return sp, lp - 1, fors, nest - 2, before, nsib[node]
    fors -= 1
    counter = MAX_LOCALS - 1 - 2 * fors
    _for_exit(st, code, pend, inl, node, narg[node + 3], counter, counter - 1)
    return sp, lp - 1, fors, nest - 3, before, nsib[node]


@register_jitable
def emit_function(root, nparams, varmask, nkind, narg, nchild, nsib, st, code, pend, inl, xs,
                  ss, ls):
    """Emit the statements from ``root`` on (the function body); errors go to ``st``."""
    assigned = (np.int64(1) << nparams) - 1
    sp = 0    # open compound statements
    lp = 0    # open loops
    fors = 0  # open for loops
    nest = 0  # open -O0 blocks
    cur = root
    while st[S_STATUS] == OK:
        if cur < 0:  # the end of a block
            if sp == 0:
                return
            sp, lp, fors, nest, assigned, cur = _close(sp, lp, fors, nest, assigned, nkind, narg,
                                                       nsib, st, code, pend, inl, ss)
            continue
        s = cur
        cur = nsib[s]
        k = nkind[s] & 255
        if k == N_ASSIGN or k == N_TUPLE or k == N_AUG:
            assigned = _assignment(s, assigned, varmask, nkind, narg, nchild, nsib, st, code,
                                   pend, inl, xs)
        elif k == N_BREAK or k == N_CONTINUE or k == N_RETURN:
            _jump(s, assigned, varmask, nest, lp, nkind, narg, nchild, nsib, st, code, pend, inl,
                  xs, ls)
            assigned = varmask
        else:
            sp, lp, fors, nest, assigned, cur = _open(s, sp, lp, fors, nest, assigned, varmask,
                                                      nkind, narg, nchild, nsib, st, code, pend,
                                                      inl, xs, ss, ls)
            if sp < 0:
                return
