"""The dataflow passes of -O2 on the array IR: copy propagation and dead stores.

Twins of ``traditional.ir_dataflow.propagate_copies`` and ``remove_dead_stores``, whose
docstrings state what they do. The object passes recurse over the tree; these walk it with an
explicit stack of frames, one per open block, and hold the facts as arrays over the 32 local
slots: copies as ``slot -> node`` (-1: none, plus a flag word for "no path reaches here"),
liveness as a bit mask.
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from ..isa import MAX_LOCALS
from .ir_arrays import (F0, F1, F2, F4, K_CONST, K_LOCAL, M_KIND, M_NEXT, ROOM, S_ASSIGN,
                        S_BREAK, S_CONTINUE, S_FOR, S_IF, S_RETURN, S_TUPLE, S_WHILE, T_BODY,
                        T_STATUS, X_A0, X_KIND, X_READS, intern, push_blocks)
from .ir_rewrite import substitute

CW = MAX_LOCALS + 1        # copies: a node per slot, then the reachable flag
REACH = MAX_LOCALS
CF = 2 + 2 * CW            # copy frame: statement, phase, two saved copy states
PH_THEN, PH_ELSE, PH_LOOP = 1, 2, 3


@register_jitable
def assigned_mask(sm, pool, s, stack):
    """Slots statement ``s`` may assign, nested blocks and for variables included
    (``ir_tools.assigned_slots``), as a bit mask."""
    mask = 0
    top = 0
    k = s
    single = True
    while True:
        while k >= 0:
            kind = sm[k, M_KIND]
            if kind == S_ASSIGN or kind == S_TUPLE:
                for i in range(sm[k, F1]):
                    mask |= np.int64(1) << pool[sm[k, F0] + i]
            elif kind == S_FOR:
                mask |= np.int64(1) << sm[k, F0]
            top = push_blocks(sm, k, stack, top)
            k = -1 if single else sm[k, M_NEXT]
            single = False
        if top == 0:
            return mask
        top -= 1
        k = stack[top]


@register_jitable
def _targets_mask(sm, pool, s):
    mask = 0
    for i in range(sm[s, F1]):
        mask |= np.int64(1) << pool[sm[s, F0] + i]
    return mask


@register_jitable
def _kill(ex, cur, mask):
    """Forget the copies of and to the slots in ``mask`` (``ir_dataflow._kill``)."""
    for x in range(MAX_LOCALS):
        v = cur[x]
        if v >= 0 and (((mask >> x) & 1) == 1
                       or (ex[v, X_KIND] == K_LOCAL and ((mask >> ex[v, X_A0]) & 1) == 1)):
            cur[x] = -1


@register_jitable
def _copies_value(ex, value, mask):
    """Whether ``x = value`` makes x a copy: a constant, or a slot not assigned with it."""
    kind = ex[value, X_KIND]
    return kind == K_CONST or (kind == K_LOCAL and ((mask >> ex[value, X_A0]) & 1) == 0)


@register_jitable
def propagate_copies(ex, htab, sm, pool, meta, work):
    """``traditional.ir_dataflow.propagate_copies`` on the array IR, in place."""
    cap = sm.shape[0]
    cur = work[:CW]
    frames = work[CW:CW + CF * (cap + 1)]
    stack = work[CW + CF * (cap + 1):]
    for x in range(MAX_LOCALS):
        cur[x] = -1
    cur[REACH] = 1
    s = meta[T_BODY]
    nf = 0
    while meta[T_STATUS] == 0:
        if s < 0:  # a block ends: finish the statement that holds it
            if nf == 0:
                return
            f = CF * (nf - 1)
            p = frames[f]
            if frames[f + 1] == PH_THEN:  # keep the then-arm's facts, run the else-arm
                for q in range(CW):
                    frames[f + 2 + CW + q] = cur[q]
                    cur[q] = frames[f + 2 + q]
                frames[f + 1] = PH_ELSE
                s = sm[p, F2]
                continue
            if frames[f + 1] == PH_ELSE:  # join the arms (cur holds the else-arm's facts)
                a = f + 2 + CW
                if frames[a + REACH] == 1:
                    if cur[REACH] == 0:
                        for q in range(CW):
                            cur[q] = frames[a + q]
                    else:
                        for x in range(MAX_LOCALS):
                            if cur[x] != frames[a + x]:
                                cur[x] = -1
            else:  # a loop: the facts at its head hold after it
                for q in range(CW):
                    cur[q] = frames[f + 2 + q]
            nf -= 1
            s = sm[p, M_NEXT]
            continue
        if cur[REACH] == 0:
            for x in range(MAX_LOCALS):
                cur[x] = -1
            cur[REACH] = 1
        kind = sm[s, M_KIND]
        if kind == S_ASSIGN:
            value = substitute(ex, htab, meta, stack, sm[s, F2], cur)
            sm[s, F2] = value
            mask = _targets_mask(sm, pool, s)
            _kill(ex, cur, mask)
            n = sm[s, F1]
            t0 = sm[s, F0]
            if _copies_value(ex, value, mask):
                for i in range(n):
                    cur[pool[t0 + i]] = value
            else:
                distinct = True
                for i in range(n):
                    for j in range(i):
                        if pool[t0 + i] == pool[t0 + j]:
                            distinct = False
                if distinct and n > 1:
                    first = intern(ex, htab, meta, K_LOCAL, pool[t0], -1, -1)
                    for i in range(1, n):
                        cur[pool[t0 + i]] = first
            s = sm[s, M_NEXT]
        elif kind == S_TUPLE:
            n = sm[s, F1]
            for i in range(n):
                q = sm[s, F2] + i
                pool[q] = substitute(ex, htab, meta, stack, pool[q], cur)
            mask = _targets_mask(sm, pool, s)
            _kill(ex, cur, mask)
            for i in range(n):
                v = pool[sm[s, F2] + i]
                if _copies_value(ex, v, mask):
                    cur[pool[sm[s, F0] + i]] = v
            s = sm[s, M_NEXT]
        elif kind == S_IF or kind == S_WHILE or kind == S_FOR:
            if kind == S_IF:
                sm[s, F0] = substitute(ex, htab, meta, stack, sm[s, F0], cur)
            else:
                if kind == S_FOR:
                    sm[s, F1] = substitute(ex, htab, meta, stack, sm[s, F1], cur)
                    sm[s, F2] = substitute(ex, htab, meta, stack, sm[s, F2], cur)
                _kill(ex, cur, assigned_mask(sm, pool, s, stack))
                if kind == S_WHILE:
                    sm[s, F0] = substitute(ex, htab, meta, stack, sm[s, F0], cur)
            if nf > cap:
                meta[T_STATUS] = ROOM
                return
            f = CF * nf
            nf += 1
            frames[f] = s
            frames[f + 1] = PH_THEN if kind == S_IF else PH_LOOP
            for q in range(CW):
                frames[f + 2 + q] = cur[q]
            s = sm[s, F1] if kind != S_FOR else sm[s, F4]
        else:  # return, break, continue: no path goes on
            if kind == S_RETURN:
                sm[s, F0] = substitute(ex, htab, meta, stack, sm[s, F0], cur)
            cur[REACH] = 0
            s = sm[s, M_NEXT]


# Dead stores ------------------------------------------------------------------------------

# A block frame: its statements chain[start:end], the one being looked at (going backward),
# where break and continue go (live sets), the phase of the statement, the live set after it,
# the then-arm's live set, and where the block's first statement is written (-1: the body).
B_START, B_END, B_POS, B_BRK, B_CONT, B_PHASE, B_AFTER, B_ARM, B_OWNER, B_FIELD = range(10)
BW = 10
PH_WHILE, PH_FOR = 4, 5


@register_jitable
def _open(sm, meta, chain, ctop, frames, nf, head, brk, cont, owner, field):
    """Push a frame for the block starting at ``head``; returns the new chain top."""
    f = BW * nf
    frames[f + B_START] = ctop
    k = head
    while k >= 0:
        chain[ctop] = k
        ctop += 1
        k = sm[k, M_NEXT]
    frames[f + B_END] = ctop
    frames[f + B_POS] = ctop - 1
    frames[f + B_BRK] = brk
    frames[f + B_CONT] = cont
    frames[f + B_PHASE] = 0
    frames[f + B_OWNER] = owner
    frames[f + B_FIELD] = field
    return ctop


@register_jitable
def _liveness_round(ex, sm, pool, meta, work, apply):
    """One backward round over the whole function with the loops' live sets of the round
    before (``work[:cap]``, by statement); returns whether any of them changed. ``apply``
    also rewrites the statements as the round decides (``_Liveness.stmt``)."""
    cap = sm.shape[0]
    loop_live = work[:cap]
    chain = work[cap:2 * cap]
    frames = work[2 * cap:2 * cap + BW * (cap + 1)]
    changed = False
    live = 0
    ctop = _open(sm, meta, chain, 0, frames, 0, meta[T_BODY], 0, 0, -1, 0)
    nf = 1
    resume = False
    while True:
        f = BW * (nf - 1)
        if resume:  # the block of the statement at frames[f + B_POS] ended with `live`
            resume = False
            s = chain[frames[f + B_POS]]
            phase = frames[f + B_PHASE]
            if phase == PH_THEN:
                frames[f + B_ARM] = live
                live = frames[f + B_AFTER]
                frames[f + B_PHASE] = PH_ELSE
                ctop = _open(sm, meta, chain, ctop, frames, nf, sm[s, F2], frames[f + B_BRK],
                             frames[f + B_CONT], s, F2)
                nf += 1
                continue
            if phase == PH_ELSE:
                live = frames[f + B_ARM] | live | ex[sm[s, F0], X_READS]
            elif phase == PH_WHILE:
                live = live | frames[f + B_AFTER] | ex[sm[s, F0], X_READS]
                if loop_live[s] != live:
                    loop_live[s] = live
                    changed = True
            else:  # PH_FOR
                iteration = live & ~(np.int64(1) << sm[s, F0])
                if loop_live[s] != iteration:
                    loop_live[s] = iteration
                    changed = True
                live = (frames[f + B_AFTER] | iteration | ex[sm[s, F1], X_READS]
                        | ex[sm[s, F2], X_READS])
            frames[f + B_PHASE] = 0
            frames[f + B_POS] -= 1
            continue
        pos = frames[f + B_POS]
        if pos < frames[f + B_START]:  # the block is done
            if apply:
                head = -1
                last = -1
                for q in range(frames[f + B_START], frames[f + B_END]):
                    k = chain[q]
                    if k < 0:
                        continue
                    if last < 0:
                        head = k
                    else:
                        sm[last, M_NEXT] = k
                    last = k
                if last >= 0:
                    sm[last, M_NEXT] = -1
                if frames[f + B_OWNER] < 0:
                    meta[T_BODY] = head
                else:
                    sm[frames[f + B_OWNER], frames[f + B_FIELD]] = head
            ctop = frames[f + B_START]
            nf -= 1
            if nf == 0:
                return changed
            resume = True
            continue
        s = chain[pos]
        kind = sm[s, M_KIND]
        if kind == S_ASSIGN or kind == S_TUPLE:
            n = sm[s, F1]
            t0 = sm[s, F0]
            mask = _targets_mask(sm, pool, s)
            kept = 0
            after = live & ~mask
            for i in range(n):
                if (live >> pool[t0 + i]) & 1:
                    if kind == S_TUPLE:
                        after |= ex[pool[sm[s, F2] + i], X_READS]
                    if apply:  # keep the pair: compact the lists in place
                        pool[t0 + kept] = pool[t0 + i]
                        if kind == S_TUPLE:
                            pool[sm[s, F2] + kept] = pool[sm[s, F2] + i]
                    kept += 1
            value = sm[s, F2]
            if kind == S_ASSIGN:
                first = pool[t0] if apply else -1
                if not apply:
                    for i in range(n):
                        if first < 0 and (live >> pool[t0 + i]) & 1:
                            first = pool[t0 + i]
                self_copy = n == 1 and ex[value, X_KIND] == K_LOCAL and ex[value, X_A0] == first
                if kept == 0 or self_copy:
                    if apply:
                        chain[pos] = -1
                else:
                    live = after | ex[value, X_READS]
                    if apply:
                        sm[s, F1] = kept
            elif kept == 0:
                if apply:
                    chain[pos] = -1
            else:
                live = after
                if apply:
                    sm[s, F1] = kept
                    if kept == 1:  # one pair left: a plain assignment
                        sm[s, M_KIND] = S_ASSIGN
                        sm[s, F2] = pool[sm[s, F2]]
            frames[f + B_POS] = pos - 1
        elif kind == S_IF:
            frames[f + B_AFTER] = live
            frames[f + B_PHASE] = PH_THEN
            ctop = _open(sm, meta, chain, ctop, frames, nf, sm[s, F1], frames[f + B_BRK],
                         frames[f + B_CONT], s, F1)
            nf += 1
        elif kind == S_WHILE or kind == S_FOR:
            frames[f + B_AFTER] = live
            if kind == S_WHILE:
                frames[f + B_PHASE] = PH_WHILE
                cont = loop_live[s]
                body = F1
            else:
                frames[f + B_PHASE] = PH_FOR
                cont = live | loop_live[s]
                body = F4
            ctop = _open(sm, meta, chain, ctop, frames, nf, sm[s, body], live, cont, s, body)
            nf += 1
            live = cont
        else:
            if kind == S_RETURN:
                live = ex[sm[s, F0], X_READS]
            elif kind == S_BREAK:
                live = frames[f + B_BRK]
            elif kind == S_CONTINUE:
                live = frames[f + B_CONT]
            frames[f + B_POS] = pos - 1


@register_jitable
def remove_dead_stores(ex, sm, pool, meta, work):
    """``traditional.ir_dataflow.remove_dead_stores`` on the array IR, in place: rounds until
    the loops' live sets settle, then one more that applies its decisions."""
    cap = sm.shape[0]
    for q in range(cap):
        work[q] = 0
    while _liveness_round(ex, sm, pool, meta, work, False):
        pass
    _liveness_round(ex, sm, pool, meta, work, True)


# Reading copies back ----------------------------------------------------------------------

@register_jitable
def _replace_first_leaf(ex, htab, meta, stack, e, old, new):
    """``ir_dataflow._replace_first_leaf``: ``e`` with its first evaluated leaf replaced by
    ``new`` if that leaf is ``old``, else -1."""
    depth = 0
    n = e
    while ex[n, X_KIND] >= 0:
        if depth >= stack.shape[0]:
            meta[T_STATUS] = ROOM
            return -1
        stack[depth] = n
        depth += 1
        n = ex[n, X_A0]
    if n != old:
        return -1
    out = new
    for d in range(depth - 1, -1, -1):
        p = stack[d]
        out = intern(ex, htab, meta, ex[p, X_KIND], out, ex[p, X_A0 + 1], ex[p, X_A0 + 2])
    return out


@register_jitable
def read_back_copies(ex, htab, sm, pool, meta, work):
    """``traditional.ir_dataflow.read_back_copies`` on the array IR, in place: each block's
    statements in order (what one reads depends only on the one before it)."""
    blocks = work[:2 * sm.shape[0] + 1]
    stack = work[2 * sm.shape[0] + 1:]
    blocks[0] = meta[T_BODY]
    nb = 1
    while nb > 0 and meta[T_STATUS] == 0:
        nb -= 1
        prev = -1
        s = blocks[nb]
        while s >= 0:
            kind = sm[s, M_KIND]
            if kind == S_IF:
                blocks[nb] = sm[s, F1]
                blocks[nb + 1] = sm[s, F2]
                nb += 2
            elif kind == S_WHILE or kind == S_FOR:
                blocks[nb] = sm[s, F1] if kind == S_WHILE else sm[s, F4]
                nb += 1
            if prev >= 0 and sm[prev, M_KIND] == S_ASSIGN and kind != S_WHILE:
                value = sm[prev, F2]
                target = pool[sm[prev, F0] + sm[prev, F1] - 1]
                vk = ex[value, X_KIND]
                if (vk == K_CONST or vk == K_LOCAL) and not (vk == K_LOCAL
                                                             and ex[value, X_A0] == target):
                    field = -1
                    if kind == S_ASSIGN:
                        field = F2
                    elif kind == S_RETURN or kind == S_IF:
                        field = F0
                    elif kind == S_FOR:
                        field = F1
                    if kind == S_TUPLE:
                        q = sm[s, F2]
                        local = intern(ex, htab, meta, K_LOCAL, target, -1, -1)
                        out = _replace_first_leaf(ex, htab, meta, stack, pool[q], value, local)
                        if out >= 0:
                            pool[q] = out
                    elif field >= 0:
                        local = intern(ex, htab, meta, K_LOCAL, target, -1, -1)
                        out = _replace_first_leaf(ex, htab, meta, stack, sm[s, field], value,
                                                  local)
                        if out >= 0:
                            sm[s, field] = out
            prev = s
            s = sm[s, M_NEXT]
