"""-O2 in the batched compiler, first and last steps: the syntax tree of ``parse`` -> array IR
(``traditional.lower``), and array IR -> code through ``stream`` (``traditional.codegen``,
with the -O1 passes and the validator applied as the stream does).

Lowering checks definite assignment as ``emit`` does (the same masks, the reads in the same
order, so the same first error); the IR then needs no source positions, and errors found in
the code (``E_STACK``, ``E_NEST``, ``E_TOO_LONG``) are reported at token 0.
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from ..isa import (BLOCK, BR, BR_IF, CONST, ELSE, END, GET, IF, LOOP, MAX_LOCALS, OP, RETURN,
                   SELECT, SET, TEE)
from ..vm.core import alu1
from .ir_arrays import (F0, F1, F2, F3, F4, F5, F6, K_CONST, K_LOCAL, M_KIND, M_NEXT, ROOM,
                        S_ASSIGN, S_BREAK, S_CONTINUE, S_FOR, S_IF, S_RETURN, S_TUPLE, S_WHILE,
                        T_BODY, T_NPOOL, T_STATUS, X_A0, X_KIND, arity, const, intern, new_stmt)
from .parse import (N_ASSIGN, N_AUG, N_BIN, N_BREAK, N_CMP, N_CONST, N_CONTINUE, N_IF,
                    N_IFEXP, N_NAME, N_RETURN, N_TUPLE, N_UNARY, N_WHILE, NO_OP, TRUTH)
from .status import E_UNASSIGNED, E_UNDEFINED, OK
from .stream import S_STATUS, emit

AND, EQZ, LT, GT, SUB, ADD, UGT, NEG = (OP[n] for n in ("and", "eqz", "lt", "gt", "sub", "add",
                                                        "ugt", "neg"))


@register_jitable
def _read_status(slot, assigned, varmask):
    bit = np.int64(1) << slot
    if varmask & bit == 0:
        return E_UNDEFINED
    if assigned & bit == 0:
        return E_UNASSIGNED
    return OK


@register_jitable
def lower_expr(root, assigned, varmask, nkind, narg, nchild, nsib, ex, htab, meta, xs, vs, err):
    """The IR node of expression ``root``; a read of a variable that may be unassigned sets
    ``err[0]`` (status) and ``err[1]`` (node) unless set. ``xs``/``vs`` are stacks (two words
    and one per open node)."""
    sp = 0
    vp = 0
    go = root
    while True:
        if go >= 0:
            k = nkind[go] & 255
            if k == N_CONST:
                vs[vp] = const(ex, htab, meta, narg[go])
                vp += 1
            elif k == N_NAME:
                status = _read_status(narg[go], assigned, varmask)
                if status != OK and err[0] == OK:
                    err[0] = status
                    err[1] = go
                vs[vp] = intern(ex, htab, meta, K_LOCAL, narg[go], -1, -1)
                vp += 1
            else:
                xs[2 * sp] = go
                xs[2 * sp + 1] = 0  # children done
                sp += 1
                first = nchild[go]
                go = first
                continue
            go = -1
            continue
        if sp == 0:
            return vs[0]
        top = 2 * (sp - 1)
        node = xs[top]
        done = xs[top + 1] + 1
        xs[top + 1] = done
        k = nkind[node] & 255
        # the next child to walk, in the order emit walks them (then, else, test for x if c
        # else y), or -1 when all are done
        child = nchild[node]
        nxt = -1
        if k == N_IFEXP:
            if done == 1:
                nxt = nsib[nsib[child]]
            elif done == 2:
                nxt = nsib[child]
        else:
            c = child
            for _ in range(done):
                c = nsib[c]
            nxt = c
        if nxt >= 0:
            go = nxt
            continue
        sp -= 1
        op = narg[node]
        base = vp - done
        if k == N_UNARY:
            if op != NO_OP:
                vs[base] = intern(ex, htab, meta, op, vs[base], -1, -1)
        elif k == N_BIN:
            vs[base] = intern(ex, htab, meta, op, vs[base], vs[base + 1], -1)
        elif k == N_IFEXP:
            vs[base] = intern(ex, htab, meta, SELECT, vs[base], vs[base + 1], vs[base + 2])
        elif k == N_CMP:
            c = nsib[child]
            acc = intern(ex, htab, meta, nkind[c] >> 8, vs[base], vs[base + 1], -1)
            for i in range(2, done):
                c = nsib[c]
                link = intern(ex, htab, meta, nkind[c] >> 8, vs[base + i - 1], vs[base + i], -1)
                acc = intern(ex, htab, meta, AND, acc, link, -1)
            vs[base] = acc
        elif op == TRUTH:
            e = intern(ex, htab, meta, EQZ, vs[base], -1, -1)
            vs[base] = intern(ex, htab, meta, EQZ, e, -1, -1)
        elif op != NO_OP:  # N_BOOL, N_CALL: one argument, or folded left
            if done == 1:
                vs[base] = intern(ex, htab, meta, op, vs[base], -1, -1)
            else:
                acc = vs[base]
                for i in range(1, done):
                    acc = intern(ex, htab, meta, op, acc, vs[base + i], -1)
                vs[base] = acc
        vp = base + 1
        go = -1


@register_jitable
def _pool_push(pool, meta, value):
    at = meta[T_NPOOL]
    if at >= pool.shape[0]:
        meta[T_STATUS] = ROOM
        return 0
    pool[at] = value
    meta[T_NPOOL] = at + 1
    return at


@register_jitable
def lower_function(root, nparams, varmask, nkind, narg, nchild, nsib, ex, htab, sm, pool, meta,
                   work, err):
    """Lower the function body from ``root`` into the (empty) IR arrays, checking definite
    assignment as ``emit.emit_function`` does: the first error goes to ``err`` (status, node).
    ``work`` is int64 scratch: ``lower_size(width)`` words for a tree of ``width`` nodes."""
    width = nkind.shape[0]
    xs = work[:2 * width + 2]
    vs = work[2 * width + 2:3 * width + 3]
    # per open compound statement: parse node, IR statement, phase, assigned before, after
    # the then-arm, the enclosing block's last statement
    ss = work[3 * width + 3:9 * width + 9]
    err[0] = OK
    err[1] = 0
    assigned = (np.int64(1) << nparams) - 1
    sp = 0
    fors = 0
    tail = -1       # the current block's last IR statement
    owner = -1      # the statement whose field gets the block's head (-1: the body)
    field = 0
    cur = root
    meta[T_BODY] = -1
    while meta[T_STATUS] == 0 and err[0] == OK:
        if cur < 0:  # the end of a block
            if sp == 0:
                return
            sp -= 1
            b = 6 * sp
            s, k, phase, before = ss[b], ss[b + 1], ss[b + 2], ss[b + 3]
            kind = nkind[s] & 255
            if kind == N_IF and phase == 0 and narg[s] >= 0:
                ss[b + 2] = 1
                ss[b + 4] = assigned
                sp += 1
                assigned = before
                tail, owner, field = -1, k, F2
                cur = narg[s]
                continue
            if kind == N_IF:
                assigned &= before if phase == 0 else ss[b + 4]
            else:
                assigned = before
                if kind != N_WHILE:
                    fors -= 1
            tail, owner, field = k, -2, 0
            cur = nsib[s]
            continue
        s = cur
        cur = nsib[s]
        kind = nkind[s] & 255
        k = -1
        if kind == N_ASSIGN:
            value = lower_expr(narg[s], assigned, varmask, nkind, narg, nchild, nsib, ex, htab,
                               meta, xs, vs, err)
            k = new_stmt(sm, meta, S_ASSIGN)
            sm[k, F0] = meta[T_NPOOL]
            n = 0
            t = nchild[s]
            while t >= 0:
                _pool_push(pool, meta, narg[t])
                assigned |= np.int64(1) << narg[t]
                n += 1
                t = nsib[t]
            sm[k, F1] = n
            sm[k, F2] = value
        elif kind == N_TUPLE:
            n = 0
            v = narg[s]
            while v >= 0:
                n += 1
                v = nsib[v]
            k = new_stmt(sm, meta, S_TUPLE)
            sm[k, F1] = n
            at = meta[T_NPOOL]
            for _ in range(2 * n):
                _pool_push(pool, meta, -1)
            sm[k, F0] = at
            sm[k, F2] = at + n
            v = narg[s]
            for i in range(n):
                if meta[T_STATUS] == 0:
                    pool[at + n + i] = lower_expr(v, assigned, varmask, nkind, narg, nchild,
                                                  nsib, ex, htab, meta, xs, vs, err)
                v = nsib[v]
            t = nchild[s]
            for i in range(n):
                if meta[T_STATUS] == 0:
                    pool[at + i] = narg[t]
                assigned |= np.int64(1) << narg[t]
                t = nsib[t]
        elif kind == N_AUG:
            t = nchild[s]
            status = _read_status(narg[t], assigned, varmask)
            if status != OK and err[0] == OK:
                err[0] = status
                err[1] = t
            target = intern(ex, htab, meta, K_LOCAL, narg[t], -1, -1)
            value = lower_expr(nsib[t], assigned, varmask, nkind, narg, nchild, nsib, ex, htab,
                               meta, xs, vs, err)
            k = new_stmt(sm, meta, S_ASSIGN)
            sm[k, F0] = _pool_push(pool, meta, narg[t])
            sm[k, F1] = 1
            sm[k, F2] = intern(ex, htab, meta, narg[s], target, value, -1)
        elif kind == N_RETURN or kind == N_BREAK or kind == N_CONTINUE:
            if kind == N_RETURN:
                if nchild[s] < 0:
                    value = const(ex, htab, meta, 0)
                else:
                    value = lower_expr(nchild[s], assigned, varmask, nkind, narg, nchild, nsib,
                                       ex, htab, meta, xs, vs, err)
                k = new_stmt(sm, meta, S_RETURN)
                sm[k, F0] = value
            else:
                k = new_stmt(sm, meta, S_BREAK if kind == N_BREAK else S_CONTINUE)
            assigned = varmask
        else:  # if, while, for: the statement, then its first block
            before = assigned
            if kind == N_IF or kind == N_WHILE:
                cond = lower_expr(nchild[s], assigned, varmask, nkind, narg, nchild, nsib, ex,
                                  htab, meta, xs, vs, err)
                k = new_stmt(sm, meta, S_IF if kind == N_IF else S_WHILE)
                sm[k, F0] = cond
                sm[k, F1] = -1
                sm[k, F2] = -1
                body_field = F1
                first = nsib[nchild[s]]
            else:
                target = nchild[s]
                arg = nsib[target]
                if nchild[s + 3] == 1:
                    start = const(ex, htab, meta, 0)
                else:
                    start = lower_expr(arg, assigned, varmask, nkind, narg, nchild, nsib, ex,
                                       htab, meta, xs, vs, err)
                    arg = nsib[arg]
                stop = lower_expr(arg, assigned, varmask, nkind, narg, nchild, nsib, ex, htab,
                                  meta, xs, vs, err)
                k = new_stmt(sm, meta, S_FOR)
                counter = MAX_LOCALS - 1 - 2 * fors
                sm[k, F0], sm[k, F1], sm[k, F2], sm[k, F3] = narg[target], start, stop, narg[s + 3]
                sm[k, F4], sm[k, F5], sm[k, F6] = -1, counter, counter - 1
                fors += 1
                assigned |= np.int64(1) << narg[target]
                body_field = F4
                first = narg[s]
            if meta[T_STATUS] != 0:
                return
            _link(sm, meta, tail, owner, field, k)
            b = 6 * sp
            ss[b], ss[b + 1], ss[b + 2], ss[b + 3] = s, k, 0, before
            sp += 1
            tail, owner, field = -1, k, body_field
            cur = first
            continue
        if meta[T_STATUS] != 0:
            return
        _link(sm, meta, tail, owner, field, k)
        tail, owner = k, -2


@register_jitable
def _link(sm, meta, tail, owner, field, k):
    """Append statement k to the current block: after ``tail``, or as the head of the block
    of ``owner`` (``field``; -1: the function body)."""
    if tail >= 0:
        sm[tail, M_NEXT] = k
    elif owner == -1:
        meta[T_BODY] = k
    else:
        sm[owner, field] = k


@register_jitable
def lower_size(width):
    """int64 words of ``lower_function``'s scratch for a tree of ``width`` nodes."""
    return 9 * width + 9


# Codegen ----------------------------------------------------------------------------------

ROLE_NONE, ROLE_BREAK, ROLE_CONTINUE = 0, 1, 2


@register_jitable
def _emit_expr(ex, root, st, code, pend, inl, stack):
    """An expression's code in post-order (every occurrence of a shared node again)."""
    stack[0] = root
    stack[1] = 0
    top = 1
    while top > 0 and st[S_STATUS] == OK:
        n = stack[2 * top - 2]
        state = stack[2 * top - 1]
        kind = ex[n, X_KIND]
        if kind >= 0 and state < arity(kind):
            stack[2 * top - 1] = state + 1
            stack[2 * top] = ex[n, X_A0 + state]
            stack[2 * top + 1] = 0
            top += 1
            continue
        top -= 1
        if kind == K_CONST:
            emit(st, code, pend, inl, CONST, ex[n, X_A0], 0)
        elif kind == K_LOCAL:
            emit(st, code, pend, inl, GET, ex[n, X_A0], 0)
        else:
            emit(st, code, pend, inl, kind, 0, 0)


@register_jitable
def _depth_of(roles, nroles, role):
    for d in range(nroles):
        if roles[nroles - 1 - d] == role:
            return d
    return 0  # unreachable: break and continue sit in loops


@register_jitable
def emit_ir(ex, sm, pool, meta, st, code, pend, inl, work):
    """Emit the IR's code into the stream (``traditional.codegen``'s shapes); ``work`` is
    int64 scratch of ``emit_size`` words."""
    cap = sm.shape[0]
    frames = work[:2 * cap + 2]     # per open statement: IR statement, phase
    roles = work[2 * cap + 2:5 * cap + 5]
    stack = work[5 * cap + 5:]
    nf = 0
    nroles = 0
    s = meta[T_BODY]
    while st[S_STATUS] == OK:
        if s < 0:
            if nf == 0:
                return
            nf -= 1
            p, phase = frames[2 * nf], frames[2 * nf + 1]
            kind = sm[p, M_KIND]
            if kind == S_IF:
                if phase == 0 and sm[p, F2] >= 0:
                    emit(st, code, pend, inl, ELSE, 0, 0)
                    frames[2 * nf + 1] = 1
                    nf += 1
                    s = sm[p, F2]
                    continue
                emit(st, code, pend, inl, END, 0, 0)
                nroles -= 1
            elif kind == S_WHILE:
                emit(st, code, pend, inl, BR, 0, 0)
                emit(st, code, pend, inl, END, 0, 0)
                emit(st, code, pend, inl, END, 0, 0)
                nroles -= 2
            else:
                step, c, lim = sm[p, F3], sm[p, F5], sm[p, F6]
                up = step > 0
                emit(st, code, pend, inl, END, 0, 0)
                emit(st, code, pend, inl, GET, lim if up else c, 0)
                emit(st, code, pend, inl, GET, c if up else lim, 0)
                emit(st, code, pend, inl, SUB, 0, 0)
                emit(st, code, pend, inl, CONST, step if up else alu1(NEG, step), 0)
                emit(st, code, pend, inl, UGT, 0, 0)
                emit(st, code, pend, inl, EQZ, 0, 0)
                emit(st, code, pend, inl, BR_IF, 1, 0)
                emit(st, code, pend, inl, GET, c, 0)
                emit(st, code, pend, inl, CONST, step, 0)
                emit(st, code, pend, inl, ADD, 0, 0)
                emit(st, code, pend, inl, SET, c, 0)
                emit(st, code, pend, inl, BR, 0, 0)
                emit(st, code, pend, inl, END, 0, 0)
                emit(st, code, pend, inl, END, 0, 0)
                nroles -= 3
            s = sm[p, M_NEXT]
            continue
        kind = sm[s, M_KIND]
        if kind == S_ASSIGN:
            _emit_expr(ex, sm[s, F2], st, code, pend, inl, stack)
            n = sm[s, F1]
            for i in range(n - 1):
                emit(st, code, pend, inl, TEE, pool[sm[s, F0] + i], 0)
            emit(st, code, pend, inl, SET, pool[sm[s, F0] + n - 1], 0)
        elif kind == S_TUPLE:
            n = sm[s, F1]
            for i in range(n):
                _emit_expr(ex, pool[sm[s, F2] + i], st, code, pend, inl, stack)
            for i in range(n - 1, -1, -1):
                emit(st, code, pend, inl, SET, pool[sm[s, F0] + i], 0)
        elif kind == S_RETURN:
            _emit_expr(ex, sm[s, F0], st, code, pend, inl, stack)
            emit(st, code, pend, inl, RETURN, 0, 0)
        elif kind == S_BREAK or kind == S_CONTINUE:
            role = ROLE_BREAK if kind == S_BREAK else ROLE_CONTINUE
            emit(st, code, pend, inl, BR, _depth_of(roles, nroles, role), 0)
        else:
            if nroles + 3 > roles.shape[0] or nf >= cap + 1:
                meta[T_STATUS] = ROOM
                return
            frames[2 * nf] = s
            frames[2 * nf + 1] = 0
            nf += 1
            if kind == S_IF:
                _emit_expr(ex, sm[s, F0], st, code, pend, inl, stack)
                emit(st, code, pend, inl, IF, 0, 0)
                roles[nroles] = ROLE_NONE
                nroles += 1
                s = sm[s, F1]
            elif kind == S_WHILE:
                emit(st, code, pend, inl, BLOCK, 0, 0)
                emit(st, code, pend, inl, LOOP, 0, 0)
                roles[nroles] = ROLE_BREAK
                roles[nroles + 1] = ROLE_CONTINUE
                nroles += 2
                _emit_expr(ex, sm[s, F0], st, code, pend, inl, stack)
                emit(st, code, pend, inl, EQZ, 0, 0)
                emit(st, code, pend, inl, BR_IF, 1, 0)
                s = sm[s, F1]
            else:
                c, lim, up = sm[s, F5], sm[s, F6], sm[s, F3] > 0
                _emit_expr(ex, sm[s, F1], st, code, pend, inl, stack)
                emit(st, code, pend, inl, SET, c, 0)
                _emit_expr(ex, sm[s, F2], st, code, pend, inl, stack)
                emit(st, code, pend, inl, SET, lim, 0)
                emit(st, code, pend, inl, BLOCK, 0, 0)
                emit(st, code, pend, inl, GET, c, 0)
                emit(st, code, pend, inl, GET, lim, 0)
                emit(st, code, pend, inl, LT if up else GT, 0, 0)
                emit(st, code, pend, inl, EQZ, 0, 0)
                emit(st, code, pend, inl, BR_IF, 0, 0)
                emit(st, code, pend, inl, LOOP, 0, 0)
                emit(st, code, pend, inl, BLOCK, 0, 0)
                emit(st, code, pend, inl, GET, c, 0)
                emit(st, code, pend, inl, SET, sm[s, F0], 0)
                roles[nroles] = ROLE_BREAK
                roles[nroles + 1] = ROLE_NONE
                roles[nroles + 2] = ROLE_CONTINUE
                nroles += 3
                s = sm[s, F4]
            continue
        s = sm[s, M_NEXT]


@register_jitable
def emit_size(stmt_capacity, expr_capacity):
    """int64 words of ``emit_ir``'s scratch."""
    return 5 * stmt_capacity + 5 + 2 * expr_capacity + 4
