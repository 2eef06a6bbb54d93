"""The canonical token form of kiln source, and its inverse.

A source function becomes an int32 token stream over a vocabulary of 160 ids, declared once in
``_TOKENS`` below: keywords and punctuation, the operators, the builtins, ``NAME k`` for the
function's k-th variable in slot order (``frontend.Function.names``: parameters first, then by
first appearance) and ``LIT k`` for the k-th distinct literal *value* (int32, after wrapping;
``True``/``False`` are 1/0), numbered by first appearance. The literal values travel beside the
tokens in a table of at most 64 entries.

The stream is canonical: one token sequence per function up to what kiln cannot observe. The
function's name, annotations, docstrings and unary ``+`` are dropped; parentheses are the
minimal ones Python's precedence needs; nested ``or``/``and`` chains of one operator are
flattened (both operators are associative in Python's value semantics); ``else: if`` is
``elif``, a one-name tuple assignment a plain one, and an empty one ``pass``. So, for every valid
source ``s``, ``tokenize(detokenize(tokenize(s))) == tokenize(s)``.

``detokenize`` reads any well-formed token sequence (redundant parentheses included) back into
canonical source text with 4-space indentation, naming variable ``k`` ``v{k}``, and raises
``TokenError`` with the position of the first token that breaks the grammar.
"""
from __future__ import annotations

import ast
import keyword
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from .frontend import BINOPS, BUILTINS, CMPOPS, MAX_AST_DEPTH, CompileError, deep_recursion, \
    literal_value, parse_function
from .isa import wrap

# fmt: off
PAD, NEWLINE, INDENT, DEDENT, DEF, LPAR, RPAR, COMMA, COLON, ASSIGN = range(10)
IF, ELIF, ELSE, WHILE, FOR, IN, RANGE, BREAK, CONTINUE, RETURN, PASS, AND, OR, NOT = range(10, 24)
PLUS, MINUS, STAR, FLOORDIV, PERCENT, LSHIFT, RSHIFT, AMP, PIPE, CARET = range(24, 34)
TILDE = 34
EQ, NE, LT, LE, GT, GE = range(35, 41)
PLUSEQ, MINUSEQ, STAREQ, FLOORDIVEQ, PERCENTEQ, LSHIFTEQ, RSHIFTEQ, AMPEQ, PIPEEQ, CARETEQ = \
    range(41, 51)
ABS, MIN, MAX, LSHR, ULT, ULE, UGT, UGE, UDIV, UREM, INT, BOOL = range(51, 63)
NAME0, NUM_NAMES = 64, 32
LIT0, NUM_LITS = 96, 64
SOURCE_VOCAB_SIZE = 160

BINOP0, NUM_BINOPS = PLUS, 10    # binary operator i: BINOP0 + i, in frontend.BINOPS order
CMP0, NUM_CMPS = EQ, 6           # comparison i: CMP0 + i, in frontend.CMPOPS order
AUG0 = PLUSEQ                    # augmented assignment with binary operator i: AUG0 + i
BUILTIN0, NUM_BUILTINS = ABS, 12  # builtin i: BUILTIN0 + i, in BUILTIN_NAMES order

# Every fixed token: id, debugging name, source text.
_TOKENS: tuple[tuple[int, str, str], ...] = (
    (PAD, "PAD", ""), (NEWLINE, "NEWLINE", ""), (INDENT, "INDENT", ""), (DEDENT, "DEDENT", ""),
    (DEF, "DEF", "def"), (LPAR, "LPAR", "("), (RPAR, "RPAR", ")"), (COMMA, "COMMA", ","),
    (COLON, "COLON", ":"), (ASSIGN, "ASSIGN", "="),
    (IF, "IF", "if"), (ELIF, "ELIF", "elif"), (ELSE, "ELSE", "else"), (WHILE, "WHILE", "while"),
    (FOR, "FOR", "for"), (IN, "IN", "in"), (RANGE, "RANGE", "range"), (BREAK, "BREAK", "break"),
    (CONTINUE, "CONTINUE", "continue"), (RETURN, "RETURN", "return"), (PASS, "PASS", "pass"),
    (AND, "AND", "and"), (OR, "OR", "or"), (NOT, "NOT", "not"),
    (PLUS, "PLUS", "+"), (MINUS, "MINUS", "-"), (STAR, "STAR", "*"),
    (FLOORDIV, "FLOORDIV", "//"), (PERCENT, "PERCENT", "%"), (LSHIFT, "LSHIFT", "<<"),
    (RSHIFT, "RSHIFT", ">>"), (AMP, "AMP", "&"), (PIPE, "PIPE", "|"), (CARET, "CARET", "^"),
    (TILDE, "TILDE", "~"),
    (EQ, "EQ", "=="), (NE, "NE", "!="), (LT, "LT", "<"), (LE, "LE", "<="), (GT, "GT", ">"),
    (GE, "GE", ">="),
    (PLUSEQ, "PLUSEQ", "+="), (MINUSEQ, "MINUSEQ", "-="), (STAREQ, "STAREQ", "*="),
    (FLOORDIVEQ, "FLOORDIVEQ", "//="), (PERCENTEQ, "PERCENTEQ", "%="),
    (LSHIFTEQ, "LSHIFTEQ", "<<="), (RSHIFTEQ, "RSHIFTEQ", ">>="), (AMPEQ, "AMPEQ", "&="),
    (PIPEEQ, "PIPEEQ", "|="), (CARETEQ, "CARETEQ", "^="),
    (ABS, "ABS", "abs"), (MIN, "MIN", "min"), (MAX, "MAX", "max"), (LSHR, "LSHR", "lshr"),
    (ULT, "ULT", "ult"), (ULE, "ULE", "ule"), (UGT, "UGT", "ugt"), (UGE, "UGE", "uge"),
    (UDIV, "UDIV", "udiv"), (UREM, "UREM", "urem"), (INT, "INT", "int"), (BOOL, "BOOL", "bool"),
)

# Python's precedence levels, lowest first; an operand whose level is below what its position
# needs is parenthesised.
(PREC_IFEXP, PREC_OR, PREC_AND, PREC_NOT, PREC_CMP, PREC_BOR, PREC_BXOR, PREC_BAND, PREC_SHIFT,
 PREC_ARITH, PREC_TERM, PREC_UNARY, PREC_ATOM) = range(13)
BINOP_PREC: tuple[int, ...] = (PREC_ARITH, PREC_ARITH, PREC_TERM, PREC_TERM, PREC_TERM,
                               PREC_SHIFT, PREC_SHIFT, PREC_BAND, PREC_BOR, PREC_BXOR)
BUILTIN_NAMES: tuple[str, ...] = ("abs", "min", "max", "lshr", "ult", "ule", "ugt", "uge",
                                  "udiv", "urem", "int", "bool")
# fmt: on

_NAME = {tok: name for tok, name, _ in _TOKENS}
_TEXT = {tok: text for tok, _, text in _TOKENS}
BINOP_SYMBOLS: tuple[str, ...] = tuple(_TEXT[BINOP0 + i] for i in range(NUM_BINOPS))
CMP_SYMBOLS: tuple[str, ...] = tuple(_TEXT[CMP0 + i] for i in range(NUM_CMPS))
_BUILTIN_ARITY = {BUILTIN0 + i: BUILTINS[name] for i, name in enumerate(BUILTIN_NAMES)}
_UNARY = "unary"  # payload that marks MINUS as the prefix operator
_KEYWORD_STATEMENTS = {ast.Break: BREAK, ast.Continue: CONTINUE, ast.Pass: PASS}


def source_token_name(tok: int) -> str:
    """A readable name for token id ``tok`` (``NAME3``, ``LIT0``, ``PLUS``), for debugging."""
    tok = int(tok)
    if tok in _NAME:
        return _NAME[tok]
    if NAME0 <= tok < NAME0 + NUM_NAMES:
        return f"NAME{tok - NAME0}"
    if LIT0 <= tok < LIT0 + NUM_LITS:
        return f"LIT{tok - LIT0}"
    return f"<invalid {tok}>"


class TokenError(ValueError):
    """A malformed token sequence: ``position`` is the index of the offending token."""

    def __init__(self, position: int, message: str):
        self.position = position
        self.message = message
        super().__init__(f"token {position}: {message}")


@dataclass(frozen=True, eq=False)
class TokenizedSource:
    """One function in canonical token form: ``tokens`` and ``lits`` are int32 arrays."""

    tokens: np.ndarray
    lits: np.ndarray
    nparams: int
    nnames: int

    @property
    def nlits(self) -> int:
        return len(self.lits)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TokenizedSource):
            return NotImplemented
        return (self.nparams == other.nparams and self.nnames == other.nnames
                and np.array_equal(self.tokens, other.tokens)
                and np.array_equal(self.lits, other.lits))

    __hash__ = None  # type: ignore[assignment]  # arrays are mutable


# ------------------------------------------------------------------------------------------
# Canonical emission: AST -> symbols. A symbol is (token, payload): payload is the variable
# name for NAME0, (value, node) for LIT0, _UNARY for prefix MINUS, else None.

Symbol = tuple[int, Any]


def _strip_uplus(e: ast.expr) -> ast.expr:
    while isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.UAdd):
        e = e.operand
    return e


def _prec(e: ast.expr) -> int:
    if isinstance(e, ast.IfExp):
        return PREC_IFEXP
    if isinstance(e, ast.BoolOp):
        return PREC_OR if isinstance(e.op, ast.Or) else PREC_AND
    if isinstance(e, ast.UnaryOp):
        return PREC_NOT if isinstance(e.op, ast.Not) else PREC_UNARY
    if isinstance(e, ast.Compare):
        return PREC_CMP
    if isinstance(e, ast.BinOp):
        return BINOP_PREC[_index(BINOPS, e.op)]
    return PREC_ATOM


def _index(classes: tuple[type, ...], op: ast.AST) -> int:
    return next(i for i, cls in enumerate(classes) if isinstance(op, cls))


def _flatten(op: ast.boolop, values: list[ast.expr]) -> list[ast.expr]:
    out = []
    for v in map(_strip_uplus, values):
        if isinstance(v, ast.BoolOp) and type(v.op) is type(op):
            out.extend(_flatten(op, v.values))
        else:
            out.append(v)
    return out


class _Emitter:
    """Walks a checked function body and writes its canonical symbol stream."""

    def __init__(self) -> None:
        self.out: list[Symbol] = []

    def tok(self, tok: int, payload: Any = None) -> None:
        self.out.append((tok, payload))

    def function(self, params: Sequence[str], body: Sequence[ast.stmt]) -> list[Symbol]:
        self.tok(DEF)
        self.tok(LPAR)
        for i, p in enumerate(params):
            if i:
                self.tok(COMMA)
            self.tok(NAME0, p)
        self.tok(RPAR)
        self.suite(body)
        return self.out

    def suite(self, body: Sequence[ast.stmt]) -> None:
        self.tok(COLON)
        self.tok(NEWLINE)
        self.tok(INDENT)
        for s in body:
            self.stmt(s)
        self.tok(DEDENT)

    def stmt(self, s: ast.stmt) -> None:
        if isinstance(s, ast.Assign):
            self.assign(s)
        elif isinstance(s, ast.AugAssign):
            self.tok(NAME0, s.target.id)
            self.tok(AUG0 + _index(BINOPS, s.op))
            self.expr(s.value)
        elif isinstance(s, ast.If):
            self.tok(IF)
            self.expr(s.test)
            self.suite(s.body)
            orelse = s.orelse
            while len(orelse) == 1 and isinstance(orelse[0], ast.If):
                self.tok(ELIF)
                self.expr(orelse[0].test)
                self.suite(orelse[0].body)
                orelse = orelse[0].orelse
            if orelse:
                self.tok(ELSE)
                self.suite(orelse)
            return
        elif isinstance(s, ast.While):
            self.tok(WHILE)
            self.expr(s.test)
            self.suite(s.body)
            return
        elif isinstance(s, ast.For):
            self.tok(FOR)
            self.tok(NAME0, s.target.id)
            self.tok(IN)
            self.tok(RANGE)
            self.args(s.iter.args)
            self.suite(s.body)
            return
        elif isinstance(s, ast.Return):
            self.tok(RETURN)
            if s.value is not None:
                self.expr(s.value)
        else:  # the front end admits no other statement
            self.tok(_KEYWORD_STATEMENTS[type(s)])
        self.tok(NEWLINE)

    def assign(self, s: ast.Assign) -> None:
        target = s.targets[0]
        if len(s.targets) == 1 and isinstance(target, ast.Tuple):
            names, values = [t.id for t in target.elts], s.value.elts
            if not names:
                self.tok(PASS)
                return
            for i, name in enumerate(names):
                if i:
                    self.tok(COMMA)
                self.tok(NAME0, name)
            self.tok(ASSIGN)
            for i, value in enumerate(values):
                if i:
                    self.tok(COMMA)
                self.expr(value)
            return
        for t in s.targets:
            self.tok(NAME0, t.id)
            self.tok(ASSIGN)
        self.expr(s.value)

    def args(self, args: Sequence[ast.expr]) -> None:
        self.tok(LPAR)
        for i, a in enumerate(args):
            if i:
                self.tok(COMMA)
            self.expr(a)
        self.tok(RPAR)

    def expr(self, e: ast.expr, min_prec: int = PREC_IFEXP) -> None:
        e = _strip_uplus(e)
        prec = _prec(e)
        if prec < min_prec:
            self.tok(LPAR)
        if isinstance(e, ast.IfExp):
            self.expr(e.body, PREC_OR)
            self.tok(IF)
            self.expr(e.test, PREC_OR)
            self.tok(ELSE)
            self.expr(e.orelse, PREC_IFEXP)
        elif isinstance(e, ast.BoolOp):
            op = OR if isinstance(e.op, ast.Or) else AND
            for i, v in enumerate(_flatten(e.op, e.values)):
                if i:
                    self.tok(op)
                self.expr(v, prec + 1)
        elif isinstance(e, ast.UnaryOp):
            if isinstance(e.op, ast.USub):
                self.tok(MINUS, _UNARY)
            else:
                self.tok(NOT if isinstance(e.op, ast.Not) else TILDE)
            self.expr(e.operand, prec)
        elif isinstance(e, ast.Compare):
            self.expr(e.left, PREC_BOR)
            for op, right in zip(e.ops, e.comparators):
                self.tok(CMP0 + _index(CMPOPS, op))
                self.expr(right, PREC_BOR)
        elif isinstance(e, ast.BinOp):
            self.expr(e.left, prec)
            self.tok(BINOP0 + _index(BINOPS, e.op))
            self.expr(e.right, prec + 1)
        elif isinstance(e, ast.Call):
            self.tok(BUILTIN0 + BUILTIN_NAMES.index(e.func.id))
            self.args(e.args)
        elif isinstance(e, ast.Name):
            self.tok(NAME0, e.id)
        else:
            self.tok(LIT0, (literal_value(e), e))
        if prec < min_prec:
            self.tok(RPAR)


def tokenize(source: str) -> TokenizedSource:
    """The canonical token form of ``source``; CompileError if it is not a valid kiln function."""
    fn = parse_function(source)
    with deep_recursion():
        symbols = _Emitter().function(fn.params, fn.body)
    slot = {name: k for k, name in enumerate(fn.names)}
    lit_index: dict[int, int] = {}
    tokens = np.empty(len(symbols), dtype=np.int32)
    for i, (tok, payload) in enumerate(symbols):
        if tok == NAME0:
            tok += slot[payload]
        elif tok == LIT0:
            value, node = payload
            if value not in lit_index:
                if len(lit_index) == NUM_LITS:
                    raise CompileError(f"function uses more than {NUM_LITS} distinct literal "
                                       f"values; at most {NUM_LITS} are supported",
                                       node.lineno, node.col_offset + 1)
                lit_index[value] = len(lit_index)
            tok += lit_index[value]
        tokens[i] = tok
    lits = np.array(list(lit_index), dtype=np.int32)
    return TokenizedSource(tokens, lits, fn.nparams, len(fn.names))


# ------------------------------------------------------------------------------------------
# Reading tokens back: a recursive-descent parser for the token grammar (Python's grammar on
# the kiln subset) that builds Python ast nodes, which the emitter above then prints.

class _Parser:
    def __init__(self, tokens: np.ndarray, lits: np.ndarray):
        self.toks = [int(t) for t in tokens]
        self.lits = lits
        self.end = len(self.toks)
        while self.end and self.toks[self.end - 1] == PAD:  # trailing padding
            self.end -= 1
        self.pos = 0
        self.loops = 0
        self.nesting = 0

    # helpers -------------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> int:
        i = self.pos + ahead
        return self.toks[i] if i < self.end else -1

    def error(self, message: str) -> TokenError:
        return TokenError(self.pos, message)

    def found(self) -> str:
        return source_token_name(self.peek()) if self.pos < self.end else "end of input"

    def expect(self, tok: int, context: str = "") -> None:
        if self.peek() != tok:
            where = f" {context}" if context else ""
            raise self.error(f"expected {source_token_name(tok)}{where}, found {self.found()}")
        self.pos += 1

    def name(self, context: str) -> str:
        tok = self.peek()
        if not NAME0 <= tok < NAME0 + NUM_NAMES:
            raise self.error(f"expected a variable NAME {context}, found {self.found()}")
        self.pos += 1
        return f"v{tok - NAME0}"

    def nest(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_AST_DEPTH:
            raise self.error(f"nested more than {MAX_AST_DEPTH} levels deep")

    # structure -----------------------------------------------------------------------------

    def function(self) -> tuple[list[str], list[ast.stmt]]:
        for i, tok in enumerate(self.toks):
            if tok not in _NAME and not NAME0 <= tok < SOURCE_VOCAB_SIZE:
                raise TokenError(i, f"{tok} is not a token id")
        self.expect(DEF, "to start the function")
        self.expect(LPAR, "after DEF")
        params: list[str] = []
        while self.peek() != RPAR:
            if params:
                self.expect(COMMA, "between parameters")
            name = self.name("as a parameter")
            if name in params:
                name = source_token_name(self.toks[self.pos - 1])
                raise TokenError(self.pos - 1, f"parameter {name} appears twice")
            params.append(name)
        self.pos += 1
        body = self.suite()
        if self.pos < self.end:
            raise self.error(f"expected only PAD after the function's last DEDENT, found "
                             f"{self.found()}")
        return params, body

    def suite(self) -> list[ast.stmt]:
        self.expect(COLON, "to open a block")
        self.expect(NEWLINE, "after COLON")
        self.expect(INDENT, "to open a block")
        self.nest()
        body = []
        while self.peek() != DEDENT:
            body.append(self.stmt())
        if not body:
            raise self.error("a block needs at least one statement (PASS NEWLINE)")
        self.pos += 1
        self.nesting -= 1
        return body

    def stmt(self) -> ast.stmt:
        tok = self.peek()
        if tok == IF:
            self.pos += 1
            return self.if_chain()
        if tok in (ELIF, ELSE):
            raise self.error(f"{source_token_name(tok)} without a preceding IF block")
        if tok == WHILE:
            self.pos += 1
            test = self.expression()
            return ast.While(test, self.loop_body(), [])
        if tok == FOR:
            self.pos += 1
            target = ast.Name(self.name("after FOR"), ast.Store())
            self.expect(IN, "after the FOR variable")
            self.expect(RANGE, "after IN")
            args = self.call_args(RANGE, 1, 3)
            call = ast.Call(ast.Name("range", ast.Load()), args, [])
            return ast.For(target, call, self.loop_body(), [])
        if tok in (BREAK, CONTINUE):
            if not self.loops:
                raise self.error(f"{source_token_name(tok)} outside a loop")
            self.pos += 1
            node: ast.stmt = ast.Break() if tok == BREAK else ast.Continue()
        elif tok == PASS:
            self.pos += 1
            node = ast.Pass()
        elif tok == RETURN:
            self.pos += 1
            node = ast.Return(None if self.peek() == NEWLINE else self.expression())
        elif NAME0 <= tok < NAME0 + NUM_NAMES:
            node = self.assignment()
        else:
            raise self.error(f"expected a statement, found {self.found()}")
        self.expect(NEWLINE, "to end the statement")
        return node

    def if_chain(self) -> ast.If:
        arms = [(self.expression(), self.suite())]
        while self.peek() == ELIF:
            self.pos += 1
            arms.append((self.expression(), self.suite()))
        orelse: list[ast.stmt] = []
        if self.peek() == ELSE:
            self.pos += 1
            orelse = self.suite()
        for test, body in reversed(arms):  # each ELIF is an IF nested in the ELSE before it
            orelse = [ast.If(test, body, orelse)]
        return orelse[0]

    def loop_body(self) -> list[ast.stmt]:
        self.loops += 1
        body = self.suite()
        self.loops -= 1
        return body

    def assignment(self) -> ast.stmt:
        first = self.name("as an assignment target")
        tok = self.peek()
        if AUG0 <= tok < AUG0 + NUM_BINOPS:
            self.pos += 1
            op = BINOPS[tok - AUG0]()
            return ast.AugAssign(ast.Name(first, ast.Store()), op, self.expression())
        if tok == COMMA:
            names = [first]
            while self.peek() == COMMA:
                self.pos += 1
                names.append(self.name("in a tuple assignment"))
            self.expect(ASSIGN, "after the tuple of targets")
            values = [self.expression()]
            while self.peek() == COMMA:
                self.pos += 1
                values.append(self.expression())
            if len(values) != len(names):
                raise self.error(f"tuple assignment of {len(values)} values to {len(names)} "
                                 f"names")
            target = ast.Tuple([ast.Name(n, ast.Store()) for n in names], ast.Store())
            return ast.Assign([target], ast.Tuple(values, ast.Load()))
        self.expect(ASSIGN, "after the assignment target")
        targets = [ast.Name(first, ast.Store())]
        while NAME0 <= self.peek() < NAME0 + NUM_NAMES and self.peek(1) == ASSIGN:
            targets.append(ast.Name(self.name("as an assignment target"), ast.Store()))
            self.pos += 1
        return ast.Assign(targets, self.expression())

    # expressions ---------------------------------------------------------------------------

    def expression(self) -> ast.expr:
        self.nest()
        body = self.disjunction()
        if self.peek() == IF:
            self.pos += 1
            test = self.disjunction()
            self.expect(ELSE, "in a conditional expression")
            body = ast.IfExp(test, body, self.expression())
        self.nesting -= 1
        return body

    def disjunction(self) -> ast.expr:
        return self.boolop(OR, ast.Or, self.conjunction)

    def conjunction(self) -> ast.expr:
        return self.boolop(AND, ast.And, self.inversion)

    def boolop(self, tok: int, op: type, operand: Any) -> ast.expr:
        values = [operand()]
        while self.peek() == tok:
            self.pos += 1
            values.append(operand())
        return values[0] if len(values) == 1 else ast.BoolOp(op(), values)

    def inversion(self) -> ast.expr:
        if self.peek() == NOT:
            self.pos += 1
            self.nest()
            node = ast.UnaryOp(ast.Not(), self.inversion())
            self.nesting -= 1
            return node
        left = self.binary(PREC_BOR)
        ops, comparators = [], []
        while CMP0 <= self.peek() < CMP0 + NUM_CMPS:
            ops.append(CMPOPS[self.peek() - CMP0]())
            self.pos += 1
            comparators.append(self.binary(PREC_BOR))
        return ast.Compare(left, ops, comparators) if ops else left

    def binary(self, prec: int) -> ast.expr:
        """Left-associative binary operators of level ``prec`` and above (precedence climbing)."""
        if prec > PREC_TERM:
            return self.factor()
        left = self.binary(prec + 1)
        chain = 0  # a chain of n operators nests n BinOp nodes
        while BINOP0 <= self.peek() < BINOP0 + NUM_BINOPS \
                and BINOP_PREC[self.peek() - BINOP0] == prec:
            chain += 1
            if self.nesting + chain > MAX_AST_DEPTH:
                raise self.error(f"nested more than {MAX_AST_DEPTH} levels deep")
            op = BINOPS[self.peek() - BINOP0]()
            self.pos += 1
            left = ast.BinOp(left, op, self.binary(prec + 1))
        return left

    def factor(self) -> ast.expr:
        tok = self.peek()
        if tok in (PLUS, MINUS, TILDE):
            self.pos += 1
            self.nest()
            op = {PLUS: ast.UAdd, MINUS: ast.USub, TILDE: ast.Invert}[tok]()
            node = ast.UnaryOp(op, self.factor())
            self.nesting -= 1
            return node
        if NAME0 <= tok < NAME0 + NUM_NAMES:
            return ast.Name(self.name(""), ast.Load())
        if LIT0 <= tok < LIT0 + NUM_LITS:
            k = tok - LIT0
            if k >= len(self.lits):
                raise self.error(f"{source_token_name(tok)} but the literal table has "
                                 f"{len(self.lits)} entries")
            self.pos += 1
            return ast.Constant(wrap(int(self.lits[k])))
        if tok == LPAR:
            self.pos += 1
            node = self.expression()
            self.expect(RPAR, "to close LPAR")
            return node
        if BUILTIN0 <= tok < BUILTIN0 + NUM_BUILTINS:
            arity = _BUILTIN_ARITY[tok]
            self.pos += 1
            args = self.call_args(tok, arity or 2, arity)
            return ast.Call(ast.Name(BUILTIN_NAMES[tok - BUILTIN0], ast.Load()), args, [])
        raise self.error(f"expected an expression, found {self.found()}")

    def call_args(self, func: int, least: int, most: int | None) -> list[ast.expr]:
        """Parenthesised arguments of ``func``: ``least`` to ``most`` (None: no limit) of them."""
        start = self.pos - 1
        self.expect(LPAR, f"after {source_token_name(func)}")
        args = [self.expression()]
        while self.peek() == COMMA:
            self.pos += 1
            args.append(self.expression())
        self.expect(RPAR, f"to close the arguments of {source_token_name(func)}")
        if len(args) < least or (most is not None and len(args) > most):
            want = (f"at least {least}" if most is None
                    else str(least) if least == most else f"{least} to {most}")
            raise TokenError(start, f"{source_token_name(func)} takes {want} arguments, "
                                    f"got {len(args)}")
        return args


def _as_array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
    arr = np.asarray(x)
    if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"expected a 1-d integer sequence, got shape {arr.shape} of {arr.dtype}")
    return arr.astype(np.int64)


def _literal_text(value: int) -> str:
    value = wrap(value)
    return str(value + 2**32 if value < 0 else value)  # re-reads as the same single literal


def _space_between(prev: Symbol, cur: int) -> bool:
    if cur in (RPAR, COMMA, COLON) or prev[0] in (LPAR, TILDE) or prev == (MINUS, _UNARY):
        return False
    callee = prev[0] in (DEF, RANGE) or BUILTIN0 <= prev[0] < BUILTIN0 + NUM_BUILTINS
    return not (cur == LPAR and callee)


def _render(symbols: list[Symbol], name: str) -> str:
    lines, line, depth = [], [], 0
    prev: Symbol = (PAD, None)
    for tok, payload in symbols:
        if tok == NEWLINE:
            lines.append("    " * depth + "".join(line))
            line = []
        elif tok in (INDENT, DEDENT):
            depth += 1 if tok == INDENT else -1
        else:
            if line and _space_between(prev, tok):
                line.append(" ")
            if tok == NAME0:
                line.append(payload)
            elif tok == LIT0:
                line.append(_literal_text(payload[0]))
            else:
                line.append(f"def {name}" if tok == DEF else _TEXT[tok])
            prev = (tok, payload)
    return "\n".join(lines) + "\n"


def detokenize(tokens: TokenizedSource | npt.ArrayLike, lits: npt.ArrayLike | None = None,
               name: str = "f") -> str:
    """Canonical source text of a token sequence (trailing PAD allowed); TokenError if malformed.

    ``tokens`` is a 1-d int sequence (list, numpy array, torch tensor) with the literal table
    ``lits``, or a ``TokenizedSource`` (then ``lits`` is taken from it). Variable ``k`` is named
    ``v{k}`` and the function ``name``.
    """
    if isinstance(tokens, TokenizedSource):
        tokens, lits = tokens.tokens, tokens.lits if lits is None else lits
    if lits is None:
        raise ValueError("detokenize needs the literal table `lits`")
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"function name {name!r} is not a Python identifier")
    parser = _Parser(_as_array(tokens), _as_array(lits))
    with deep_recursion():
        params, body = parser.function()
        symbols = _Emitter().function(params, body)
    return _render(symbols, name)


# ------------------------------------------------------------------------------------------

@dataclass(eq=False)
class TokenBatch:
    """A batch of token streams, padded with PAD: int32 tensors on one device.

    ``tokens`` is ``[B, Ls]``; ``lits`` is ``[B, NUM_LITS]`` (zero after each row's ``nlits``);
    ``lengths``, ``nlits``, ``nparams`` and ``nnames`` are ``[B]``.
    """

    tokens: torch.Tensor
    lengths: torch.Tensor
    lits: torch.Tensor
    nlits: torch.Tensor
    nparams: torch.Tensor
    nnames: torch.Tensor

    @classmethod
    def from_sources(cls, sources: Sequence[str],
                     device: torch.device | str | None = None) -> TokenBatch:
        """Tokenize every source (CompileError on the first invalid one) and pad them."""
        items = [tokenize(s) for s in sources]
        width = max((len(t.tokens) for t in items), default=0)
        tokens = np.zeros((len(items), width), dtype=np.int32)
        lits = np.zeros((len(items), NUM_LITS), dtype=np.int32)
        for i, t in enumerate(items):
            tokens[i, :len(t.tokens)] = t.tokens
            lits[i, :t.nlits] = t.lits

        def column(values: list[int]) -> torch.Tensor:
            return torch.tensor(values, dtype=torch.int32)

        batch = cls(torch.from_numpy(tokens), column([len(t.tokens) for t in items]),
                    torch.from_numpy(lits), column([t.nlits for t in items]),
                    column([t.nparams for t in items]), column([t.nnames for t in items]))
        return batch if device is None else batch.to(device)

    def to(self, device: torch.device | str) -> TokenBatch:
        return TokenBatch(*(getattr(self, f.name).to(device) for f in fields(self)))

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def tokenized(self, i: int) -> TokenizedSource:
        """Row ``i`` as a TokenizedSource (copies to the host)."""
        n, nl = int(self.lengths[i]), int(self.nlits[i])
        return TokenizedSource(self.tokens[i, :n].cpu().numpy().copy(),
                               self.lits[i, :nl].cpu().numpy().copy(),
                               int(self.nparams[i]), int(self.nnames[i]))

    def source(self, i: int, name: str = "f") -> str:
        """Row ``i`` as canonical source text (copies to the host)."""
        return detokenize(self.tokenized(i), name=name)

