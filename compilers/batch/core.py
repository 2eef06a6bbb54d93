"""The batched compiler's per-program routine, written once for every target.

``compile_one`` compiles one source token stream (``compilers.tokens``) to bytecode that is
bit-identical to ``traditional.pipeline.compile_source(detokenize(stream), opt)`` at -O0 and
-O1, or rejects it with a status (``status.MESSAGES``) and the position of the offending token.
It never raises, loops forever or reads outside its arrays, whatever the input.

It is a ``register_jitable`` routine, numba-compatible like everything it calls (no recursion,
exceptions, objects, lists or dicts; every stack in caller scratch): ``cpu`` calls it from an
``@njit`` ``prange`` loop, ``gpu`` from ``numba.cuda`` kernels (one thread or one warp per
program), and under the CUDA simulator it runs as plain Python.

The work is three steps over one stream:

1. a scan: token ids in the vocabulary, ``LIT k`` inside the literal table, names numbered by
   first appearance (as ``tokenize`` numbers them, which the slot numbers rely on);
2. ``parse.parse_function``: the syntax tree, the language's syntactic rules, the variables;
3. ``emit.emit_function`` into ``stream``: the code, definite assignment, and the -O1 passes and
   the validator's checks applied as the code is written. At -O2 (``compile_one_o2``) this step
   is ``o2.compile_tree`` instead: the tree lowered to IR, the -O2 passes, then the stream.
"""
from __future__ import annotations

from numba.extending import register_jitable

from ..frontend import MAX_AST_DEPTH
from ..isa import MAX_NEST, MAX_PARAMS, MAX_STACK
from ..tokens import LIT0, NAME0, NUM_LITS, NUM_NAMES, PAD, SOURCE_VOCAB_SIZE
from .emit import LOOP_WIDTH, STMT_WIDTH, emit_function
from .o2 import compile_tree
from .parse import (C_INVALID, C_LIT, C_NAME, FRAMES_SIZE, OPS_WIDTH, T_CLASS, VALS_WIDTH,
                    parse_function)
from .status import (E_BLOCK, E_HEADER, E_LENGTH, E_META, E_NAME_ORDER, E_SYNTAX, E_TOKEN,
                     E_TRUNCATED, MAX_INDENT, MAX_PARENS, OK)
from .stream import S_LEN, S_POS, S_STATUS, finish, start

# Stack capacities. Each is at most the stream length (every entry stands for a distinct token),
# and the fixed bounds hold for every stream the front end accepts: open operators are
# parentheses or ancestors in the syntax tree; pending constants are operand stack values or
# chains of ancestors; open -O0 blocks are real blocks or inlined ifs (each an ancestor).
OPS_BOUND = MAX_PARENS + MAX_AST_DEPTH + 8
NODES_BOUND = MAX_AST_DEPTH + 1
CONSTS_BOUND = MAX_STACK + MAX_AST_DEPTH + 8
BLOCKS_BOUND = MAX_NEST + MAX_AST_DEPTH + 8


@register_jitable
def _caps(width):
    """Capacities (operators, expression nodes, statements, constants, blocks) for streams of
    ``width`` tokens."""
    return (min(width, OPS_BOUND), min(width, NODES_BOUND), min(width, NODES_BOUND),
            min(width + 1, CONSTS_BOUND), min(width, BLOCKS_BOUND))


@register_jitable
def scratch_size(width):
    """int32 scratch words that ``compile_one`` needs for streams of ``width`` tokens."""
    ops, nodes, stmts, consts, blocks = _caps(width)
    pass1 = OPS_WIDTH * ops + VALS_WIDTH * (width + 1) + FRAMES_SIZE
    pass2 = 2 * nodes + STMT_WIDTH * stmts + LOOP_WIDTH * MAX_INDENT + 2 * consts + blocks
    return 4 * width + max(pass1, pass2)


@register_jitable
def _front(tokens, length, lits, nlits, nparams, nnames, scratch):
    """Steps 1 and 2 (scan, parse) into ``scratch``: ``(status, pos, n, varmask)``, n the
    stream's length without trailing padding; the tree is ``tree(scratch, width)``."""
    width = tokens.shape[0]
    if not (0 <= length <= width and 0 <= nlits <= min(NUM_LITS, lits.shape[0])
            and 0 <= nparams <= MAX_PARAMS and 0 <= nnames <= NUM_NAMES):
        return E_LENGTH, 0, 0, 0
    n = length
    while n > 0 and tokens[n - 1] == PAD:  # trailing padding inside the length
        n -= 1
    fresh = 0
    for j in range(n):
        t = tokens[j]
        if t < 0 or t >= SOURCE_VOCAB_SIZE or T_CLASS[t] == C_INVALID:
            return E_TOKEN, j, n, 0
        c = T_CLASS[t]
        if c == C_LIT and t - LIT0 >= nlits:
            return E_TOKEN, j, n, 0
        if c == C_NAME:
            if t - NAME0 > fresh:
                return E_NAME_ORDER, j, n, 0
            if t - NAME0 == fresh:
                fresh += 1

    ops, nodes, stmts, consts, blocks = _caps(width)
    nkind, narg, nchild, nsib = tree(scratch, width)
    at = 4 * width
    op_stack = scratch[at:at + OPS_WIDTH * ops]
    at += OPS_WIDTH * ops
    val_stack = scratch[at:at + VALS_WIDTH * (width + 1)]
    at += VALS_WIDTH * (width + 1)
    frames = scratch[at:at + FRAMES_SIZE]
    status, pos, varmask = parse_function(tokens, n, lits, nparams, fresh, nkind, narg, nchild,
                                          nsib, op_stack, val_stack, frames)
    if status == OK and fresh != nnames:
        status, pos = E_META, 0
    return status, pos, n, varmask


@register_jitable
def tree(scratch, width):
    """The syntax tree's arrays ``(nkind, narg, nchild, nsib)`` in ``scratch``."""
    return (scratch[0:width], scratch[width:2 * width], scratch[2 * width:3 * width],
            scratch[3 * width:4 * width])


@register_jitable
def _result(status, pos, n, size):
    """``compile_one``'s return value: an error at the end of the stream is a truncation."""
    if status == OK:
        return OK, -1, size
    if pos >= n and (status == E_SYNTAX or status == E_BLOCK or status == E_HEADER):
        return E_TRUNCATED, n, 0
    return status, pos, 0


@register_jitable
def _clear(code, st):
    """Zero what the stream wrote of ``code`` (a rejected program's row stays all zero)."""
    for q in range(min(st[S_LEN], code.shape[0])):
        code[q, 0] = 0
        code[q, 1] = 0


@register_jitable
def compile_one(tokens, length, lits, nlits, nparams, nnames, opt, code, scratch, st):
    """Compile ``tokens[:length]`` at level ``opt`` (0 or 1) into ``code`` (``[max_code, 2]``).

    ``lits`` is the literal table (``nlits`` used), ``nparams``/``nnames`` the stream's counts;
    ``scratch`` holds ``scratch_size(len(tokens))`` int32 and ``st`` ``stream.STATE_SIZE``
    int64, contents irrelevant. Returns ``(status, err_pos, n)``: on success status 0, err_pos
    -1 and ``code[:n]`` the program; else ``code`` is left zero where it was zero.
    """
    width = tokens.shape[0]
    status, pos, n, varmask = _front(tokens, length, lits, nlits, nparams, nnames, scratch)
    size = 0
    if status == OK:
        nkind, narg, nchild, nsib = tree(scratch, width)
        ops, nodes, stmts, consts, blocks = _caps(width)
        at = 4 * width  # pass 2 reuses pass 1's stacks
        xs = scratch[at:at + 2 * nodes]
        at += 2 * nodes
        ss = scratch[at:at + STMT_WIDTH * stmts]
        at += STMT_WIDTH * stmts
        ls = scratch[at:at + LOOP_WIDTH * MAX_INDENT]
        at += LOOP_WIDTH * MAX_INDENT
        pend = scratch[at:at + 2 * consts]
        at += 2 * consts
        inl = scratch[at:at + blocks]
        start(st, opt, code.shape[0])
        emit_function(narg[0], nparams, varmask, nkind, narg, nchild, nsib, st, code, pend,
                      inl, xs, ss, ls)
        if st[S_STATUS] == OK:
            size = finish(st, code, pend, inl)
        status = st[S_STATUS]
        pos = st[S_POS]
        if status != OK:
            _clear(code, st)
    return _result(status, pos, n, size)


@register_jitable
def compile_one_o2(tokens, length, lits, nlits, nparams, nnames, code, scratch, st, ex, htab,
                   sm, pool, meta, work):
    """``compile_one`` at -O2: the same scan and parse, then ``o2.compile_tree``. The IR
    arrays (``ir_arrays`` layout) and ``work`` are sized by ``o2.capacities(len(tokens))``;
    a program that needs more gets ``E_ROOM``."""
    width = tokens.shape[0]
    status, pos, n, varmask = _front(tokens, length, lits, nlits, nparams, nnames, scratch)
    size = 0
    if status == OK:
        nkind, narg, nchild, nsib = tree(scratch, width)
        ops, nodes, stmts, consts, blocks = _caps(width)
        at = 4 * width
        pend = scratch[at:at + 2 * consts]
        at += 2 * consts
        inl = scratch[at:at + blocks]
        status, pos, size = compile_tree(narg[0], nparams, nnames, varmask, nkind, narg, nchild,
                                         nsib, st, code, pend, inl, ex, htab, sm, pool, meta,
                                         work)
        if status != OK:
            _clear(code, st)
    return _result(status, pos, n, size)
