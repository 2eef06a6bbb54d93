"""-O2 in the batched compiler: the object compiler's IR passes as routines over ``ir_arrays``.

``PASSES`` names the passes, each the twin of the ``traditional`` pass of that name, and
``PIPELINE`` runs them in the order of ``traditional.ir_passes.O2_PASSES``; ``run_pass`` runs
one by its index in ``PASSES``. ``compile_tree`` is the whole -O2 back end for one program:
the syntax tree lowered to IR (``ir_lower``), the pipeline, and the code through ``stream``
as -O1 writes it. Like ``core.compile_one`` these are ``register_jitable`` routines:
``cpu`` jits them with njit, ``kernels`` calls them from CUDA kernels.
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from ..isa import MAX_LOCALS
from ..traditional.ir_passes import O2_PASSES
from .ir_arrays import EX_WIDTH, META_SIZE, OK as IR_OK, SM_WIDTH, T_NNAMES, T_STATUS
from .ir_lower import emit_ir, emit_size, lower_function, lower_size
from .status import E_ROOM, OK
from .stream import S_STATUS, finish, start

from .ir_control import CW_FRAME, convert_branches_to_selects, simplify_control_flow
from .ir_cse import RUN, eliminate_common_subexpressions
from .ir_dataflow import BW, CF, CW, propagate_copies, read_back_copies, remove_dead_stores
from .ir_rewrite import (FRAME_WIDTH, MAX_FRAMES, fold_constants, reduce_strength,
                         simplify_algebra)

PASSES = ("fold_constants", "simplify_algebra", "reduce_strength", "propagate_copies",
          "remove_dead_stores", "simplify_control_flow", "convert_branches_to_selects",
          "eliminate_common_subexpressions", "read_back_copies")
(P_FOLD, P_ALGEBRA, P_STRENGTH, P_COPIES, P_DEAD, P_CONTROL, P_SELECTS, P_CSE,
 P_READ_BACK) = range(len(PASSES))


PIPELINE = np.array([PASSES.index(p.__name__) for p in O2_PASSES], np.int64)

# IR capacities per token of the row. The passes make new expression nodes (the hash-consed
# arena never frees): the most any test program used was 0.87 per token of its own length
# (statements 0.18, pool words 0.17; 2026-11-30), and rows are wider than their programs.
EXPRS_PER_TOKEN = 4
STMTS_PER_TOKEN = 1
POOL_PER_TOKEN = 2
SLACK = 64


@register_jitable
def capacities(width):
    """``(exprs, hash slots, statements, pool words, work words)`` of the -O2 arrays for
    token rows of ``width``."""
    exprs = EXPRS_PER_TOKEN * width + SLACK
    slots = 1
    while slots < 2 * exprs:
        slots *= 2
    stmts = STMTS_PER_TOKEN * width + SLACK
    pool = POOL_PER_TOKEN * width + SLACK
    work = max(work_size(exprs, stmts), lower_size(width), emit_size(stmts, exprs)) + 2
    return exprs, slots, stmts, pool, work


def array_specs(width: int) -> list[tuple[tuple[int, ...], type]]:
    """Shapes and dtypes of ``compile_tree``'s arrays ``(ex, htab, sm, pool, meta, work)`` for
    token rows of ``width``."""
    exprs, slots, stmts, pool, work = capacities(width)
    return [((exprs, EX_WIDTH), np.int64), ((slots,), np.int32), ((stmts, SM_WIDTH), np.int32),
            ((pool,), np.int32), ((META_SIZE,), np.int64), ((work,), np.int64)]


def allocate(width: int, count: int) -> list[np.ndarray]:
    """``compile_tree``'s arrays for ``count`` threads (a leading axis), on the host."""
    return [np.zeros((count,) + shape, dtype) for shape, dtype in array_specs(width)]


@register_jitable
def compile_tree(root, nparams, nnames, varmask, nkind, narg, nchild, nsib, st, code, pend, inl,
                 ex, htab, sm, pool, meta, work):
    """-O2 code for a parsed function (``parse`` tree, body from ``root``) into ``code``:
    returns ``(status, err_pos, size)``; ``pend``/``inl`` are the stream's stacks as
    ``core.compile_one`` carves them."""
    for q in range(meta.shape[0]):
        meta[q] = 0
    for q in range(htab.shape[0]):
        htab[q] = -1
    meta[T_NNAMES] = nnames
    err = work[work.shape[0] - 2:]
    lower_function(root, nparams, varmask, nkind, narg, nchild, nsib, ex, htab, sm, pool, meta,
                   work[:work.shape[0] - 2], err)
    if meta[T_STATUS] != IR_OK:
        return E_ROOM, 0, 0
    if err[0] != OK:
        return err[0], err[1], 0
    for q in range(PIPELINE.shape[0]):
        run_pass(PIPELINE[q], ex, htab, sm, pool, meta, work)
        if meta[T_STATUS] != IR_OK:
            return E_ROOM, 0, 0
    start(st, 1, code.shape[0])
    emit_ir(ex, sm, pool, meta, st, code, pend, inl, work)
    if meta[T_STATUS] != IR_OK:
        return E_ROOM, 0, 0
    size = 0
    if st[S_STATUS] == OK:
        size = finish(st, code, pend, inl)
    return st[S_STATUS], 0, size


@register_jitable
def work_size(expr_capacity, stmt_capacity):
    """int64 scratch words ``run_pass`` needs for arrays of these capacities."""
    stacks = max(3 * expr_capacity + 1, 2 * stmt_capacity + 1)
    rewrite = 1 + FRAME_WIDTH * MAX_FRAMES + (2 * stmt_capacity + 1) + stacks
    copies = CW + CF * (stmt_capacity + 1) + stacks
    dead = 2 * stmt_capacity + BW * (stmt_capacity + 1)
    control = (CW_FRAME * (4 * stmt_capacity + 8) + 5 * stmt_capacity + 2 + 1
               + FRAME_WIDTH * MAX_FRAMES + 3 * expr_capacity + 1)
    cse = (4 * (stmt_capacity + 1) + 2 * stmt_capacity + expr_capacity
           + 3 * RUN * expr_capacity + 6 * expr_capacity + 2 * (stmt_capacity + 1)
           + MAX_LOCALS + 2 + 2 * stmt_capacity + 2 * expr_capacity + 2 + stacks)
    return max(rewrite, copies, dead, control, cse)


@register_jitable
def run_pass(which, ex, htab, sm, pool, meta, work):
    """Run pass ``PASSES[which]`` on the IR in the arrays, in place (``ir_arrays`` layout);
    afterwards ``meta[T_STATUS]`` is ``ROOM`` if an array ran out of room."""
    if which == P_FOLD:
        fold_constants(ex, htab, sm, pool, meta, work)
    elif which == P_ALGEBRA:
        simplify_algebra(ex, htab, sm, pool, meta, work)
    elif which == P_STRENGTH:
        reduce_strength(ex, htab, sm, pool, meta, work)
    elif which == P_COPIES:
        propagate_copies(ex, htab, sm, pool, meta, work)
    elif which == P_DEAD:
        remove_dead_stores(ex, sm, pool, meta, work)
    elif which == P_CONTROL:
        simplify_control_flow(ex, htab, sm, pool, meta, work)
    elif which == P_SELECTS:
        convert_branches_to_selects(ex, htab, sm, pool, meta, work)
    elif which == P_CSE:
        eliminate_common_subexpressions(ex, htab, sm, pool, meta, work)
    elif which == P_READ_BACK:
        read_back_copies(ex, htab, sm, pool, meta, work)
