"""Status codes of the batched compiler, one per program, and their messages.

0 is success; every other code rejects the program, with ``err_pos`` the index of the token
where the problem was found (the stream's length for problems at its end). The codes are plain
ints so that the numba routines can return them.
"""
from __future__ import annotations

from ..frontend import MAX_AST_DEPTH
from ..isa import MAX_LOCALS, MAX_NEST, MAX_PARAMS, MAX_STACK
from ..tokens import NUM_LITS, NUM_NAMES

# Python's own limits on nesting (CPython 3.11-3.12: the tokenizer's MAXLEVEL and MAXINDENT):
# the front end rejects sources beyond them, so the batched compiler does too.
MAX_PARENS = 200          # open parentheses at any point
MAX_INDENT = 99           # indentation levels, the function body's included

OK = 0
E_LENGTH = 1
E_TOKEN = 2
E_NAME_ORDER = 3
E_META = 4
E_HEADER = 5
E_SYNTAX = 6
E_BLOCK = 7
E_TRUNCATED = 8
E_EXPR_STMT = 9
E_TUPLE = 10
E_CALL = 11
E_RANGE = 12
E_LOOP_CTRL = 13
E_UNDEFINED = 14
E_UNASSIGNED = 15
E_FOR_TEMPS = 16
E_DEEP = 17
E_STACK = 18
E_NEST = 19
E_TOO_LONG = 20
E_ROOM = 21
E_INTERNAL = 22

MESSAGES: tuple[str, ...] = (
    "ok",
    f"length outside the token array, or nlits/nparams/nnames outside 0..{NUM_LITS}/"
    f"{MAX_PARAMS}/{NUM_NAMES}",
    "not a token id, PAD inside the stream, or LIT k beyond the literal table",
    "NAME k out of order: variables are numbered by first appearance, parameters first",
    "nparams or nnames disagrees with the tokens",
    "malformed header: expected DEF LPAR NAME0 COMMA NAME1 ... RPAR COLON NEWLINE INDENT",
    "unexpected token",
    "malformed block: INDENT or DEDENT out of place, an empty block, or tokens after the "
    "function's last DEDENT",
    "the token stream ends inside the function",
    "an expression on its own has no effect; assign or return it",
    "tuple assignment needs as many values as names, each name once; no other tuples",
    "a builtin is called with the wrong number of arguments, or not called",
    "range takes 1 to 3 arguments, and its step must be a nonzero integer constant",
    "break or continue outside a loop",
    "a name that is never assigned is read",
    "a variable may be read before it is assigned",
    f"too many variables for the nested for loops: each takes 2 of the {MAX_LOCALS} slots",
    f"nested too deeply: more than {MAX_AST_DEPTH} syntax levels, {MAX_PARENS} open "
    f"parentheses or {MAX_INDENT} indentation levels",
    f"expression too deep: it needs more than {MAX_STACK} operand stack slots",
    f"control flow nested too deeply: more than {MAX_NEST} open blocks",
    "code longer than max_code instructions",
    "the -O2 passes need more room than the compiler has for a program of this length "
    "(compile it at -O1, or pad the token row wider)",
    "internal error: the compiler produced invalid code (a bug; please report it)",
)
NUM_STATUSES = len(MESSAGES)


def status_message(status: int) -> str:
    """The message of a status code (``'unknown status N'`` for codes outside the table)."""
    status = int(status)
    return MESSAGES[status] if 0 <= status < NUM_STATUSES else f"unknown status {status}"
