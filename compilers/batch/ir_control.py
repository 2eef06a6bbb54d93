"""The control-flow passes of -O2 on the array IR (twins of ``traditional.ir_control``).

``simplify_control_flow`` mirrors the object pass's three mutually recursive functions
(``_block``, ``_stmt``, ``_trim_tail``) with a stack of frames, one per call, each with a phase
that says where the call resumes when its callee returns; a call returns a chain of statements
(its first statement, -1 for none). Statements are rewritten in place: the object pass never
looks at a statement again once it has handed it to a callee.
"""
from __future__ import annotations

from numba.extending import register_jitable

from ..isa import EQZ, MAX_STACK, OP, OP_COST, OP_TAKEN, SELECT
from .ir_arrays import (F0, F1, F2, F3, F4, K_CONST, K_LOCAL, M_KIND, M_NEXT, ROOM, S_ASSIGN,
                        S_BREAK, S_CONTINUE, S_FOR, S_IF, S_RETURN, S_WHILE, T_BODY, T_NPOOL,
                        T_STATUS, X_A0, X_A1, X_COST, X_DEPTH, X_KIND, const, intern,
                        push_blocks)
from .ir_rewrite import (ANDV, FRAME_WIDTH, MAX_FRAMES, NE, OR, ORV, R_FULL, new_stamp,
                         simplify)


@register_jitable
def condition(ex, htab, meta, e):
    """``ir_control.condition``: a branch condition reduced to what decides it."""
    while True:
        kind = ex[e, X_KIND]
        if kind == NE and ex[ex[e, X_A1], X_KIND] == K_CONST and ex[ex[e, X_A1], X_A0] == 0:
            e = ex[e, X_A0]
        elif kind == EQZ and ex[ex[e, X_A0], X_KIND] == EQZ:
            e = ex[ex[e, X_A0], X_A0]
        elif (kind == ANDV or kind == ORV or kind == OR) and ex[ex[e, X_A1], X_KIND] == K_CONST \
                and ex[ex[e, X_A1], X_A0] != 0:
            if kind != ANDV:
                return const(ex, htab, meta, 1)
            e = ex[e, X_A0]
        else:
            return e


@register_jitable
def falls_through(ex, sm, s, order, ft):
    """``ir_tools.falls_through(s)``: whether control may reach the statement after ``s``.
    ``order`` and ``ft`` are scratch (two words per statement of the subtree, and one)."""
    # The subtree in pre-order (order[:n]; the second half is a stack of blocks to visit):
    # every statement comes after its parent, so the reverse order sees children first.
    half = order.shape[0] // 2
    order[0] = s
    n = 1
    top = 0
    k = s
    pending = order[half:]
    while True:
        top = push_blocks(sm, k, pending, top)
        k = -1
        while k < 0 and top > 0:
            top -= 1
            k = pending[top]
        if k < 0:
            break
        # visit the whole chain from k: its statements are listed as they are reached
        order[n] = k
        n += 1
        if sm[k, M_NEXT] >= 0:
            pending[top] = sm[k, M_NEXT]
            top += 1
    # ft[k]: bit 0 falls through, bit 1 breaks out (ir_tools.breaks_out, through ifs only).
    for q in range(n - 1, -1, -1):
        k = order[q]
        kind = sm[k, M_KIND]
        if kind == S_BREAK:
            ft[k] = 2
        elif kind == S_CONTINUE or kind == S_RETURN:
            ft[k] = 0
        elif kind == S_IF:
            then_ft, else_ft, out = 1, 1, 0
            c = sm[k, F1]
            while c >= 0:
                then_ft &= ft[c]
                out |= ft[c] & 2
                c = sm[c, M_NEXT]
            c = sm[k, F2]
            while c >= 0:
                else_ft &= ft[c]
                out |= ft[c] & 2
                c = sm[c, M_NEXT]
            ft[k] = out | (then_ft | else_ft)
        elif kind == S_WHILE:
            cond = sm[k, F0]
            forever = ex[cond, X_KIND] == K_CONST and ex[cond, X_A0] != 0
            breaks = 0
            c = sm[k, F1]
            while c >= 0:
                breaks |= ft[c] & 2
                c = sm[c, M_NEXT]
            ft[k] = 1 if (not forever or breaks != 0) else 0
        else:
            ft[k] = 1
    return (ft[s] & 1) == 1


# Frames: what, phase, then four locals.
C_BLOCK, C_STMT, C_TRIM = 0, 1, 2
CW_FRAME = 6
TRIM_CONTINUE, TRIM_RETURN0 = 0, 1


@register_jitable
def _last(sm, head):
    while head >= 0 and sm[head, M_NEXT] >= 0:
        head = sm[head, M_NEXT]
    return head


@register_jitable
def _join(sm, first, second):
    """Chain ``second`` after chain ``first``; the joined chain's head."""
    if first < 0:
        return second
    sm[_last(sm, first), M_NEXT] = second
    return first


@register_jitable
def _redundant(ex, sm, s, kind):
    if kind == TRIM_CONTINUE:
        return sm[s, M_KIND] == S_CONTINUE
    if sm[s, M_KIND] != S_RETURN:
        return False
    value = sm[s, F0]
    return ex[value, X_KIND] == K_CONST and ex[value, X_A0] == 0


@register_jitable
def _negate(ex, htab, meta, rframes, rstack, cond):
    """``ir_control._negate``: ``condition(simplify_expr(eqz cond))``."""
    e = intern(ex, htab, meta, EQZ, cond, -1, -1)
    e = simplify(ex, htab, meta, rframes, rstack, R_FULL, e, new_stamp(meta))
    return condition(ex, htab, meta, e)


@register_jitable
def simplify_control_flow(ex, htab, sm, pool, meta, work):
    """``traditional.ir_control.simplify_control_flow`` on the array IR, in place."""
    cap = sm.shape[0]
    nframes = 4 * cap + 8
    frames = work[:CW_FRAME * nframes]
    at = CW_FRAME * nframes
    ft = work[at:at + cap]
    at += cap
    order = work[at:at + 4 * cap + 2]
    at += 4 * cap + 2
    rframes = work[at:at + 1 + FRAME_WIDTH * MAX_FRAMES]
    rstack = work[at + 1 + FRAME_WIDTH * MAX_FRAMES:]
    # The whole pass: trim_tail(block(body), return 0): a TRIM frame waiting on a BLOCK.
    frames[0], frames[1], frames[2], frames[3] = C_TRIM, 9, TRIM_RETURN0, -1
    frames[6], frames[7], frames[8], frames[9], frames[10] = C_BLOCK, 0, meta[T_BODY], -1, -1
    nf = 2
    result = -1
    returning = False
    while meta[T_STATUS] == 0:
        if returning:
            nf -= 1
            if nf == 0:
                meta[T_BODY] = result
                return
            returning = False
        if nf >= nframes:
            meta[T_STATUS] = ROOM
            return
        f = CW_FRAME * (nf - 1)
        what = frames[f]
        phase = frames[f + 1]
        if what == C_BLOCK:
            # locals: next input statement, output head, output tail
            if phase == 1:  # append the statements _stmt returned, up to one that ends
                k = result
                stop = False
                while k >= 0 and not stop:
                    nxt = sm[k, M_NEXT]
                    sm[k, M_NEXT] = -1
                    if frames[f + 4] < 0:
                        frames[f + 3] = k
                    else:
                        sm[frames[f + 4], M_NEXT] = k
                    frames[f + 4] = k
                    stop = not falls_through(ex, sm, k, order, ft)
                    k = nxt
                if stop:
                    result = frames[f + 3]
                    returning = True
                    continue
                frames[f + 1] = 0
            s = frames[f + 2]
            if s < 0:
                result = frames[f + 3]
                returning = True
                continue
            frames[f + 2] = sm[s, M_NEXT]
            sm[s, M_NEXT] = -1
            frames[f + 1] = 1
            g = f + CW_FRAME
            frames[g], frames[g + 1], frames[g + 2] = C_STMT, 0, s
            nf += 1
        elif what == C_STMT:
            # locals: the statement, the processed then-arm
            s = frames[f + 2]
            kind = sm[s, M_KIND]
            g = f + CW_FRAME
            if kind == S_IF:
                if phase == 0:
                    cond = condition(ex, htab, meta, sm[s, F0])
                    sm[s, F0] = cond
                    if ex[cond, X_KIND] == K_CONST:  # the arm that runs, spliced in
                        arm = sm[s, F1] if ex[cond, X_A0] != 0 else sm[s, F2]
                        frames[f], frames[f + 1], frames[f + 2] = C_BLOCK, 0, arm
                        frames[f + 3], frames[f + 4] = -1, -1
                        continue
                    frames[f + 1] = 1
                    frames[g], frames[g + 1], frames[g + 2] = C_BLOCK, 0, sm[s, F1]
                    frames[g + 3], frames[g + 4] = -1, -1
                    nf += 1
                elif phase == 1:
                    frames[f + 3] = result
                    frames[f + 1] = 2
                    frames[g], frames[g + 1], frames[g + 2] = C_BLOCK, 0, sm[s, F2]
                    frames[g + 3], frames[g + 4] = -1, -1
                    nf += 1
                else:
                    then, orelse, cond = frames[f + 3], result, sm[s, F0]
                    if then < 0 and orelse < 0:
                        result = -1
                    else:
                        if then < 0:
                            cond = _negate(ex, htab, meta, rframes, rstack, cond)
                            then, orelse = orelse, -1
                        elif orelse >= 0 and ex[cond, X_KIND] == EQZ:
                            cond = ex[cond, X_A0]
                            then, orelse = orelse, then
                        sm[s, F0], sm[s, F1], sm[s, F2] = cond, then, orelse
                        result = s
                    returning = True
            elif kind == S_WHILE or kind == S_FOR:
                body = F1 if kind == S_WHILE else F4
                if phase == 0:
                    if kind == S_WHILE:
                        cond = condition(ex, htab, meta, sm[s, F0])
                        sm[s, F0] = cond
                        if ex[cond, X_KIND] == K_CONST and ex[cond, X_A0] == 0:
                            result = -1
                            returning = True
                            continue
                    else:
                        start, stop = sm[s, F1], sm[s, F2]
                        if ex[start, X_KIND] == K_CONST and ex[stop, X_KIND] == K_CONST:
                            a, b = ex[start, X_A0], ex[stop, X_A0]
                            if not (a < b if sm[s, F3] > 0 else a > b):
                                result = -1
                                returning = True
                                continue
                    frames[f + 1] = 1
                    frames[g], frames[g + 1], frames[g + 2] = C_BLOCK, 0, sm[s, body]
                    frames[g + 3], frames[g + 4] = -1, -1
                    nf += 1
                elif phase == 1:
                    frames[f + 1] = 2
                    frames[g], frames[g + 1], frames[g + 2] = C_TRIM, 0, TRIM_CONTINUE
                    frames[g + 3] = result
                    nf += 1
                else:
                    sm[s, body] = result
                    result = s
                    returning = True
            else:
                result = s
                returning = True
        else:  # C_TRIM; locals: kind, the chain, the prefix before its last if, that if
            if phase == 9:  # the top level: trim what the block returned
                frames[f + 3] = result
                phase = 0
            g = f + CW_FRAME
            if phase == 0:
                chain = frames[f + 3]
                while chain >= 0:
                    last = _last(sm, chain)
                    if not _redundant(ex, sm, last, frames[f + 2]):
                        break
                    if last == chain:
                        chain = -1
                    else:
                        prev = chain
                        while sm[prev, M_NEXT] != last:
                            prev = sm[prev, M_NEXT]
                        sm[prev, M_NEXT] = -1
                if chain < 0 or sm[_last(sm, chain), M_KIND] != S_IF:
                    result = chain
                    returning = True
                    continue
                last = _last(sm, chain)
                prefix = -1
                if last != chain:
                    prefix = chain
                    prev = chain
                    while sm[prev, M_NEXT] != last:
                        prev = sm[prev, M_NEXT]
                    sm[prev, M_NEXT] = -1
                frames[f + 3], frames[f + 4], frames[f + 5] = -1, prefix, last
                frames[f + 1] = 1
                frames[g], frames[g + 1], frames[g + 2] = C_TRIM, 0, frames[f + 2]
                frames[g + 3] = sm[last, F1]
                nf += 1
            elif phase == 1:
                sm[frames[f + 5], F1] = result
                frames[f + 1] = 2
                frames[g], frames[g + 1], frames[g + 2] = C_TRIM, 0, frames[f + 2]
                frames[g + 3] = sm[frames[f + 5], F2]
                nf += 1
            elif phase == 2:
                sm[frames[f + 5], F2] = result
                frames[f + 1] = 3
                frames[g], frames[g + 1], frames[g + 2] = C_STMT, 0, frames[f + 5]
                nf += 1
            else:
                result = _join(sm, frames[f + 4], result)
                returning = True


# Branches to selects ------------------------------------------------------------------------

_COST_IF = OP_COST[OP["if"]]
_COST_ELSE = OP_COST[OP["else"]]
_COST_SET = OP_COST[OP["set"]]
_COST_RETURN = OP_COST[OP["return"]]
_IF_TAKEN = OP_TAKEN[OP["if"]]


@register_jitable
def _straight_cost(ex, sm, s):
    """``ir_tools.straight_cost`` of one assignment or return."""
    if sm[s, M_KIND] == S_RETURN:
        return ex[sm[s, F0], X_COST] + _COST_RETURN
    return ex[sm[s, F2], X_COST] + sm[s, F1] * _COST_SET


@register_jitable
def _arm_cost(ex, sm, head):
    return 0 if head < 0 else _straight_cost(ex, sm, head)


@register_jitable
def _single(sm, head, kind):
    """Whether the block at ``head`` is one return (``kind`` S_RETURN) or one single-target
    assignment (S_ASSIGN)."""
    if head < 0 or sm[head, M_NEXT] >= 0 or sm[head, M_KIND] != kind:
        return False
    return kind == S_RETURN or sm[head, F1] == 1


@register_jitable
def _select(ex, htab, meta, rframes, rstack, stamp, a, b, c):
    """``ir_control._select``: ``simplify_expr(select(a, b, c))``."""
    e = intern(ex, htab, meta, SELECT, a, b, c)
    return simplify(ex, htab, meta, rframes, rstack, R_FULL, e, stamp)


@register_jitable
def _pays(ex, htab, meta, sm, rframes, rstack, stamp, s, value, merged_cost, else_cost,
          order, ft):
    """``ir_control._pays`` for the select ``value`` whose statement costs ``merged_cost``."""
    if ex[value, X_DEPTH] > MAX_STACK:
        return False
    then, orelse = sm[s, F1], sm[s, F2]
    then_path = _COST_IF + _arm_cost(ex, sm, then)
    if orelse >= 0:
        falls = True
        k = then
        while k >= 0 and falls:
            falls = falls_through(ex, sm, k, order, ft)
            k = sm[k, M_NEXT]
        if falls:
            then_path += _COST_ELSE
    else_path = _COST_IF + _IF_TAKEN + _arm_cost(ex, sm, orelse) + else_cost
    cond = condition(ex, htab, meta, simplify(ex, htab, meta, rframes, rstack, R_FULL,
                                              sm[s, F0], stamp))
    return merged_cost <= ex[cond, X_COST] + min(then_path, else_path)


@register_jitable
def _as_select(ex, htab, sm, pool, meta, rframes, rstack, stamp, s, order, ft):
    """``ir_control._as_select``: turn the if ``s`` (arms done) into its select form in place
    where that pays, absorbing the return after it if the form uses it."""
    then, orelse, cond = sm[s, F1], sm[s, F2], sm[s, F0]
    follower = sm[s, M_NEXT]
    if _single(sm, then, S_RETURN) and orelse < 0 and follower >= 0 \
            and sm[follower, M_KIND] == S_RETURN:
        value = _select(ex, htab, meta, rframes, rstack, stamp, sm[then, F0],
                        sm[follower, F0], cond)
        if _pays(ex, htab, meta, sm, rframes, rstack, stamp, s, value,
                 ex[value, X_COST] + _COST_RETURN, _straight_cost(ex, sm, follower), order, ft):
            sm[s, M_KIND], sm[s, F0], sm[s, F1], sm[s, F2] = S_RETURN, value, -1, -1
            sm[s, M_NEXT] = sm[follower, M_NEXT]
        return
    if _single(sm, then, S_RETURN) and _single(sm, orelse, S_RETURN):
        value = _select(ex, htab, meta, rframes, rstack, stamp, sm[then, F0], sm[orelse, F0],
                        cond)
        if _pays(ex, htab, meta, sm, rframes, rstack, stamp, s, value,
                 ex[value, X_COST] + _COST_RETURN, 0, order, ft):
            sm[s, M_KIND], sm[s, F0], sm[s, F1], sm[s, F2] = S_RETURN, value, -1, -1
        return
    arm = then if then >= 0 else orelse
    if not _single(sm, arm, S_ASSIGN):
        return
    target = pool[sm[arm, F0]]
    if then >= 0 and orelse >= 0 and not (_single(sm, orelse, S_ASSIGN)
                                         and pool[sm[orelse, F0]] == target):
        return
    local = intern(ex, htab, meta, K_LOCAL, target, -1, -1)
    a = sm[then, F2] if then >= 0 else local
    b = sm[orelse, F2] if orelse >= 0 else local
    value = _select(ex, htab, meta, rframes, rstack, stamp, a, b, cond)
    if _pays(ex, htab, meta, sm, rframes, rstack, stamp, s, value, ex[value, X_COST] + _COST_SET,
             0, order, ft):
        at = meta[T_NPOOL]
        if at >= pool.shape[0]:
            meta[T_STATUS] = ROOM
            return
        meta[T_NPOOL] = at + 1
        pool[at] = target
        sm[s, M_KIND], sm[s, F0], sm[s, F1], sm[s, F2] = S_ASSIGN, at, 1, value


@register_jitable
def convert_branches_to_selects(ex, htab, sm, pool, meta, work):
    """``traditional.ir_control.convert_branches_to_selects`` on the array IR, in place: every
    block's statements in order, an if's arms before the if itself."""
    cap = sm.shape[0]
    frames = work[:2 * (cap + 1)]  # per open block: its current statement, that one's phase
    at = 2 * (cap + 1)
    ft = work[at:at + cap]
    at += cap
    order = work[at:at + 4 * cap + 2]
    at += 4 * cap + 2
    rframes = work[at:at + 1 + FRAME_WIDTH * MAX_FRAMES]
    rstack = work[at + 1 + FRAME_WIDTH * MAX_FRAMES:]
    stamp = new_stamp(meta)
    frames[0], frames[1] = meta[T_BODY], 0
    nf = 1
    while nf > 0 and meta[T_STATUS] == 0:
        f = 2 * (nf - 1)
        s = frames[f]
        if s < 0:  # the block is done: resume the statement that holds it
            nf -= 1
            continue
        kind = sm[s, M_KIND]
        phase = frames[f + 1]
        if (kind == S_IF and phase < 2) or ((kind == S_WHILE or kind == S_FOR) and phase == 0):
            if kind == S_IF:
                child = sm[s, F1] if phase == 0 else sm[s, F2]
            else:
                child = sm[s, F1] if kind == S_WHILE else sm[s, F4]
            frames[f + 1] = phase + 1
            g = 2 * nf
            frames[g], frames[g + 1] = child, 0
            nf += 1
            continue
        if kind == S_IF:
            _as_select(ex, htab, sm, pool, meta, rframes, rstack, stamp, s, order, ft)
        frames[f], frames[f + 1] = sm[s, M_NEXT], 0
