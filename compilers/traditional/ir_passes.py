"""The -O2 IR passes, in pipeline order.

Each pass is a function ``ir.Function -> ir.Function`` with one contract, stated in its
docstring; each is exact on int32 for any valid IR, and none relies on another having run,
though later ones find more to do after earlier ones. The expression passes come first, so
that the dataflow passes see canonical expressions; two rounds of the cleanup let copies and
constant branches feed each other; branches become selects once their arms are as cheap as they
will get; common subexpressions are shared when no later pass would undo them; last, the reads
that follow a copy are pointed back at it for -O1's ``tee`` peephole.
"""
from __future__ import annotations

from .ir_control import convert_branches_to_selects, simplify_control_flow
from .ir_cse import eliminate_common_subexpressions
from .ir_dataflow import propagate_copies, read_back_copies, remove_dead_stores
from .ir_rewrite import fold_constants, reduce_strength, simplify_algebra

CLEANUP = (simplify_algebra, reduce_strength, propagate_copies, simplify_control_flow,
           remove_dead_stores)

O2_PASSES = (
    fold_constants,
    *CLEANUP,
    *CLEANUP,
    convert_branches_to_selects,
    *CLEANUP,
    eliminate_common_subexpressions,
    remove_dead_stores,
    read_back_copies,
)

__all__ = ["O2_PASSES", "CLEANUP", "convert_branches_to_selects",
           "eliminate_common_subexpressions", "fold_constants", "propagate_copies",
           "read_back_copies", "reduce_strength", "remove_dead_stores", "simplify_algebra",
           "simplify_control_flow"]
