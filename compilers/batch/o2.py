"""-O2 in the batched compiler: the object compiler's IR passes as routines over ``ir_arrays``.

``PASSES`` names the passes ported so far, each the twin of the ``traditional`` pass of that
name (``traditional.ir_passes.O2_PASSES`` gives their order in the pipeline); ``run_pass``
runs one by its index in ``PASSES``. Like ``core.compile_one`` it is a ``register_jitable``
routine: ``cpu.run_ir_pass`` is its njit twin, and a CUDA kernel can call it as it is.
"""
from __future__ import annotations

from numba.extending import register_jitable

from ..isa import MAX_LOCALS

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
