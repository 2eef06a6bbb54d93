"""The canonical token form: exact streams, round trips, canonical printing, malformed input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kiln.compilers import tokens as T
from kiln.compilers.frontend import CompileError, parse_function
from kiln.compilers.interpreter import interpret
from kiln.compilers.programs.generator import generate_batch
from kiln.compilers.tokens import (TokenBatch, TokenError, TokenizedSource, detokenize,
                                   source_token_name, tokenize)

EDGE = [0, 1, -1, 2, -7, 2**31 - 1, -2**31, 12345]


def rows(nparams: int, seed: int = 0) -> np.ndarray:
    """Edge values in every position plus random int32 rows."""
    edge = [[EDGE[(i + k) % len(EDGE)] for k in range(nparams)] for i in range(len(EDGE))]
    rand = np.random.default_rng(seed).integers(-2**31, 2**31, (8, nparams)).tolist()
    return np.array(edge + rand, dtype=np.int64).reshape(len(edge) + len(rand), nparams)


def check_round_trip(source: str) -> str:
    """tokenize -> detokenize parses, means the same, and tokenizes back to the same stream."""
    t = tokenize(source)
    text = detokenize(t)
    fn = parse_function(text)
    assert fn.nparams == t.nparams and len(fn.names) == t.nnames
    assert tokenize(text) == t, f"not canonical:\n{source}\n->\n{text}"
    args = rows(t.nparams)
    np.testing.assert_array_equal(interpret(source, args), interpret(text, args),
                                  err_msg=f"{source}\n->\n{text}")
    return text


def body(text: str) -> str:
    """The statement lines of detokenized text, dedented: the header dropped."""
    return "\n".join(line[4:] for line in text.splitlines()[1:])


# Each source canonicalises to the given body (parameters a, b, c, d, e -> v0..v4).
CANONICAL = [
    ("a - (b - c)", "v0 - (v1 - v2)"),
    ("(a - b) - c", "v0 - v1 - v2"),
    ("a - b + c", "v0 - v1 + v2"),
    ("a * (b // c) % d", "v0 * (v1 // v2) % v3"),
    ("a + b * c", "v0 + v1 * v2"),
    ("(a + b) * c", "(v0 + v1) * v2"),
    ("a << b + c", "v0 << v1 + v2"),
    ("(a << b) + c", "(v0 << v1) + v2"),
    ("a & b | c ^ d", "v0 & v1 | v2 ^ v3"),
    ("a & (b | c) ^ d", "v0 & (v1 | v2) ^ v3"),
    ("(a < b) < c", "(v0 < v1) < v2"),
    ("a < (b < c)", "v0 < (v1 < v2)"),
    ("a < b < c", "v0 < v1 < v2"),
    ("a == b != c >= d", "v0 == v1 != v2 >= v3"),
    ("not a == b", "not v0 == v1"),
    ("(not a) == b", "(not v0) == v1"),
    ("not (not a)", "not not v0"),
    ("-(a + b)", "-(v0 + v1)"),
    ("-a + b", "-v0 + v1"),
    ("-(-a)", "--v0"),
    ("~-a", "~-v0"),
    ("-(a if b else c)", "-(v0 if v1 else v2)"),
    ("a if c else (b if d else e)", "v0 if v2 else v1 if v3 else v4"),
    ("(a if b else c) if d else e", "(v0 if v1 else v2) if v3 else v4"),
    ("a if (b if c else d) else e", "v0 if (v1 if v2 else v3) else v4"),
    ("(a if b else c) + 1", "(v0 if v1 else v2) + 1"),
    ("a or b if c else d", "v0 or v1 if v2 else v3"),
    ("a and b or c and d", "v0 and v1 or v2 and v3"),
    ("a and (b or c)", "v0 and (v1 or v2)"),
    ("(a and b) and c", "v0 and v1 and v2"),
    ("a or (b or (c or d))", "v0 or v1 or v2 or v3"),
    ("a or +(b or c)", "v0 or v1 or v2"),
    ("not (a and b)", "not (v0 and v1)"),
    ("(not a) and b", "not v0 and v1"),
    ("(a < b) + (c and d)", "(v0 < v1) + (v2 and v3)"),
    ("+a", "v0"),
    ("+(a + b) * c", "(v0 + v1) * v2"),
    ("abs(a if b else c)", "abs(v0 if v1 else v2)"),
    ("min(a, b + c, -d)", "min(v0, v1 + v2, -v3)"),
    ("lshr(a, b) + ult(a, b) - ule(a, b) * ugt(a, b) // uge(a, b) % udiv(a, b) ^ urem(a, b)",
     "lshr(v0, v1) + ult(v0, v1) - ule(v0, v1) * ugt(v0, v1) // uge(v0, v1) % udiv(v0, v1) "
     "^ urem(v0, v1)"),
    ("max(a, b) < min(c, d)", "max(v0, v1) < min(v2, v3)"),
    ("int(a == b) + bool(a & 4)", "int(v0 == v1) + bool(v0 & 4)"),
    ("True + False", "1 + 0"),
    ("2147483648", "2147483648"),
    ("-2147483648", "-2147483648"),
    ("0xFFFFFFFF", "4294967295"),
    ("4294967296 + 0x1_0000_0001", "0 + 1"),
    ("-1", "-1"),
    ("-0", "-0"),
    ("99999999999999999999", str(99999999999999999999 % 2**32)),
]


@pytest.mark.parametrize("expr,want", CANONICAL)
def test_canonical_expressions(expr: str, want: str) -> None:
    text = check_round_trip(f"def g(a, b, c, d, e):\n    return {expr}\n")
    assert body(text) == f"return {want}"


STATEMENTS = [
    ('def f(x: int) -> int:\n    """doc"""\n    return x\n', "def f(v0):\n    return v0\n"),
    ("def f():\n    pass\n", "def f():\n    pass\n"),
    ("def f():\n    return\n", "def f():\n    return\n"),
    ("def f(a):\n    a, = 1,\n    return a\n", "def f(v0):\n    v0 = 1\n    return v0\n"),
    ("def f(a):\n    () = ()\n    return a\n", "def f(v0):\n    pass\n    return v0\n"),
    ("def f(a, b):\n    a, b = b, a\n    return a - b\n",
     "def f(v0, v1):\n    v0, v1 = v1, v0\n    return v0 - v1\n"),
    ("def f(a):\n    (x, y, z) = (a, a + 1, a + 2)\n    return x * y * z\n",
     "def f(v0):\n    v1, v2, v3 = v0, v0 + 1, v0 + 2\n    return v1 * v2 * v3\n"),
    ("def f(a):\n    x = y = a + 1\n    return x + y\n",
     "def f(v0):\n    v1 = v2 = v0 + 1\n    return v1 + v2\n"),
    ("def f(a):\n    a += 1\n    a -= 2\n    a *= 3\n    a //= 4\n    a %= 5\n    a <<= 6\n"
     "    a >>= 7\n    a &= 8\n    a |= 9\n    a ^= 10\n    return a\n",
     "def f(v0):\n    v0 += 1\n    v0 -= 2\n    v0 *= 3\n    v0 //= 4\n    v0 %= 5\n"
     "    v0 <<= 6\n    v0 >>= 7\n    v0 &= 8\n    v0 |= 9\n    v0 ^= 10\n    return v0\n"),
    ("def f(a):\n    if a:\n        return 1\n    else:\n        if a > 2:\n            return 2\n"
     "        else:\n            return 3\n",
     "def f(v0):\n    if v0:\n        return 1\n    elif v0 > 2:\n        return 2\n    else:\n"
     "        return 3\n"),
    ("def f(a):\n    if a:\n        return 1\n    else:\n        if a > 2:\n"
     "            return 2\n        a = 3\n    return a\n",
     "def f(v0):\n    if v0:\n        return 1\n    else:\n        if v0 > 2:\n"
     "            return 2\n        v0 = 3\n    return v0\n"),
    ("def f(n):\n    s = 0\n    for i in range(n, 0, -2):\n        if i == 3:\n"
     "            continue\n        elif i > 50:\n            break\n        s += i\n"
     "    for j in range(+3):\n        s ^= j\n    for k in range(1, 4):\n        s -= k\n"
     "    return s\n",
     "def f(v0):\n    v1 = 0\n    for v2 in range(v0, 0, -2):\n        if v2 == 3:\n"
     "            continue\n        elif v2 > 50:\n            break\n        v1 += v2\n"
     "    for v3 in range(3):\n        v1 ^= v3\n    for v4 in range(1, 4):\n        v1 -= v4\n"
     "    return v1\n"),
    ("def f(a, b):\n    a = abs(a)\n    b = abs(b)\n    while b != 0:\n        a, b = b, a % b\n"
     "    return a\n",
     "def f(v0, v1):\n    v0 = abs(v0)\n    v1 = abs(v1)\n    while v1 != 0:\n"
     "        v0, v1 = v1, v0 % v1\n    return v0\n"),
]


@pytest.mark.parametrize("source,want", STATEMENTS)
def test_canonical_statements(source: str, want: str) -> None:
    assert check_round_trip(source) == want


def test_exact_stream() -> None:
    t = tokenize("def add(a, b):\n    c = a + 7\n    return c * b + 7 - True\n")
    assert [source_token_name(x) for x in t.tokens] == [
        "DEF", "LPAR", "NAME0", "COMMA", "NAME1", "RPAR", "COLON", "NEWLINE", "INDENT",
        "NAME2", "ASSIGN", "NAME0", "PLUS", "LIT0", "NEWLINE",
        "RETURN", "NAME2", "STAR", "NAME1", "PLUS", "LIT0", "MINUS", "LIT1", "NEWLINE",
        "DEDENT"]
    assert t.tokens.dtype == np.int32 and t.lits.dtype == np.int32
    assert t.lits.tolist() == [7, 1]
    assert (t.nparams, t.nnames, t.nlits) == (2, 3, 2)


def test_names_follow_slot_order() -> None:
    source = ("def f(p, q):\n    if p:\n        z = 1\n    else:\n        z = 2\n    y = z\n"
              "    x = y + q\n    return x\n")
    t = tokenize(source)
    names = [source_token_name(x) for x in t.tokens if T.NAME0 <= x < T.NAME0 + T.NUM_NAMES]
    assert names[:3] == ["NAME0", "NAME1", "NAME0"]
    assert parse_function(source).names == ("p", "q", "z", "y", "x")
    assert "NAME2" in names and names.index("NAME2") < names.index("NAME3") < names.index("NAME4")


def test_literals_are_distinct_int32_values_in_order_of_appearance() -> None:
    t = tokenize("def f(a):\n    return 5 + a * 1 + True + 4294967297 + 5\n")
    assert t.lits.tolist() == [5, 1]


def test_limits_and_errors() -> None:
    many_lits = " + ".join(str(k) for k in range(65))
    with pytest.raises(CompileError, match="at most 64"):
        tokenize(f"def f():\n    return {many_lits}\n")
    tokenize(f"def f():\n    return {' + '.join(str(k) for k in range(64))}\n")
    many_vars = "".join(f"    x{k} = {k}\n" for k in range(33))
    with pytest.raises(CompileError, match="at most 32"):
        tokenize(f"def f():\n{many_vars}    return 0\n")
    with pytest.raises(CompileError, match="tuple"):
        tokenize("def f(a):\n    a = 1, 2\n    return a\n")
    with pytest.raises(CompileError):
        tokenize("def f(a):\n    return b\n")
    with pytest.raises(CompileError):
        tokenize("this is not python")


def test_token_table() -> None:
    for tok, name, _ in T._TOKENS:
        assert getattr(T, name) == tok and source_token_name(tok) == name
    assert len({tok for tok, _, _ in T._TOKENS}) == len(T._TOKENS) == 63
    assert source_token_name(61) == "INT" and source_token_name(62) == "BOOL"
    assert source_token_name(64) == "NAME0" and source_token_name(95) == "NAME31"
    assert source_token_name(96) == "LIT0" and source_token_name(159) == "LIT63"
    assert source_token_name(63) == "<invalid 63>" and source_token_name(160) == "<invalid 160>"
    assert T.SOURCE_VOCAB_SIZE == 160
    assert T.BINOP_SYMBOLS == ("+", "-", "*", "//", "%", "<<", ">>", "&", "|", "^")
    assert T.CMP_SYMBOLS == ("==", "!=", "<", "<=", ">", ">=")
    assert [source_token_name(T.AUG0 + i) for i in range(10)][:2] == ["PLUSEQ", "MINUSEQ"]


def ids(*names: str) -> list[int]:
    return [getattr(T, n) if hasattr(T, n) else
            (T.NAME0 + int(n[4:]) if n.startswith("NAME") else T.LIT0 + int(n[3:]))
            for n in names]


HEAD = ("DEF", "LPAR", "NAME0", "RPAR", "COLON", "NEWLINE", "INDENT")


def test_detokenize_accepts_redundant_parentheses_and_any_numbering() -> None:
    stream = ids(*HEAD, "NAME3", "ASSIGN", "LPAR", "LPAR", "NAME0", "RPAR", "RPAR", "PLUS",
                 "LPAR", "LIT1", "RPAR", "NEWLINE", "RETURN", "PLUS", "LPAR", "NAME3", "OR",
                 "LPAR", "NAME0", "OR", "NAME3", "RPAR", "RPAR", "NEWLINE", "DEDENT", "PAD",
                 "PAD")
    text = detokenize(stream, [9, -5])
    assert text == "def f(v0):\n    v3 = v0 + 4294967291\n    return v3 or v0 or v3\n"
    assert detokenize(torch.tensor(stream), np.array([9, -5]), name="g").startswith("def g(")
    t = tokenize(text)
    assert t.lits.tolist() == [-5] and "NAME1" in [source_token_name(x) for x in t.tokens]


MALFORMED = [
    ([], 0, "expected DEF"),
    (["LPAR"], 0, "expected DEF"),
    ([*HEAD, "RETURN", "NAME0", "NEWLINE"], 10, "expected a statement, found end"),
    ([*HEAD, "DEDENT"], 7, "at least one statement"),
    ([*HEAD, "RETURN", "PAD", "NEWLINE", "DEDENT"], 8, "found PAD"),
    ([*HEAD, "RETURN", "LIT2", "NEWLINE", "DEDENT"], 8, "literal table has 2"),
    ([*HEAD, "BREAK", "NEWLINE", "DEDENT"], 7, "outside a loop"),
    ([*HEAD, "RETURN", "ABS", "LPAR", "NAME0", "COMMA", "NAME0", "RPAR", "NEWLINE", "DEDENT"],
     8, "takes 1 arguments, got 2"),
    ([*HEAD, "RETURN", "MIN", "LPAR", "NAME0", "RPAR", "NEWLINE", "DEDENT"], 8, "at least 2"),
    ([*HEAD, "RETURN", "BOOL", "LPAR", "NAME0", "COMMA", "NAME0", "RPAR", "NEWLINE", "DEDENT"],
     8, "takes 1 arguments, got 2"),
    ([*HEAD, "NAME0", "COMMA", "NAME1", "ASSIGN", "LIT0", "NEWLINE", "DEDENT"], 12,
     "1 values to 2 names"),
    ([*HEAD, "RETURN", "NAME0", "DEDENT"], 9, "expected NEWLINE"),
    ([*HEAD, "RETURN", "LPAR", "NAME0", "NEWLINE", "DEDENT"], 10, "expected RPAR"),
    ([*HEAD, "RETURN", "NAME0", "PLUS", "NEWLINE", "DEDENT"], 10, "expected an expression"),
    ([*HEAD, "ELSE", "COLON", "NEWLINE", "INDENT", "PASS", "NEWLINE", "DEDENT", "DEDENT"], 7,
     "without a preceding IF"),
    ([*HEAD, "PASS", "NEWLINE", "DEDENT", "PASS"], 10, "only PAD after"),
    ([*HEAD, "FOR", "NAME1", "IN", "RANGE", "LPAR", "RPAR"], 12, "expected an expression"),
    ([*HEAD, "NAME0", "ASSIGN", "NEWLINE", "DEDENT"], 9, "expected an expression"),
    ([*HEAD, "NAME0", "PLUSEQ", "NAME0", "ASSIGN", "LIT0", "NEWLINE", "DEDENT"], 10,
     "expected NEWLINE"),
    (["DEF", "LPAR", "NAME0", "COMMA", "NAME0", "RPAR"], 4, "appears twice"),
    (["DEF", "LPAR", "LIT0", "RPAR"], 2, "expected a variable NAME"),
    ([*HEAD, "IF", "NAME0", "COLON", "PASS", "NEWLINE", "DEDENT"], 10, "expected NEWLINE"),
    ([*HEAD, "RETURN", "NAME0", "IF", "NAME0", "NEWLINE", "DEDENT"], 11, "expected ELSE"),
    ([*HEAD, "RETURN", "NAME0", "LT", "NEWLINE", "DEDENT"], 10, "expected an expression"),
]


@pytest.mark.parametrize("names,position,message", MALFORMED)
def test_malformed_streams(names: list[str], position: int, message: str) -> None:
    with pytest.raises(TokenError, match=message) as info:
        detokenize(ids(*names), [3, 4])
    assert info.value.position == position, info.value


@pytest.mark.parametrize("bad", [63, 160, -1, 1000])
def test_invalid_token_ids(bad: int) -> None:
    with pytest.raises(TokenError, match="not a token id") as info:
        detokenize(ids(*HEAD) + [bad], [])
    assert info.value.position == 7


def test_nesting_limit() -> None:
    deep = ids(*HEAD, "RETURN") + [T.LPAR] * 500 + ids("NAME0") + [T.RPAR] * 500 + ids(
        "NEWLINE", "DEDENT")
    with pytest.raises(TokenError, match="nested more than"):
        detokenize(deep, [])
    chain = ids(*HEAD, "RETURN", "NAME0") + ids("PLUS", "NAME0") * 500 + ids("NEWLINE", "DEDENT")
    with pytest.raises(TokenError, match="nested more than"):
        detokenize(chain, [])


def test_detokenize_arguments() -> None:
    with pytest.raises(ValueError, match="identifier"):
        detokenize(tokenize("def f():\n    pass\n"), name="not ok")
    with pytest.raises(ValueError, match="literal table"):
        detokenize(ids(*HEAD, "PASS", "NEWLINE", "DEDENT"))
    with pytest.raises(ValueError, match="1-d"):
        detokenize(np.zeros((2, 2), np.int32), [])


def test_token_batch() -> None:
    sources = ["def f(a):\n    return a + 1\n", "def g():\n    return 2147483648\n",
               "def h(a, b, c):\n    x = a\n    return x * b - c\n"]
    batch = TokenBatch.from_sources(sources)
    assert len(batch) == 3
    assert batch.tokens.dtype == torch.int32 and batch.tokens.shape == (3, int(batch.lengths.max()))
    assert batch.lits.shape == (3, T.NUM_LITS)
    for i, s in enumerate(sources):
        t = tokenize(s)
        n = int(batch.lengths[i])
        assert batch.tokens[i, :n].tolist() == t.tokens.tolist()
        assert (batch.tokens[i, n:] == T.PAD).all()
        assert batch.lits[i, :t.nlits].tolist() == t.lits.tolist()
        assert (batch.lits[i, t.nlits:] == 0).all()
        assert (int(batch.nparams[i]), int(batch.nnames[i])) == (t.nparams, t.nnames)
        assert batch.tokenized(i) == t
        assert tokenize(batch.source(i)) == t
    moved = batch.to("cpu")
    assert torch.equal(moved.tokens, batch.tokens) and moved.nnames.dtype == torch.int32
    assert TokenBatch.from_sources([], device="cpu").tokens.shape == (0, 0)
    assert TokenizedSource(np.zeros(1, np.int32), np.zeros(0, np.int32), 0, 0) != batch.tokenized(0)


def test_generated_programs_round_trip() -> None:
    seed = 2024
    batch = generate_batch(600, seed)
    for i in range(len(batch)):
        t = batch.tokenized(i)
        text = detokenize(t)
        assert tokenize(text) == t, f"seed {seed} program {i}:\n{text}"
        assert detokenize(tokenize(text)) == text, f"seed {seed} program {i}"
