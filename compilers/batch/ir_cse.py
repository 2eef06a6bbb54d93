"""Common-subexpression elimination of -O2 on the array IR (twin of ``traditional.ir_cse``).

Blocks are handled innermost first, each statement's nested blocks in order and then the block
itself in rounds, as the object pass does (its temps are taken in that order). A round numbers
the block's expressions (value numbers are node numbers, since equal trees are one node),
collects the runs of each operation in the order the object pass does (closed by terminators
and by assignments to what they read, in the order they opened), picks the disjoint ones that
pay, best first with ties kept in run order, and applies them from the back.
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from ..isa import MAX_LOCALS, OP, OP_COST
from .ir_arrays import (F0, F1, F2, F4, F6, K_LOCAL, M_KIND, M_NEXT, ROOM, S_ASSIGN, S_BREAK,
                        S_CONTINUE, S_FOR, S_IF, S_RETURN, S_TUPLE, S_WHILE, T_BODY, T_NNAMES,
                        T_NPOOL, T_STATUS, X_A0, X_COST, X_KIND, X_READS, arity, intern,
                        new_stmt, push_blocks)
from .ir_dataflow import assigned_mask
from .ir_rewrite import replace_node

MAX_ROUNDS = 64  # ir_cse.MAX_ROUNDS
_GET = OP_COST[OP["get"]]
_SET = OP_COST[OP["set"]]
RUN = 4  # run record: node, first, last, count


@register_jitable
def _heads_reads(ex, sm, pool, s):
    """Slots the statement's entry expressions read (``ir_tools.heads``, and a while's
    condition, as ``free_temp_slots`` counts them)."""
    kind = sm[s, M_KIND]
    if kind == S_ASSIGN or kind == S_RETURN or kind == S_IF or kind == S_WHILE:
        return ex[sm[s, F2 if kind == S_ASSIGN else F0], X_READS]
    if kind == S_TUPLE:
        out = 0
        for i in range(sm[s, F1]):
            out |= ex[pool[sm[s, F2] + i], X_READS]
        return out
    if kind == S_FOR:
        return ex[sm[s, F1], X_READS] | ex[sm[s, F2], X_READS]
    return 0


@register_jitable
def _free_temps(ex, sm, pool, meta, stack, temps):
    """``ir_tools.free_temp_slots`` into ``temps``; returns how many."""
    floor = MAX_LOCALS
    used = 0
    # every statement: a walk over the whole tree
    top = 0
    k = meta[T_BODY]
    while True:
        while k >= 0:
            kind = sm[k, M_KIND]
            used |= _heads_reads(ex, sm, pool, k)
            if kind == S_ASSIGN or kind == S_TUPLE:
                for i in range(sm[k, F1]):
                    used |= np.int64(1) << pool[sm[k, F0] + i]
            elif kind == S_FOR:
                floor = min(floor, sm[k, F6])
                used |= np.int64(1) << sm[k, F0]
            top = push_blocks(sm, k, stack, top)
            k = sm[k, M_NEXT]
        if top == 0:
            break
        top -= 1
        k = stack[top]
    n = 0
    for slot in range(meta[T_NNAMES], floor):
        if (used >> slot) & 1 == 0:
            temps[n] = slot
            n += 1
    return n


@register_jitable
def _head_count(sm, s):
    """How many entry expressions (``heads``) a statement has."""
    kind = sm[s, M_KIND]
    if kind == S_ASSIGN or kind == S_RETURN or kind == S_IF:
        return 1
    if kind == S_TUPLE:
        return sm[s, F1]
    if kind == S_FOR:
        return 2
    return 0


@register_jitable
def _head_ref(sm, s, h):
    """Where head ``h`` of statement s is held: (0, column) in ``sm`` or (1, index) in pool."""
    kind = sm[s, M_KIND]
    if kind == S_ASSIGN:
        return 0, F2
    if kind == S_TUPLE:
        return 1, sm[s, F2] + h
    if kind == S_FOR:
        return 0, F1 + h
    return 0, F0


@register_jitable
def _get_head(sm, pool, s, h):
    where, at = _head_ref(sm, s, h)
    return pool[at] if where == 1 else sm[s, at]


@register_jitable
def _set_head(sm, pool, s, h, node):
    where, at = _head_ref(sm, s, h)
    if where == 1:
        pool[at] = node
    else:
        sm[s, at] = node


@register_jitable
def _number(ex, sm, pool, meta, blk, n, open_at, opened, runs, post):
    """``ir_cse._Numbering``: the runs of the block ``blk[:n]`` into ``runs`` (records of
    ``RUN`` words), in the object pass's order; returns how many."""
    nopen = 0
    nruns = 0
    cap_open = opened.shape[0] // RUN
    cap_runs = runs.shape[0] // RUN
    for i in range(n):
        s = blk[i]
        for h in range(_head_count(sm, s)):
            # post-order over the tree (not the DAG: every occurrence counts)
            post[0] = _get_head(sm, pool, s, h)
            post[1] = 0
            top = 1
            while top > 0:
                node = post[2 * top - 2]
                state = post[2 * top - 1]
                kind = ex[node, X_KIND]
                if kind >= 0 and state < arity(kind):
                    post[2 * top - 1] = state + 1
                    if 2 * top + 2 > post.shape[0]:
                        meta[T_STATUS] = ROOM
                        return 0
                    post[2 * top] = ex[node, X_A0 + state]
                    post[2 * top + 1] = 0
                    top += 1
                    continue
                top -= 1
                if kind < 0:
                    continue
                q = open_at[node]
                if q >= 0:
                    opened[RUN * q + 2] = i
                    opened[RUN * q + 3] += 1
                else:
                    if nopen >= cap_open:
                        meta[T_STATUS] = ROOM
                        return 0
                    open_at[node] = nopen
                    opened[RUN * nopen] = node
                    opened[RUN * nopen + 1] = i
                    opened[RUN * nopen + 2] = i
                    opened[RUN * nopen + 3] = 1
                    nopen += 1
        kind = sm[s, M_KIND]
        terminator = kind == S_RETURN or kind == S_BREAK or kind == S_CONTINUE
        killed = -1 if terminator else assigned_mask(sm, pool, s, post)
        if killed != 0:  # close the runs it ends, in the order they opened
            kept = 0
            for q in range(nopen):
                node = opened[RUN * q]
                if killed == -1 or (ex[node, X_READS] & killed) != 0:
                    nruns = _close_run(runs, nruns, opened, q, open_at, cap_runs, meta)
                    if nruns < 0:
                        return 0
                else:
                    for w in range(RUN):
                        opened[RUN * kept + w] = opened[RUN * q + w]
                    open_at[node] = kept
                    kept += 1
            nopen = kept
    for q in range(nopen):
        nruns = _close_run(runs, nruns, opened, q, open_at, cap_runs, meta)
        if nruns < 0:
            return 0
    return nruns


@register_jitable
def _close_run(runs, nruns, opened, q, open_at, cap_runs, meta):
    """Move open run ``q`` to ``runs[nruns]``; the new count of runs, or -1 (``meta`` says
    ``ROOM``) when ``runs`` is full."""
    if nruns >= cap_runs:
        meta[T_STATUS] = ROOM
        return -1
    for w in range(RUN):
        runs[RUN * nruns + w] = opened[RUN * q + w]
    open_at[opened[RUN * q]] = -1
    return nruns + 1


@register_jitable
def _holder(ex, sm, pool, blk, n, amask, node, first, last):
    """``_choose.holder``: a target of ``blk[first]`` if it is ``x = node`` and x is not
    reassigned before ``last``, else -1."""
    s = blk[first]
    if sm[s, M_KIND] != S_ASSIGN or sm[s, F2] != node:
        return -1
    for i in range(sm[s, F1]):
        x = pool[sm[s, F0] + i]
        ok = True
        for j in range(first + 1, n):
            if (amask[j] >> x) & 1:
                ok = j >= last
                break
        if ok:
            return x
    return -1


@register_jitable
def _round(ex, htab, sm, pool, meta, blk, n, amask, open_at, opened, runs, cand, chosen, post,
           rstack, temps, tstate):
    """One round of ``ir_cse._block`` on ``blk[:n]``; returns the new length, or -1 when
    nothing was chosen."""
    for i in range(n):
        amask[i] = assigned_mask(sm, pool, blk[i], post)
    nruns = _number(ex, sm, pool, meta, blk, n, open_at, opened, runs, post)
    if meta[T_STATUS] != 0:
        return -1
    # candidates: (value, run, holder), sorted by value descending then first, stably
    nc = 0
    for r in range(nruns):
        node, first, last, count = (runs[RUN * r], runs[RUN * r + 1], runs[RUN * r + 2],
                                    runs[RUN * r + 3])
        if count < 2:
            continue
        x = _holder(ex, sm, pool, blk, n, amask, node, first, last)
        cost = ex[node, X_COST]
        if x >= 0:
            value = (count - 1) * (cost - _GET)
        else:
            value = (count - 1) * cost - _SET - count * _GET
        j = nc
        while j > 0 and (cand[3 * (j - 1)] < value or (cand[3 * (j - 1)] == value and
                                                       runs[RUN * cand[3 * (j - 1) + 1] + 1]
                                                       > first)):
            cand[3 * j], cand[3 * j + 1], cand[3 * j + 2] = (cand[3 * j - 3], cand[3 * j - 2],
                                                             cand[3 * j - 1])
            j -= 1
        cand[3 * j], cand[3 * j + 1], cand[3 * j + 2] = value, r, x
        nc += 1
    nchosen = 0
    for c in range(nc):
        value, r, x = cand[3 * c], cand[3 * c + 1], cand[3 * c + 2]
        if value <= 0:
            break
        first, last = runs[RUN * r + 1], runs[RUN * r + 2]
        overlaps = False
        for q in range(nchosen):
            other = chosen[2 * q]
            if runs[RUN * other + 1] <= last and first <= runs[RUN * other + 2]:
                overlaps = True
        if overlaps:
            continue
        if x < 0:
            if tstate[0] >= tstate[1]:
                continue
            x = temps[tstate[0]]
            tstate[0] += 1
        chosen[2 * nchosen] = r
        chosen[2 * nchosen + 1] = x
        nchosen += 1
    if nchosen == 0:
        return -1
    # apply back to front (the chosen ranges are disjoint)
    for _ in range(nchosen):
        best = -1
        for q in range(nchosen):
            if chosen[2 * q] >= 0 and (best < 0 or runs[RUN * chosen[2 * q] + 1]
                                       > runs[RUN * chosen[2 * best] + 1]):
                best = q
        r, holder = chosen[2 * best], chosen[2 * best + 1]
        chosen[2 * best] = -1
        node, first, last = runs[RUN * r], runs[RUN * r + 1], runs[RUN * r + 2]
        s = blk[first]
        fresh = not (sm[s, M_KIND] == S_ASSIGN and sm[s, F2] == node
                     and _has_target(sm, pool, s, holder))
        local = intern(ex, htab, meta, K_LOCAL, holder, -1, -1)
        for i in range(first + (0 if fresh else 1), last + 1):
            t = blk[i]
            for h in range(_head_count(sm, t)):
                _set_head(sm, pool, t, h, replace_node(ex, htab, meta, rstack,
                                                       _get_head(sm, pool, t, h), node, local))
        if fresh:
            k = new_stmt(sm, meta, S_ASSIGN)
            at = meta[T_NPOOL]
            if at >= pool.shape[0] or n >= blk.shape[0] or meta[T_STATUS] != 0:
                meta[T_STATUS] = ROOM
                return -1
            meta[T_NPOOL] = at + 1
            pool[at] = holder
            sm[k, F0], sm[k, F1], sm[k, F2] = at, 1, node
            for i in range(n, first, -1):
                blk[i] = blk[i - 1]
            blk[first] = k
            n += 1
    return n


@register_jitable
def _has_target(sm, pool, s, x):
    for i in range(sm[s, F1]):
        if pool[sm[s, F0] + i] == x:
            return True
    return False


@register_jitable
def eliminate_common_subexpressions(ex, htab, sm, pool, meta, work):
    """``traditional.ir_cse.eliminate_common_subexpressions`` on the array IR, in place."""
    cap = sm.shape[0]
    nex = ex.shape[0]
    at = 0
    frames = work[at:at + 4 * (cap + 1)]
    at += 4 * (cap + 1)
    blk = work[at:at + cap]
    at += cap
    amask = work[at:at + cap]
    at += cap
    open_at = work[at:at + nex]
    at += nex
    opened = work[at:at + RUN * nex]
    at += RUN * nex
    runs = work[at:at + 2 * RUN * nex]
    at += 2 * RUN * nex
    cand = work[at:at + 3 * 2 * nex]
    at += 3 * 2 * nex
    chosen = work[at:at + 2 * (cap + 1)]
    at += 2 * (cap + 1)
    temps = work[at:at + MAX_LOCALS]
    at += MAX_LOCALS
    tstate = work[at:at + 2]
    at += 2
    post = work[at:at + 2 * cap + 2 * nex + 2]
    at += 2 * cap + 2 * nex + 2
    rstack = work[at:]
    for q in range(nex):
        open_at[q] = -1
    tstate[0] = 0
    tstate[1] = _free_temps(ex, sm, pool, meta, post, temps)
    # frames per open block: owner statement (-1: the body), its field, cursor, phase
    frames[0], frames[1], frames[2], frames[3] = -1, 0, meta[T_BODY], 0
    nf = 1
    while nf > 0 and meta[T_STATUS] == 0:
        f = 4 * (nf - 1)
        s = frames[f + 2]
        if s >= 0:
            kind = sm[s, M_KIND]
            phase = frames[f + 3]
            child = -1
            field = 0
            if kind == S_IF and phase < 2:
                field = F1 if phase == 0 else F2
            elif (kind == S_WHILE or kind == S_FOR) and phase == 0:
                field = F1 if kind == S_WHILE else F4
            if field != 0:
                child = sm[s, field]
                frames[f + 3] = phase + 1
                g = 4 * nf
                frames[g], frames[g + 1], frames[g + 2], frames[g + 3] = s, field, child, 0
                nf += 1
                continue
            frames[f + 2], frames[f + 3] = sm[s, M_NEXT], 0
            continue
        # every nested block of this one is done: its own rounds
        owner, field = frames[f], frames[f + 1]
        head = meta[T_BODY] if owner < 0 else sm[owner, field]
        n = 0
        k = head
        while k >= 0:
            blk[n] = k
            n += 1
            k = sm[k, M_NEXT]
        for _ in range(MAX_ROUNDS):
            grown = _round(ex, htab, sm, pool, meta, blk, n, amask, open_at, opened, runs, cand,
                           chosen, post, rstack, temps, tstate)
            if grown < 0:
                break
            n = grown
        for i in range(n):
            sm[blk[i], M_NEXT] = blk[i + 1] if i + 1 < n else -1
        head = blk[0] if n > 0 else -1
        if owner < 0:
            meta[T_BODY] = head
        else:
            sm[owner, field] = head
        nf -= 1
