"""Pass 1 of the batched compiler: one token stream -> an array-encoded syntax tree.

The tree lives in four int32 arrays indexed by *token position*: every node is created by one
token (a literal, a name, an operator, the first ``ASSIGN`` of an assignment, a statement
keyword), so node ``i`` is the token at ``i``, the error position of anything wrong with it.

- ``nkind[i] & 255`` is the node kind ``N_*``; an operand of a comparison chain also carries
  the opcode of the link that ends at it in ``nkind[i] >> 8``;
- ``narg[i]``: the literal value, the variable slot, or the opcode (``NO_OP`` for unary plus);
- ``nchild[i]``: the first child; children and statements are linked through ``nsib``.

Statement nodes: ``ASSIGN`` (targets from ``nchild``, value ``narg``), ``TUPLE`` (targets from
``nchild``, values from ``narg``), ``AUG`` (target ``nchild``, value its sibling, opcode
``narg``), ``IF`` (test ``nchild``, then-list from the test's sibling, else-list ``narg``: an
``elif`` is an ``IF`` alone in it), ``WHILE`` (test, body from the test's sibling), ``FOR``
(target ``nchild``, the range arguments its siblings, body ``narg``; the step and the argument
count sit at the ``RANGE`` token: ``narg``, ``nchild``), ``RETURN`` (value ``nchild`` or -1),
``BREAK``, ``CONTINUE``. ``pass`` makes no node. The function body's list starts at
``narg[0]`` (the ``DEF`` token).

Expressions are parsed by shunting-yard over an operator stack and a value stack; statements by
a loop over an explicit block stack. The parser rejects what the front end rejects on the
canonical source of the stream (``tokens.detokenize``), except definite assignment, which pass 2
checks; and where the structure of Python's syntax tree matters (its depth limit), it counts
Python's nodes.
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from ..frontend import BINOPS, BUILTINS, CMPOPS, MAX_AST_DEPTH
from ..isa import MAX_LOCALS, MAX_PARAMS, OP, PY_BUILTIN, PY_CONVERSION, PY_OPERATOR
from ..tokens import (AND, ASSIGN, AUG0, BINOP0, BINOP_PREC, BUILTIN0, BUILTIN_NAMES, CMP0,
                      COLON, COMMA, CONTINUE, DEDENT, DEF, ELIF, ELSE, FOR, IF, IN, INDENT,
                      LIT0, LPAR, MINUS, NAME0, NEWLINE, NOT, NUM_BINOPS, NUM_BUILTINS,
                      NUM_CMPS, NUM_LITS, NUM_NAMES, OR, PAD, PASS, PLUS, PREC_AND, PREC_CMP,
                      PREC_NOT, PREC_OR, PREC_UNARY, RANGE, RETURN, RPAR, TILDE, SOURCE_VOCAB_SIZE,
                      WHILE, BREAK)
from ..vm.core import alu1
from .status import (E_BLOCK, E_CALL, E_DEEP, E_EXPR_STMT, E_FOR_TEMPS, E_HEADER, E_LOOP_CTRL,
                     E_META, E_RANGE, E_SYNTAX, E_TRUNCATED, E_TUPLE, MAX_INDENT, MAX_PARENS,
                     OK)

# Node kinds.
(N_CONST, N_NAME, N_UNARY, N_BIN, N_CMP, N_BOOL, N_CALL, N_IFEXP, N_ASSIGN, N_TUPLE, N_AUG,
 N_IF, N_WHILE, N_FOR, N_BREAK, N_CONTINUE, N_RETURN) = range(1, 18)
NO_OP = -1  # opcode of unary plus and of int(x): it emits nothing
TRUTH = -2  # opcode of bool(x): it emits eqz twice
OP_NEG = OP["neg"]

# Token classes, for the expression parser; C_INVALID marks ids outside the vocabulary.
C_INVALID, C_OTHER, C_LIT, C_NAME, C_BIN, C_CMP, C_AND, C_OR, C_BUILTIN, C_AUG = range(10)


def _token_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per token id: class, binary precedence, opcode, builtin arity (0: two or more)."""
    cls = np.zeros(SOURCE_VOCAB_SIZE, np.int32)
    prec = np.zeros(SOURCE_VOCAB_SIZE, np.int32)
    opcode = np.full(SOURCE_VOCAB_SIZE, NO_OP, np.int32)
    arity = np.zeros(SOURCE_VOCAB_SIZE, np.int32)
    cls[1:BUILTIN0 + NUM_BUILTINS] = C_OTHER
    for i in range(NUM_BINOPS):
        cls[BINOP0 + i], prec[BINOP0 + i] = C_BIN, BINOP_PREC[i]
        cls[AUG0 + i] = C_AUG
        opcode[BINOP0 + i] = opcode[AUG0 + i] = PY_OPERATOR[BINOPS[i]]
    for i in range(NUM_CMPS):
        cls[CMP0 + i], prec[CMP0 + i] = C_CMP, PREC_CMP
        opcode[CMP0 + i] = PY_OPERATOR[CMPOPS[i]]
    cls[AND], prec[AND], opcode[AND] = C_AND, PREC_AND, OP["andv"]
    cls[OR], prec[OR], opcode[OR] = C_OR, PREC_OR, OP["orv"]
    opcode[NOT], opcode[TILDE] = OP["eqz"], OP["not"]
    for i, name in enumerate(BUILTIN_NAMES):
        cls[BUILTIN0 + i] = C_BUILTIN
        if name in PY_CONVERSION:
            # (a conversion the batched emitter does not know fails here, at import)
            opcode[BUILTIN0 + i] = {(): NO_OP, (OP["eqz"], OP["eqz"]): TRUTH}[PY_CONVERSION[name]]
        else:
            opcode[BUILTIN0 + i] = PY_BUILTIN[name]
        arity[BUILTIN0 + i] = BUILTINS[name] or 0
    cls[NAME0:NAME0 + NUM_NAMES] = C_NAME
    cls[LIT0:LIT0 + NUM_LITS] = C_LIT
    return cls, prec, opcode, arity


T_CLASS, T_PREC, T_OP, T_ARITY = _token_tables()

# Operator-stack entries: ops[3k] = kind | prec << 4 | token << 8, ops[3k + 1] = the value-stack
# index where a call's arguments or a chain's operands start, ops[3k + 2] = a chain's last
# comparison token. Value-stack entries: vals[2k] = node, vals[2k + 1] = its height in Python's
# syntax tree (which decides the depth limit).
K_PAREN, K_CALL, K_IFM, K_ELSEM, K_PREFIX, K_BIN, K_CHAIN = range(1, 8)
OPS_WIDTH, VALS_WIDTH = 3, 2
# Block-stack entries (pass 1): owner statement, where the list head goes (node * 2, + 1 for
# narg rather than nsib), last statement, statement count, syntax-tree depth of its statements,
# block kind, enclosing loops, enclosing for loops.
F_OWNER, F_HREF, F_TAIL, F_COUNT, F_DEPTH, F_KIND, F_LOOPS, F_FORS, FRAME_WIDTH = range(9)
BK_BODY, BK_THEN, BK_ELSE, BK_LOOP = range(4)
FRAMES_SIZE = MAX_INDENT * FRAME_WIDTH
# Depth of a function body's statements in Python's tree: Module, FunctionDef, statement.
BODY_DEPTH = 2


@register_jitable
def tok_at(tokens, n, j):
    """Token ``j`` of a stream of length ``n``; PAD past its end."""
    return tokens[j] if j < n else PAD


@register_jitable
def _leaf(nkind, narg, nchild, nsib, node, kind, arg):
    nkind[node] = kind
    narg[node] = arg
    nchild[node] = -1
    nsib[node] = -1


@register_jitable
def _siblings(vals, nsib, first, vp):
    """Link the nodes of value-stack entries ``first..vp-1`` as siblings, in order; returns
    their greatest height."""
    h = 0
    for q in range(first, vp):
        h = max(h, vals[VALS_WIDTH * q + 1])
        if q > first:
            nsib[vals[VALS_WIDTH * (q - 1)]] = vals[VALS_WIDTH * q]
    nsib[vals[VALS_WIDTH * (vp - 1)]] = -1
    return h


@register_jitable
def _reduce(tokens, ops, sp, vals, vp, nkind, narg, nchild, nsib):
    """Apply the operator on top of the stack to its operands: ``(sp, vp)`` after it."""
    e = ops[OPS_WIDTH * (sp - 1)]
    kind = e & 15
    tok = e >> 8
    t = tokens[tok]
    if kind == K_PREFIX:
        x = vals[VALS_WIDTH * (vp - 1)]
        h = vals[VALS_WIDTH * (vp - 1) + 1] + 1
        opcode = OP_NEG if t == MINUS else (NO_OP if t == PLUS else T_OP[t])
        _leaf(nkind, narg, nchild, nsib, tok, N_UNARY, opcode)
        nchild[tok] = x
    elif kind == K_BIN or kind == K_ELSEM:
        arity = 2 if kind == K_BIN else 3
        vp -= arity - 1
        base = VALS_WIDTH * (vp - 1)
        h = 0
        for q in range(arity):
            h = max(h, vals[base + VALS_WIDTH * q + 1])
            if q:
                nsib[vals[base + VALS_WIDTH * (q - 1)]] = vals[base + VALS_WIDTH * q]
        nsib[vals[base + VALS_WIDTH * (arity - 1)]] = -1
        _leaf(nkind, narg, nchild, nsib, tok, N_BIN if kind == K_BIN else N_IFEXP, T_OP[t])
        nchild[tok] = vals[base]
        h += 1
    else:  # a chain of comparisons, ``and``s or ``or``s: its operands are above `first`
        first = ops[OPS_WIDTH * (sp - 1) + 1]
        cmp = T_CLASS[t] == C_CMP
        if cmp:
            nkind[vals[VALS_WIDTH * (vp - 1)]] |= T_OP[tokens[ops[OPS_WIDTH * (sp - 1) + 2]]] << 8
        h = _siblings(vals, nsib, first, vp)
        _leaf(nkind, narg, nchild, nsib, tok, N_CMP if cmp else N_BOOL, T_OP[t])
        nchild[tok] = vals[VALS_WIDTH * first]
        h += vp - first  # a chain of n operands counts n levels (frontend.chain_levels)
        vp = first + 1
    vals[VALS_WIDTH * (vp - 1)] = tok
    vals[VALS_WIDTH * (vp - 1) + 1] = h
    return sp - 1, vp


@register_jitable
def _push_op(ops, sp, kind, prec, tok, first, last):
    base = OPS_WIDTH * sp
    ops[base] = kind | (prec << 4) | (tok << 8)
    ops[base + 1] = first
    ops[base + 2] = last
    return sp + 1


@register_jitable
def _operand_at(tokens, n, j, paren, lits, nkind, narg, nchild, nsib, ops, sp, vals, vp):
    """``parse_expr`` where an operand is expected, at token ``j``: a leaf, or a prefix
    operator, parenthesis or call that opens one. Returns ``(status, pos, j, sp, vp, paren,
    operand)``: ``operand`` whether an operand is still expected."""
    t = tok_at(tokens, n, j)
    c = T_CLASS[t]
    if c == C_LIT or c == C_NAME:
        if vp == len(vals) // VALS_WIDTH:
            return E_DEEP, j, j, sp, vp, paren, True
        if c == C_LIT:
            _leaf(nkind, narg, nchild, nsib, j, N_CONST, lits[t - LIT0])
        else:
            _leaf(nkind, narg, nchild, nsib, j, N_NAME, t - NAME0)
        vals[VALS_WIDTH * vp] = j
        vals[VALS_WIDTH * vp + 1] = 1 if c == C_NAME else 0  # a Name has its ctx below
        return OK, j, j + 1, sp, vp + 1, paren, False
    if sp == len(ops) // OPS_WIDTH:
        return E_DEEP, j, j, sp, vp, paren, True
    if t == LPAR or c == C_BUILTIN:
        if c == C_BUILTIN:
            if tok_at(tokens, n, j + 1) != LPAR:
                return E_CALL, j, j, sp, vp, paren, True
            sp = _push_op(ops, sp, K_CALL, 0, j, vp, 0)
            j += 1
        else:
            sp = _push_op(ops, sp, K_PAREN, 0, j, vp, 0)
        if paren + 1 > MAX_PARENS:
            return E_DEEP, j, j, sp, vp, paren + 1, True
        return OK, j, j + 1, sp, vp, paren + 1, True
    if t == MINUS or t == PLUS or t == TILDE:
        return OK, j, j + 1, _push_op(ops, sp, K_PREFIX, PREC_UNARY, j, 0, 0), vp, paren, True
    if t == NOT:
        # `not` starts an inversion: Python rejects it as an arithmetic, bitwise or comparison
        # operand (`a + not b`, `a < not b`, `-not a`).
        if sp > 0:
            e = ops[OPS_WIDTH * (sp - 1)]
            k = e & 15
            top = tokens[e >> 8]
            if k == K_BIN or (k == K_PREFIX and top != NOT) or \
                    (k == K_CHAIN and T_CLASS[top] == C_CMP):
                return E_SYNTAX, j, j, sp, vp, paren, True
        return OK, j, j + 1, _push_op(ops, sp, K_PREFIX, PREC_NOT, j, 0, 0), vp, paren, True
    if t == RPAR and sp > 0 and ops[OPS_WIDTH * (sp - 1)] & 15 == K_CALL \
            and ops[OPS_WIDTH * (sp - 1) + 1] == vp:
        return E_CALL, ops[OPS_WIDTH * (sp - 1)] >> 8, j, sp, vp, paren, True  # `abs()`
    return (E_CALL if t == RANGE else E_SYNTAX), j, j, sp, vp, paren, True


@register_jitable
def _binary_at(tokens, j, nkind, narg, nchild, nsib, ops, sp, vals, vp):
    """``parse_expr`` at a binary operator, comparison, ``and`` or ``or`` at ``j``: reduce what
    binds tighter, then extend a chain or push the operator. Returns ``(status, sp, vp)``."""
    t = tokens[j]
    c = T_CLASS[t]
    p = T_PREC[t]
    chain = c != C_BIN
    while sp > 0:
        e = ops[OPS_WIDTH * (sp - 1)]
        if e & 15 < K_PREFIX:  # a parenthesis, call or conditional: not an operator
            break
        pe = (e >> 4) & 15
        if pe > p or (pe == p and not chain):  # left-associative
            sp, vp = _reduce(tokens, ops, sp, vals, vp, nkind, narg, nchild, nsib)
        else:
            break
    e = ops[OPS_WIDTH * (sp - 1)] if sp > 0 else 0
    if chain and e & 15 == K_CHAIN and T_CLASS[tokens[e >> 8]] == c:
        if c == C_CMP:  # the operand just parsed ends the previous link
            last = OPS_WIDTH * (sp - 1) + 2
            nkind[vals[VALS_WIDTH * (vp - 1)]] |= T_OP[tokens[ops[last]]] << 8
            ops[last] = j
    elif sp == len(ops) // OPS_WIDTH:
        return E_DEEP, sp, vp
    elif chain:
        sp = _push_op(ops, sp, K_CHAIN, p, j, vp - 1, j)
    else:
        sp = _push_op(ops, sp, K_BIN, p, j, 0, 0)
    return OK, sp, vp


@register_jitable
def _conditional_at(tokens, j, nkind, narg, nchild, nsib, ops, sp, vals, vp):
    """``parse_expr`` at the ``if`` or ``else`` of a conditional expression at ``j``.
    Returns ``(status, sp, vp)``."""
    t = tokens[j]
    while sp > 0 and ops[OPS_WIDTH * (sp - 1)] & 15 >= K_PREFIX:
        sp, vp = _reduce(tokens, ops, sp, vals, vp, nkind, narg, nchild, nsib)
    k = ops[OPS_WIDTH * (sp - 1)] & 15 if sp > 0 else 0
    if t == IF:
        if k == K_IFM:  # the condition of a conditional is a disjunction
            return E_SYNTAX, sp, vp
        if sp == len(ops) // OPS_WIDTH:
            return E_DEEP, sp, vp
        return OK, _push_op(ops, sp, K_IFM, 0, j, 0, 0), vp
    if k != K_IFM:
        return E_SYNTAX, sp, vp
    ops[OPS_WIDTH * (sp - 1)] += K_ELSEM - K_IFM  # the node stays at the IF token
    return OK, sp, vp


@register_jitable
def _call(tokens, j, nkind, narg, nchild, nsib, ops, sp, vals, vp):
    """The ``)`` at ``j`` closes the call whose entry is ``ops`` slot ``sp``: check its arity
    and make its node. Returns ``(status, pos, vp)``."""
    e = ops[OPS_WIDTH * sp]
    tok = e >> 8
    first = ops[OPS_WIDTH * sp + 1]
    count = vp - first
    want = T_ARITY[tokens[tok]]
    if (want == 0 and count < 2) or (want != 0 and count != want):
        return E_CALL, tok, vp
    h = _siblings(vals, nsib, first, vp)
    _leaf(nkind, narg, nchild, nsib, tok, N_CALL, T_OP[tokens[tok]])
    nchild[tok] = vals[VALS_WIDTH * first]
    vals[VALS_WIDTH * first] = tok
    # the callee is a Name, height 2; n arguments count n levels (frontend.chain_levels)
    vals[VALS_WIDTH * first + 1] = max(2, h + count)
    return OK, j, first + 1


@register_jitable
def _close_at(tokens, n, j, paren, nkind, narg, nchild, nsib, ops, sp, vals, vp):
    """``parse_expr`` at a token that cannot continue the operand before it: finish the
    operators down to the innermost parenthesis or call, and close it (``)``) or go on to the
    call's next argument (``,``). Returns ``(status, pos, sp, vp, paren, operand, done)``,
    ``done`` when the expression ends here."""
    t = tok_at(tokens, n, j)
    while sp > 0:
        k = ops[OPS_WIDTH * (sp - 1)] & 15
        if k == K_PAREN or k == K_CALL:
            break
        if k == K_IFM:  # `x if c` without `else`
            return E_SYNTAX, j, sp, vp, paren, False, True
        sp, vp = _reduce(tokens, ops, sp, vals, vp, nkind, narg, nchild, nsib)
    if sp == 0:
        return OK, j, sp, vp, paren, False, True
    e = ops[OPS_WIDTH * (sp - 1)]
    if t == COMMA and e & 15 == K_PAREN:
        return E_TUPLE, j, sp, vp, paren, False, True
    if t != COMMA and t != RPAR:
        return E_SYNTAX, j, sp, vp, paren, False, True  # an unclosed parenthesis
    if t == COMMA:
        return OK, j, sp, vp, paren, True, False  # the next argument of a call
    if e & 15 == K_CALL:
        status, pos, vp = _call(tokens, j, nkind, narg, nchild, nsib, ops, sp - 1, vals, vp)
        return status, pos, sp - 1, vp, paren - 1, False, status != OK
    return OK, j, sp - 1, vp, paren - 1, False, False


@register_jitable
def parse_expr(tokens, n, j, paren, lits, nkind, narg, nchild, nsib, ops, vals):
    """Parse the expression at token ``j`` with ``paren`` parentheses already open.

    Stops at the first token that cannot continue it (at base level: ``)``, ``,``, NEWLINE,
    COLON...). Returns ``(status, pos, end, root, height)``: ``end`` is the stopping token and
    ``height`` the expression's height in Python's syntax tree.
    """
    sp = 0
    vp = 0
    operand = True  # expecting an operand (prefix position), else an operator
    while True:
        if operand:
            status, pos, j, sp, vp, paren, operand = _operand_at(
                tokens, n, j, paren, lits, nkind, narg, nchild, nsib, ops, sp, vals, vp)
            if status != OK:
                return status, pos, j, -1, 0
            continue
        t = tok_at(tokens, n, j)
        c = T_CLASS[t]
        if c == C_BIN or c == C_CMP or c == C_AND or c == C_OR:
            status, sp, vp = _binary_at(tokens, j, nkind, narg, nchild, nsib, ops, sp, vals, vp)
        elif t == IF or t == ELSE:
            status, sp, vp = _conditional_at(tokens, j, nkind, narg, nchild, nsib, ops, sp, vals,
                                             vp)
        else:
            status, pos, sp, vp, paren, operand, done = _close_at(
                tokens, n, j, paren, nkind, narg, nchild, nsib, ops, sp, vals, vp)
            if status != OK:
                return status, pos, j, -1, 0
            if done:
                return OK, j, j, vals[0], vals[1]
            j += 1
            continue
        if status != OK:
            return status, j, j, -1, 0
        j += 1
        operand = True


@register_jitable
def _open_block(tokens, n, j):
    """Status and position after ``COLON NEWLINE INDENT`` expected at ``j``."""
    for q in range(3):
        want = COLON if q == 0 else (NEWLINE if q == 1 else INDENT)
        if tok_at(tokens, n, j + q) != want:
            return E_SYNTAX, j + q
    return OK, j + 3


@register_jitable
def _push_frame(fr, nf, owner, href, depth, kind, loops, fors):
    base = FRAME_WIDTH * nf
    fr[base + F_OWNER] = owner
    fr[base + F_HREF] = href
    fr[base + F_TAIL] = -1
    fr[base + F_COUNT] = 0
    fr[base + F_DEPTH] = depth
    fr[base + F_KIND] = kind
    fr[base + F_LOOPS] = loops
    fr[base + F_FORS] = fors
    return nf + 1


@register_jitable
def _link(fr, nf, nsib, narg, node):
    """Append statement ``node`` to the innermost open block."""
    base = FRAME_WIDTH * (nf - 1)
    tail = fr[base + F_TAIL]
    if tail >= 0:
        nsib[tail] = node
    elif fr[base + F_HREF] & 1:
        narg[fr[base + F_HREF] >> 1] = node
    else:
        nsib[fr[base + F_HREF] >> 1] = node
    fr[base + F_TAIL] = node
    nsib[node] = -1


@register_jitable
def _step(nkind, narg, nchild, root):
    """The value of a range step (a literal, or minus one; unary plus is a no-op), or 0."""
    neg = False
    node = root
    while True:
        kind = nkind[node] & 255
        if kind == N_UNARY and narg[node] == NO_OP:
            node = nchild[node]
        elif kind == N_UNARY and narg[node] == OP_NEG and not neg:
            neg = True
            node = nchild[node]
        elif kind == N_CONST:
            return alu1(OP_NEG, narg[node]) if neg else narg[node]
        else:
            return 0


@register_jitable
def _parse_header(tokens, n, nparams):
    """``def f(a, b, ...):`` then NEWLINE INDENT, with the stream's parameter count:
    ``(status, pos, nparams)``, pos the first token of the body."""
    if tok_at(tokens, n, 0) != DEF or tok_at(tokens, n, 1) != LPAR:
        return E_HEADER, 0 if tok_at(tokens, n, 0) != DEF else 1, 0
    j = 2
    k = 0
    if tok_at(tokens, n, j) != RPAR:
        while True:
            if tok_at(tokens, n, j) != NAME0 + k or k == MAX_PARAMS:
                return E_HEADER, j, 0
            k += 1
            j += 1
            if tok_at(tokens, n, j) != COMMA:
                break
            j += 1
    if tok_at(tokens, n, j) != RPAR:
        return E_HEADER, j, 0
    status, j = _open_block(tokens, n, j + 1)
    if status != OK:
        return E_HEADER, j, 0
    if k != nparams:
        return E_META, 2, 0
    return OK, j, k


@register_jitable
def _operand(tokens, n, start, paren, stmt, depth, floor, lits, nkind, narg, nchild, nsib, ops,
             vals):
    """``parse_expr`` at ``start``, for a part of statement ``stmt`` whose expression root sits
    ``depth`` deep in Python's tree: E_DEEP at ``stmt`` when ``max(floor, depth + height)``
    passes the depth limit. Returns ``(status, pos, end, root)``."""
    status, pos, end, root, h = parse_expr(tokens, n, start, paren, lits, nkind, narg, nchild,
                                           nsib, ops, vals)
    if status != OK:
        return status, pos, end, root
    if max(floor, depth + h) > MAX_AST_DEPTH:
        return E_DEEP, stmt, end, root
    return OK, pos, end, root


@register_jitable
def _close_block(tokens, n, j, fr, nf, lits, nkind, narg, nchild, nsib, ops, vals):
    """The DEDENT at ``j`` closes the innermost block; an ``elif`` or ``else`` after a then-block
    opens the next. Returns ``(status, pos, nf, done)``: ``done`` once the body is closed."""
    base = FRAME_WIDTH * (nf - 1)
    if fr[base + F_COUNT] == 0:
        return E_BLOCK, j, nf, True
    kind = fr[base + F_KIND]
    owner = fr[base + F_OWNER]
    depth = fr[base + F_DEPTH]
    nf -= 1
    j += 1
    if kind == BK_BODY:
        return (OK if j == n else E_BLOCK), j, nf, True
    t = tok_at(tokens, n, j)
    if kind == BK_THEN and t == ELIF:
        # an IF alone in the else-list of `owner`, one level deeper in Python's tree
        _leaf(nkind, narg, nchild, nsib, j, N_IF, -1)
        narg[owner] = j
        status, pos, end, cond = _operand(tokens, n, j + 1, 0, j, depth + 1, 0, lits, nkind,
                                          narg, nchild, nsib, ops, vals)
        if status != OK:
            return status, pos, nf, True
        nchild[j] = cond
        status, end = _open_block(tokens, n, end)
        if status != OK:
            return status, end, nf, True
        nf = _push_frame(fr, nf, j, 2 * cond, depth + 1, BK_THEN, fr[base + F_LOOPS],
                         fr[base + F_FORS])
        return OK, end, nf, False
    if kind == BK_THEN and t == ELSE:
        status, end = _open_block(tokens, n, j + 1)
        if status != OK:
            return status, end, nf, True
        nf = _push_frame(fr, nf, owner, 2 * owner + 1, depth, BK_ELSE, fr[base + F_LOOPS],
                         fr[base + F_FORS])
        return OK, end, nf, False
    return OK, j, nf, False


@register_jitable
def _if_while(tokens, n, j, d, loops, fors, fr, nf, lits, nkind, narg, nchild, nsib, ops, vals):
    """``if``/``while`` at ``j``, its test and the opening of its block:
    ``(status, pos, nf)``, pos the block's first token."""
    t = tokens[j]
    _leaf(nkind, narg, nchild, nsib, j, N_IF if t == IF else N_WHILE, -1)
    status, pos, end, cond = _operand(tokens, n, j + 1, 0, j, d + 1, 0, lits, nkind, narg,
                                      nchild, nsib, ops, vals)
    if status != OK:
        return status, pos, nf
    nchild[j] = cond
    status, end = _open_block(tokens, n, end)
    if status != OK:
        return status, end, nf
    if nf == MAX_INDENT:
        return E_DEEP, j, nf
    _link(fr, nf, nsib, narg, j)
    if t == IF:
        nf = _push_frame(fr, nf, j, 2 * cond, d + 1, BK_THEN, loops, fors)
    else:
        nf = _push_frame(fr, nf, j, 2 * cond, d + 1, BK_LOOP, loops + 1, fors)
    return OK, end, nf


@register_jitable
def _range_args(tokens, n, j, d, lits, nkind, narg, nchild, nsib, ops, vals):
    """The arguments of ``range(`` after the target of the ``for`` at ``j``, linked after the
    target; the step and the argument count stored at the RANGE token. ``(status, pos)``, pos
    the token after ``)``."""
    prev = j + 1
    nargs = 0
    end = j + 5
    while True:
        status, pos, end, arg = _operand(tokens, n, end, 1, j, d + 2, 0, lits, nkind, narg,
                                         nchild, nsib, ops, vals)  # For > Call > argument
        if status != OK:
            return status, pos
        nsib[prev] = arg
        prev = arg
        nargs += 1
        t = tok_at(tokens, n, end)
        end += 1
        if t == RPAR:
            break
        if t != COMMA:
            return E_SYNTAX, end - 1
    nsib[prev] = -1
    rng = j + 3
    step = 1
    if nargs == 3:
        step = _step(nkind, narg, nchild, prev)
    if nargs > 3 or step == 0:
        return E_RANGE, rng
    narg[rng] = step
    nchild[rng] = nargs
    return OK, end


@register_jitable
def _for(tokens, n, j, d, loops, fors, nnames, fr, nf, lits, nkind, narg, nchild, nsib, ops,
         vals):
    """``for NAME in range(...):`` at ``j`` and the opening of its block:
    ``(status, pos, nf, slot)``, pos the block's first token, slot the target's variable."""
    target = j + 1
    if T_CLASS[tok_at(tokens, n, target)] != C_NAME:
        return E_SYNTAX, target, nf, 0
    for q in range(2, 5):
        if tok_at(tokens, n, j + q) != (IN if q == 2 else (RANGE if q == 3 else LPAR)):
            return E_SYNTAX, j + q, nf, 0
    slot = tokens[target] - NAME0
    _leaf(nkind, narg, nchild, nsib, j, N_FOR, -1)
    _leaf(nkind, narg, nchild, nsib, target, N_NAME, slot)
    nchild[j] = target
    status, end = _range_args(tokens, n, j, d, lits, nkind, narg, nchild, nsib, ops, vals)
    if status != OK:
        return status, end, nf, slot
    if nnames + 2 * (fors + 1) > MAX_LOCALS:
        return E_FOR_TEMPS, j, nf, slot
    if d + 3 > MAX_AST_DEPTH:  # For > Call > Name > Load
        return E_DEEP, j, nf, slot
    status, end = _open_block(tokens, n, end)
    if status != OK:
        return status, end, nf, slot
    if nf == MAX_INDENT:
        return E_DEEP, j, nf, slot
    _link(fr, nf, nsib, narg, j)
    nf = _push_frame(fr, nf, j, 2 * j + 1, d + 1, BK_LOOP, loops + 1, fors + 1)
    return OK, end, nf, slot


@register_jitable
def _assign(tokens, n, j, d, fr, nf, lits, nkind, narg, nchild, nsib, ops, vals):
    """``a = b = ... = value`` at ``j``, linked from the first target; the node is the first
    ASSIGN. ``(status, pos, variables)``: pos the token after the value, variables a bitmask."""
    t = tokens[j]
    last = j
    _leaf(nkind, narg, nchild, nsib, j, N_NAME, t - NAME0)
    assigned = np.int64(1) << (t - NAME0)
    end = j + 2
    while T_CLASS[tok_at(tokens, n, end)] == C_NAME and tok_at(tokens, n, end + 1) == ASSIGN:
        slot = tokens[end] - NAME0
        _leaf(nkind, narg, nchild, nsib, end, N_NAME, slot)
        assigned |= np.int64(1) << slot
        nsib[last] = end
        last = end
        end += 2
    node = j + 1
    _leaf(nkind, narg, nchild, nsib, node, N_ASSIGN, -1)
    nchild[node] = j
    status, pos, end, value = _operand(tokens, n, end, 0, j, d + 1, d + 2, lits, nkind, narg,
                                       nchild, nsib, ops, vals)
    if status != OK:
        return status, pos, assigned
    narg[node] = value
    _link(fr, nf, nsib, narg, node)
    return OK, end, assigned


@register_jitable
def _tuple_assign(tokens, n, j, d, fr, nf, lits, nkind, narg, nchild, nsib, ops, vals):
    """``a, b, ... = x, y, ...`` at ``j``: ``(status, pos, variables)`` as ``_assign``."""
    t = tokens[j]
    _leaf(nkind, narg, nchild, nsib, j, N_NAME, t - NAME0)
    seen = np.int64(1) << (t - NAME0)
    count = 1
    end = j + 1
    while tok_at(tokens, n, end) == COMMA:
        tk = tok_at(tokens, n, end + 1)
        if T_CLASS[tk] != C_NAME:
            return E_SYNTAX, end + 1, seen
        bit = np.int64(1) << (tk - NAME0)
        if seen & bit:
            return E_TUPLE, end + 1, seen
        seen |= bit
        _leaf(nkind, narg, nchild, nsib, end + 1, N_NAME, tk - NAME0)
        nsib[end - 1] = end + 1
        count += 1
        end += 2
    if tok_at(tokens, n, end) != ASSIGN:
        return E_SYNTAX, end, seen
    node = end
    _leaf(nkind, narg, nchild, nsib, node, N_TUPLE, -1)
    nchild[node] = j
    prev = -1
    while True:
        status, pos, end, value = _operand(tokens, n, end + 1, 0, j, d + 2, d + 3, lits, nkind,
                                           narg, nchild, nsib, ops, vals)  # Assign > Tuple > elt
        if status != OK:
            return status, pos, seen
        if prev < 0:
            narg[node] = value
        else:
            nsib[prev] = value
        prev = value
        count -= 1
        if tok_at(tokens, n, end) != COMMA:
            break
    nsib[prev] = -1
    if count != 0 and tok_at(tokens, n, end) == NEWLINE:
        return E_TUPLE, node, seen
    _link(fr, nf, nsib, narg, node)
    return OK, end, seen


@register_jitable
def _aug_assign(tokens, n, j, d, fr, nf, lits, nkind, narg, nchild, nsib, ops, vals):
    """``a op= value`` at ``j``: ``(status, pos, variables)`` as ``_assign``."""
    t = tokens[j]
    node = j + 1
    _leaf(nkind, narg, nchild, nsib, node, N_AUG, T_OP[tokens[node]])
    _leaf(nkind, narg, nchild, nsib, j, N_NAME, t - NAME0)
    nchild[node] = j
    status, pos, end, value = _operand(tokens, n, j + 2, 0, j, d + 1, d + 2, lits, nkind, narg,
                                       nchild, nsib, ops, vals)
    if status != OK:
        return status, pos, np.int64(0)
    nsib[j] = value
    _link(fr, nf, nsib, narg, node)
    return OK, end, np.int64(1) << (t - NAME0)


@register_jitable
def _line_statement(tokens, n, j, d, loops, fr, nf, lits, nkind, narg, nchild, nsib, ops, vals):
    """A statement that ends at its line's NEWLINE, linked into the innermost block (``pass``
    makes no node): ``(status, pos, variables)``, pos the token after the NEWLINE, variables
    the bitmask of those it assigns."""
    t = tokens[j]
    c = T_CLASS[t]
    status, end, assigned = OK, j + 1, np.int64(0)
    if t == BREAK or t == CONTINUE:
        if loops == 0:
            return E_LOOP_CTRL, j, assigned
        _leaf(nkind, narg, nchild, nsib, j, N_BREAK if t == BREAK else N_CONTINUE, 0)
        _link(fr, nf, nsib, narg, j)
    elif t == RETURN:
        _leaf(nkind, narg, nchild, nsib, j, N_RETURN, 0)
        if tok_at(tokens, n, end) != NEWLINE:
            status, pos, end, value = _operand(tokens, n, end, 0, j, d + 1, 0, lits, nkind, narg,
                                               nchild, nsib, ops, vals)
            if status != OK:
                return status, pos, assigned
            nchild[j] = value
        _link(fr, nf, nsib, narg, j)
    elif c == C_NAME:
        t1 = tok_at(tokens, n, j + 1)
        if t1 == ASSIGN:
            status, end, assigned = _assign(tokens, n, j, d, fr, nf, lits, nkind, narg, nchild,
                                            nsib, ops, vals)
        elif t1 == COMMA:
            status, end, assigned = _tuple_assign(tokens, n, j, d, fr, nf, lits, nkind, narg,
                                                  nchild, nsib, ops, vals)
        elif T_CLASS[t1] == C_AUG:
            status, end, assigned = _aug_assign(tokens, n, j, d, fr, nf, lits, nkind, narg,
                                                nchild, nsib, ops, vals)
        else:
            return E_EXPR_STMT, j, assigned
    elif c == C_LIT or c == C_BUILTIN or t == LPAR or t == MINUS or t == PLUS or \
            t == TILDE or t == NOT:
        return E_EXPR_STMT, j, assigned
    elif t != PASS:
        return E_SYNTAX, j, assigned
    if status != OK:
        return status, end, assigned
    if tok_at(tokens, n, end) != NEWLINE:
        return E_SYNTAX, end, assigned
    return OK, end + 1, assigned


@register_jitable
def parse_function(tokens, n, lits, nparams, nnames, nkind, narg, nchild, nsib, ops, vals,
                   fr):
    """Parse a whole token stream into the node arrays.

    ``nnames`` is the stream's count of distinct names, checked against the for loops' temp
    slots. Returns ``(status, pos, varmask)``: ``varmask`` has bit k set when variable k is a
    parameter or assigned somewhere (the front end's set of variables).
    """
    status, j, k = _parse_header(tokens, n, nparams)
    if status != OK:
        return status, j, 0
    varmask = (np.int64(1) << k) - 1
    narg[0] = -1
    nf = _push_frame(fr, 0, -1, 1, BODY_DEPTH, BK_BODY, 0, 0)
    while True:
        t = tok_at(tokens, n, j)
        if t == DEDENT:
            status, j, nf, done = _close_block(tokens, n, j, fr, nf, lits, nkind, narg, nchild,
                                               nsib, ops, vals)
            if status != OK:
                return status, j, 0
            if done:
                return OK, j, varmask
            continue
        if t == INDENT:
            return E_BLOCK, j, 0
        if j >= n:
            return E_TRUNCATED, n, 0
        base = FRAME_WIDTH * (nf - 1)
        d = fr[base + F_DEPTH]
        if d > MAX_AST_DEPTH:
            return E_DEEP, j, 0
        fr[base + F_COUNT] += 1
        loops = fr[base + F_LOOPS]
        fors = fr[base + F_FORS]
        if t == IF or t == WHILE:
            status, j, nf = _if_while(tokens, n, j, d, loops, fors, fr, nf, lits, nkind, narg,
                                      nchild, nsib, ops, vals)
        elif t == FOR:
            status, j, nf, slot = _for(tokens, n, j, d, loops, fors, nnames, fr, nf, lits, nkind,
                                       narg, nchild, nsib, ops, vals)
            varmask |= np.int64(1) << slot
        else:
            status, j, assigned = _line_statement(tokens, n, j, d, loops, fr, nf, lits, nkind,
                                                  narg, nchild, nsib, ops, vals)
            varmask |= assigned
        if status != OK:
            return status, j, 0
