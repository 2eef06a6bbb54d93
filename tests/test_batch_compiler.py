"""The batched compiler against the reference: bit-identical code, and a status for all else.

The reference for a token row is ``compile_source(detokenize(row), opt)``. Every fuzz failure
names the seed (and row) that reproduce it.
"""
from __future__ import annotations

import collections
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from kiln.compilers import tokens as T
from kiln.compilers.batch import (DEFAULT_MAX_CODE, MESSAGES, CodeBatch, compile_batch,
                                  status_message)
from kiln.compilers.batch import status as S
from kiln.compilers.batch.cpu import compile_arrays, compile_arrays_o2
from kiln.compilers.frontend import CompileError
from kiln.compilers.programs.generator import GenConfig, bitmask, generate_batch
from kiln.compilers.programs.suite import load_suite
from kiln.compilers.tokens import BUILTIN_NAMES, TokenBatch, TokenError, detokenize, tokenize
from kiln.compilers.traditional.pipeline import compile_source

SEED = 20251122
BIG = GenConfig(max_stmts=40, max_depth=6, max_vars=24, expr_depth=6, expr_nodes=20,
                max_tokens=2000)
WITH_CONVERSIONS = GenConfig(builtins=bitmask(["abs", "int", "bool"], BUILTIN_NAMES))

# Every construct and precedence corner, and the -O1 rules' corner cases.
CORNERS = [
    """\
def f(a, b):
    x = bool(a & 4) + int(a == b)
    if bool(a < b):
        return int(not b) - bool(bool(x))
    while int(x < 3):
        x += bool(a)
    return int(-a) * bool(b) if int(a) else bool(a > b)
""",
    """\
def f(a):
    if 1:
        return a
    return 2
""",
    """\
def f(a):
    if 0:
        return a
    else:
        a = 3
    return a
""",
    """\
def f(a):
    while 1:
        a += 1
        if a > 3:
            break
    return a
""",
    """\
def f(a):
    while 0:
        a += 1
    return a
""",
    """\
def f(a):
    while True:
        return a
""",
    """\
def f(a):
    for i in range(10):
        if 1:
            if i == 3:
                continue
            break
        a += i
    return a
""",
    """\
def f(a):
    if not not a:
        return 1
    while not not not a:
        a -= 1
    return 0
""",
    """\
def f(a):
    x = 0
    if not a < 3:
        x = 1
    return x
""",
    """\
def f(a, b, c):
    return a < b < c
""",
    """\
def f(a, b, c, d):
    return a < b <= c != d > 0 >= -a == b
""",
    """\
def f(a):
    return 1 < 2 < 3
""",
    """\
def f(a):
    return (a < 3) < 2
""",
    """\
def f(a):
    return not a == 3
""",
    """\
def f(a):
    x = a if a else -a
    y = 3 if 0 else 4
    return x + y
""",
    """\
def f(a):
    return (1 if a else 2) if (3 if a else 0) else 4 if a else 5
""",
    """\
def f(a):
    return a and 0 or 5 and a or not a and (a or 1)
""",
    """\
def f(a):
    return min(a, 3, -4, 7) + max(1, 2) + abs(-5) + abs(a)
""",
    """\
def f(a):
    return lshr(-1, 28) + ult(a, 3) + ule(1, 2) + ugt(a, a) + uge(3, a)
""",
    """\
def f(a):
    return udiv(a, 0) + urem(a, 0) + udiv(-1, 3) + urem(-7, 5)
""",
    """\
def f(a):
    return a << 33 >> 2 & 7 | 8 ^ 3 - -a * 5 // 2 % 3
""",
    """\
def f(a):
    return -2147483648 // -1 + 4294967295 % 0 + ~-+a
""",
    """\
def f(a, b):
    a, b = b, a
    return a - b
""",
    """\
def f(a):
    x = y = z = a + 1
    return x + y + z
""",
    """\
def f(a):
    x = a
    x = x
    y = x
    return y
""",
    """\
def f(a):
    return
""",
    """\
def f(a):
    if a:
        return 1
    else:
        return 2
""",
    """\
def f(a):
    if a:
        x = 1
    elif a > 2:
        x = 2
    elif 1:
        x = 5
    else:
        x = 3
    return x
""",
    """\
def f(a):
    if 0:
        x = 1
    elif 0:
        x = 2
    else:
        x = 3
    return x
""",
    """\
def f(a):
    while a:
        if 1:
            return 3
            a = 5
        a -= 1
    return a
""",
    """\
def f(a):
    while a:
        if 0:
            break
        else:
            continue
        a = 2
    return a
""",
    """\
def f(a):
    if 2 < 3:
        if a:
            while a:
                if 1:
                    break
    return a
""",
    """\
def f(a):
    if a < 3:
        pass
    else:
        pass
    return a
""",
    """\
def f(a):
    if a:
        x = 1
    else:
        return 0
    return x
""",
    """\
def f(a):
    for i in range(a, 0, -2):
        a += i
    for j in range(3, a, 2):
        a -= j
    for k in range(0, 9, -2147483648):
        a ^= k
    return a
""",
    """\
def f(a):
    for i in range(3):
        for j in range(i):
            for k in range(j):
                a += k
                if k:
                    break
            continue
    return a
""",
    """\
def f(a):
    for i in range(0):
        return 1
    return 2
""",
    """\
def f():
    return 7
""",
    """\
def f(a, b, c, d, e, g):
    return a + b + c + d + e + g
""",
]


def compile_rows(batch: TokenBatch, opt: int, max_code: int = 1024):
    return compile_arrays(*(getattr(batch, f).numpy() for f in
                            ("tokens", "lengths", "lits", "nlits", "nparams", "nnames")),
                          opt, max_code)


def reference(tokens: np.ndarray, lits: np.ndarray, opt: int) -> np.ndarray | str:
    """The reference code of a token row, or why it is rejected."""
    try:
        return compile_source(detokenize(tokens, lits), opt)[1]
    except (TokenError, CompileError) as exc:
        return str(exc)


def assert_identical(batch: TokenBatch, where: str) -> None:
    for opt in (0, 1):
        code, lengths, status, err_pos = compile_rows(batch, opt)
        for i in range(len(batch)):
            ref = compile_source(batch.source(i), opt)[1]
            assert status[i] == 0 and err_pos[i] == -1, \
                f"{where}, row {i}, -O{opt}: {status_message(status[i])} at token " \
                f"{err_pos[i]}\n{batch.source(i)}"
            assert np.array_equal(code[i, :lengths[i]], ref), \
                f"{where}, row {i}, -O{opt}: code differs\n{batch.source(i)}\n" \
                f"reference {ref.tolist()}\nbatched   {code[i, :lengths[i]].tolist()}"
            assert not code[i, lengths[i]:].any()


@pytest.mark.parametrize("n,seed,config", [(2000, SEED, None), (400, SEED + 1, BIG),
                                           (400, SEED + 2, WITH_CONVERSIONS)])
def test_generated_programs_compile_identically(n, seed, config):
    assert_identical(generate_batch(n, seed, config), f"generate_batch({n}, seed={seed})")


def test_suite_compiles_identically():
    assert_identical(TokenBatch.from_sources([p.source for p in load_suite()]), "the suite")


def test_corners_compile_identically():
    assert_identical(TokenBatch.from_sources(CORNERS), "CORNERS")


# ------------------------------------------------------------------------------------------
# Single streams built token by token, for the limits.

HEADER = [T.DEF, T.LPAR, T.NAME0, T.RPAR, T.COLON, T.NEWLINE, T.INDENT]


def stream(tokens: list[int], lits: list[int], nparams: int = 1, nnames: int = 1,
           opt: int = 1, max_code: int = 4096) -> tuple[int, int, np.ndarray]:
    lit_row = np.zeros((1, T.NUM_LITS), np.int32)
    lit_row[0, :len(lits)] = lits
    code, lengths, status, err_pos = compile_arrays(
        np.array([tokens], np.int32), np.array([len(tokens)], np.int32), lit_row,
        np.array([len(lits)], np.int32), np.array([nparams], np.int32),
        np.array([nnames], np.int32), opt, max_code)
    return int(status[0]), int(err_pos[0]), code[0, :lengths[0]]


def nested_ifs(depth: int, test: list[int]) -> list[int]:
    return HEADER + [T.IF, *test, T.COLON, T.NEWLINE, T.INDENT] * depth + \
        [T.NAME0, T.ASSIGN, T.LIT0, T.NEWLINE] + [T.DEDENT] * (depth + 1)


def elifs(count: int) -> list[int]:
    arm = [T.NAME0, T.EQ, T.LIT0, T.COLON, T.NEWLINE, T.INDENT, T.PASS, T.NEWLINE, T.DEDENT]
    return HEADER + [T.IF, *arm] + [T.ELIF, *arm] * count + [T.DEDENT]


def for_loops(nvars: int) -> list[int]:
    loop = [T.FOR, T.NAME0, T.IN, T.RANGE, T.LPAR, T.LIT0, T.RPAR, T.COLON, T.NEWLINE, T.INDENT]
    body = [T.DEF, T.LPAR, T.RPAR, T.COLON, T.NEWLINE, T.INDENT]
    for v in range(nvars):
        body += [T.NAME0 + v, T.ASSIGN, T.LIT0, T.NEWLINE]
    for v in range(3):
        body += [loop[0], T.NAME0 + v] + loop[2:]
    return body + [T.PASS, T.NEWLINE] + [T.DEDENT] * 4


def unary(count: int) -> list[int]:
    return HEADER + [T.NAME0, T.ASSIGN] + [T.MINUS] * count + [T.NAME0, T.NEWLINE, T.DEDENT]


def calls(count: int) -> list[int]:
    return HEADER + [T.NAME0, T.ASSIGN] + [T.ABS, T.LPAR] * count + [T.NAME0] + \
        [T.RPAR] * count + [T.NEWLINE, T.DEDENT]


def constant_sum(depth: int) -> list[int]:
    return HEADER + [T.RETURN] + [T.LIT0, T.PLUS, T.LPAR] * depth + [T.LIT0] + \
        [T.RPAR] * depth + [T.NEWLINE, T.DEDENT]


LIMITS = [  # (what, tokens, lits, nparams, nnames, opt, status: OK or the rejection)
    ("396 unary minuses", unary(396), [], 1, 1, 1, S.OK),
    ("397 unary minuses", unary(397), [], 1, 1, 1, S.E_DEEP),
    ("200 nested calls", calls(200), [], 1, 1, 1, S.OK),
    ("201 nested calls", calls(201), [], 1, 1, 1, S.E_DEEP),
    ("98 nested ifs (99 indents)", nested_ifs(98, [T.LIT0]), [1], 1, 1, 1, S.OK),
    ("99 nested ifs", nested_ifs(99, [T.LIT0]), [1], 1, 1, 1, S.E_DEEP),
    ("32 nested ifs -O0", nested_ifs(32, [T.NAME0]), [1], 1, 1, 0, S.OK),
    ("33 nested ifs -O0", nested_ifs(33, [T.NAME0]), [1], 1, 1, 0, S.E_NEST),
    ("40 inlined ifs -O1", nested_ifs(40, [T.LIT0]), [1], 1, 1, 1, S.OK),
    ("394 elifs", elifs(394), [1], 1, 1, 1, S.E_NEST),
    ("396 elifs", elifs(396), [1], 1, 1, 1, S.E_DEEP),
    ("63 nested constant sums -O0", constant_sum(63), [1], 1, 1, 0, S.OK),
    ("64 nested constant sums -O0", constant_sum(64), [1], 1, 1, 0, S.E_STACK),
    ("100 nested constant sums -O1", constant_sum(100), [1], 1, 1, 1, S.OK),
    ("26 variables, 3 nested fors", for_loops(26), [3], 0, 26, 1, S.OK),
    ("27 variables, 3 nested fors", for_loops(27), [3], 0, 27, 1, S.E_FOR_TEMPS),
    # a flat chain of n operands counts n levels (frontend.chain_levels): 396 fit below the
    # function's own levels within MAX_AST_DEPTH = 400, 397 do not
    *[(f"comparison chain of {n}",
       HEADER + [T.RETURN] + [T.NAME0, T.LT] * (n - 1) + [T.NAME0, T.NEWLINE, T.DEDENT], [], 1,
       1, 1, want) for n, want in ((300, S.OK), (396, S.OK), (397, S.E_DEEP), (700, S.E_DEEP))],
    *[(f"and chain of {n}",
       HEADER + [T.RETURN] + [T.NAME0, T.AND] * (n - 1) + [T.NAME0, T.NEWLINE, T.DEDENT], [], 1,
       1, 1, want) for n, want in ((396, S.OK), (397, S.E_DEEP))],
    *[(f"min of {n}", HEADER + [T.RETURN, T.MIN, T.LPAR] + [T.NAME0, T.COMMA] * (n - 1) +
       [T.NAME0, T.RPAR, T.NEWLINE, T.DEDENT], [], 1, 1, 1, want)
      for n, want in ((300, S.OK), (396, S.OK), (397, S.E_DEEP), (700, S.E_DEEP))],
]


@pytest.mark.parametrize("what,tokens,lits,nparams,nnames,opt,want", LIMITS,
                         ids=[case[0] for case in LIMITS])
def test_limits_match_the_reference(what, tokens, lits, nparams, nnames, opt, want):
    status, _, code = stream(tokens, lits, nparams, nnames, opt)
    assert status == want, f"{what}: {status_message(status)}"
    ref = reference(np.array(tokens), np.array(lits, dtype=np.int32), opt)
    if want == S.OK:
        assert np.array_equal(code, ref)
    else:
        assert isinstance(ref, str), f"{what}: the reference accepts it"


def test_redundant_parentheses_beyond_pythons_limit_are_rejected():
    tokens = HEADER + [T.NAME0, T.ASSIGN] + [T.LPAR] * 201 + [T.NAME0] + [T.RPAR] * 201 + \
        [T.NEWLINE, T.DEDENT]
    assert stream(tokens, [])[0] == S.E_DEEP
    assert stream(tokens[:9] + tokens[10:-3] + tokens[-2:], [])[0] == S.OK  # 200


@pytest.mark.parametrize("step,ok", [([T.LIT0], True), ([T.MINUS, T.LIT0], True),
                                     ([T.PLUS, T.LIT0], True),
                                     ([T.MINUS, T.LPAR, T.PLUS, T.LIT0, T.RPAR], True),
                                     ([T.MINUS, T.MINUS, T.LIT0], False),
                                     ([T.NAME0], False), ([T.LIT0 + 1], False)])
def test_range_steps(step, ok):
    tokens = HEADER + [T.FOR, T.NAME0, T.IN, T.RANGE, T.LPAR, T.LIT0, T.COMMA, T.LIT0,
                       T.COMMA, *step, T.RPAR, T.COLON, T.NEWLINE, T.INDENT, T.PASS, T.NEWLINE,
                       T.DEDENT, T.DEDENT]
    status, _, code = stream(tokens, [5, 0])
    assert (status == S.OK) == ok, status_message(status)
    ref = reference(np.array(tokens), np.array([5, 0], np.int32), 1)
    assert np.array_equal(code, ref) if ok else isinstance(ref, str)


@pytest.mark.parametrize("opt", [0, 1])
def test_code_longer_than_max_code_is_a_status(opt):
    batch = generate_batch(300, SEED + 2)
    refs = [compile_source(batch.source(i), opt)[1] for i in range(len(batch))]
    for max_code in (1, 7, 30, 64):
        code, lengths, status, err_pos = compile_rows(batch, opt, max_code)
        for i, ref in enumerate(refs):
            where = f"generate_batch(300, seed={SEED + 2}) row {i}, max_code {max_code}"
            if len(ref) > max_code:
                assert status[i] == S.E_TOO_LONG and lengths[i] == 0, where
                assert 0 <= err_pos[i] < batch.lengths[i] and not code[i].any(), where
            else:
                assert status[i] == 0 and np.array_equal(code[i, :lengths[i]], ref), where


# ------------------------------------------------------------------------------------------
# Invalid input: every row gets a status; an accepted row means what the reference says.

def mutate(rng: np.random.Generator, row: list[int], nlits: int) -> list[int]:
    """One to three random edits: replace, insert, delete, swap, truncate, or a same-class
    replacement (operator for operator, name for name...) that keeps most of the grammar."""
    row = list(row)
    for _ in range(int(rng.integers(1, 4))):
        p = int(rng.integers(0, len(row) + 1))
        u = rng.random()
        if u < 0.1:
            token = int(rng.integers(-3, T.SOURCE_VOCAB_SIZE + 3))
        elif u < 0.6:
            token = row[int(rng.integers(0, len(row)))] if row else T.PASS
        else:
            token = int(rng.choice([T.NEWLINE, T.INDENT, T.DEDENT, T.LPAR, T.RPAR, T.COMMA,
                                    T.COLON, T.ASSIGN, T.IF, T.ELIF, T.ELSE, T.WHILE, T.BREAK,
                                    T.CONTINUE, T.RETURN, T.PASS, T.AND, T.OR, T.NOT, T.MINUS,
                                    T.PLUS, T.TILDE, T.LT, T.PLUSEQ, T.ABS, T.MIN]))
        kind = int(rng.integers(0, 7))
        if kind == 0 and p < len(row):
            row[p] = token
        elif kind == 1:
            row.insert(p, token)
        elif kind == 2 and p < len(row):
            del row[p]
        elif kind == 3 and p + 1 < len(row):
            row[p], row[p + 1] = row[p + 1], row[p]
        elif kind == 4:
            row = row[:p]
        elif p < len(row):
            row[p] = same_class(rng, row[p], nlits)
    return row


def same_class(rng: np.random.Generator, token: int, nlits: int) -> int:
    for first, count in ((T.NAME0, 8), (T.LIT0, max(nlits, 1)), (T.BINOP0, T.NUM_BINOPS),
                         (T.CMP0, T.NUM_CMPS), (T.AUG0, T.NUM_BINOPS),
                         (T.BUILTIN0, T.NUM_BUILTINS)):
        if first <= token < first + (T.NUM_NAMES if first == T.NAME0 else count):
            return first + int(rng.integers(0, count))
    return token


def counts(row: list[int]) -> tuple[int, int]:
    """nparams and nnames as a tokenizer would report them for this row."""
    names = {t for t in row if T.NAME0 <= t < T.NAME0 + T.NUM_NAMES}
    params, j = 0, 2
    while j < len(row) and row[j] == T.NAME0 + params:
        params += 1
        if j + 1 >= len(row) or row[j + 1] != T.COMMA:
            break
        j += 2
    return min(params, 6), len(names)


def check_rows(rows: list[list[int]], lits: np.ndarray, nlits: np.ndarray, where: str,
               stats: collections.Counter, opts: tuple[int, ...] = (0, 1)) -> None:
    width = max(map(len, rows), default=1) + 1
    tokens = np.zeros((len(rows), width), np.int32)
    for i, row in enumerate(rows):
        tokens[i, :len(row)] = np.clip(row, -2**31, 2**31 - 1)
    meta = np.array([counts(r) for r in rows], np.int32).reshape(-1, 2)
    lengths = np.array([len(r) for r in rows], np.int32)
    for opt in opts:
        args = (tokens, lengths, lits, nlits, meta[:, 0], meta[:, 1])
        code, out_len, status, err_pos = (compile_arrays_o2(*args, 512) if opt == 2 else
                                          compile_arrays(*args, opt, 512))
        assert ((0 <= status) & (status < S.E_INTERNAL)).all(), f"{where}: {status.tolist()}"
        for i in range(len(rows)):
            stats[MESSAGES[status[i]]] += 1
            ref = reference(tokens[i, :lengths[i]], lits[i, :nlits[i]], opt)
            what = f"{where} row {i} -O{opt}: {tokens[i, :lengths[i]].tolist()}"
            if status[i] == S.OK:
                assert not isinstance(ref, str), f"{what}\naccepted, but the reference: {ref}"
                assert np.array_equal(code[i, :out_len[i]], ref), what
            else:
                assert isinstance(ref, str) or status[i] in (S.E_NAME_ORDER, S.E_DEEP), \
                    f"{what}\nrejected ({status_message(status[i])}) but the reference " \
                    f"accepts:\n{detokenize(tokens[i, :lengths[i]], lits[i, :nlits[i]])}"
                assert out_len[i] == 0 and not code[i].any(), what
                assert 0 <= err_pos[i] <= lengths[i], what


@pytest.mark.parametrize("seed", [SEED, SEED + 1, SEED + 2])
def test_mutated_programs(seed):
    rng = np.random.default_rng(seed)
    batch = generate_batch(700, seed, GenConfig(max_stmts=8))
    lits, nlits = batch.lits.numpy(), batch.nlits.numpy()
    rows = [mutate(rng, batch.tokens[i, :batch.lengths[i]].tolist(), int(nlits[i]))
            for i in range(len(batch))]
    stats: collections.Counter = collections.Counter()
    check_rows(rows, lits, nlits, f"test_mutated_programs(seed={seed})", stats)
    assert stats["ok"] > 100 and len(stats) > 8, stats  # the mutations reach deep


def test_random_and_truncated_streams():
    rng = np.random.default_rng(SEED)
    batch = generate_batch(200, SEED + 3, GenConfig(max_stmts=8))
    rows = [rng.integers(-2, T.SOURCE_VOCAB_SIZE + 2, int(rng.integers(0, 60))).tolist()
            for _ in range(200)]
    rows += [[T.DEF, T.LPAR, T.RPAR, T.COLON, T.NEWLINE, T.INDENT] +
             rng.integers(1, T.SOURCE_VOCAB_SIZE, int(rng.integers(0, 30))).tolist()
             for _ in range(200)]
    for i in range(len(batch)):
        row = batch.tokens[i, :batch.lengths[i]].tolist()
        rows.append(row[:int(rng.integers(0, len(row)))])
    lits = np.tile(batch.lits.numpy()[:1], (len(rows), 1))
    nlits = np.full(len(rows), batch.nlits[0], np.int32)
    check_rows(rows, lits, nlits, f"test_random_and_truncated_streams(seed={SEED})",
               collections.Counter())


def test_bad_metadata_is_a_status():
    batch = TokenBatch.from_sources(["def f(a, b):\n    return a + b\n"])
    tokens, lengths, lits, nlits, nparams, nnames = (
        getattr(batch, f).numpy().copy() for f in
        ("tokens", "lengths", "lits", "nlits", "nparams", "nnames"))

    def status(**changes) -> int:
        arrays = dict(tokens=tokens, lengths=lengths, lits=lits, nlits=nlits, nparams=nparams,
                      nnames=nnames)
        for name, value in changes.items():
            arrays[name] = np.array([value], np.int32)
        return int(compile_arrays(*arrays.values(), 1, 64)[2][0])

    assert status() == S.OK
    assert status(lengths=-1) == status(lengths=tokens.shape[1] + 1) == S.E_LENGTH
    assert status(nlits=65) == status(nparams=7) == status(nnames=33) == S.E_LENGTH
    assert status(nparams=1) == status(nnames=3) == S.E_META
    assert status(lengths=3) == S.E_TRUNCATED


# ------------------------------------------------------------------------------------------
# The public API.

def test_compile_batch_on_torch_cpu_tensors():
    batch = TokenBatch.from_sources(CORNERS[:5])
    result = compile_batch(batch, 1)
    assert isinstance(result, CodeBatch)
    assert result.code.shape == (5, DEFAULT_MAX_CODE, 2)
    assert all(t.dtype == torch.int32 and t.device.type == "cpu" for t in result)
    for i, source in enumerate(CORNERS[:5]):
        ref = compile_source(source, 1)[1]
        assert np.array_equal(result.code[i, :result.lengths[i]].numpy(), ref)
    assert (result.status == 0).all() and (result.err_pos == -1).all()


def test_compile_batch_rejects_bad_arguments():
    batch = TokenBatch.from_sources(CORNERS[:1])
    for opt in (3, -1, True, 1.0):
        with pytest.raises(ValueError, match="optimisation level"):
            compile_batch(batch, opt)
    for max_code in (0, True, 2.5):
        with pytest.raises(ValueError, match="max_code"):
            compile_batch(batch, 1, max_code)


def test_compile_batch_refuses_non_integer_dtypes():
    batch = TokenBatch.from_sources(CORNERS[:1])
    for name in ("tokens", "lengths", "lits", "nparams"):
        for dtype in (torch.float32, torch.float64, torch.complex64, torch.bool):
            bad = dataclasses.replace(batch, **{name: getattr(batch, name).to(dtype)})
            with pytest.raises(TypeError, match=f"TokenBatch.{name} must be an integer tensor"):
                compile_batch(bad, 1)


def test_values_outside_int32_get_a_status_not_a_cast():
    """int64 token ids and counts that a cast would wrap to valid ones are rejected."""
    batch = TokenBatch.from_sources(CORNERS[:3])
    assert (compile_batch(batch, 1).status == 0).all()
    tokens = batch.tokens.to(torch.int64)
    tokens[1, 2] += 2**32  # the same id modulo 2**32
    lengths = batch.lengths.to(torch.int64)
    lengths[2] -= 2**32
    result = compile_batch(dataclasses.replace(batch, tokens=tokens, lengths=lengths), 1)
    assert result.status.tolist() == [0, S.E_TOKEN, S.E_LENGTH]
    assert result.err_pos[1] == 2 and result.lengths[1:].tolist() == [0, 0]
    nparams = batch.nparams.to(torch.int64) + 2**32
    result = compile_batch(dataclasses.replace(batch, nparams=nparams), 1)
    assert result.status.tolist() == [S.E_LENGTH] * 3
    # literal values wrap to int32, as every kiln literal does
    lits = batch.lits.to(torch.int64) + 2**32
    wrapped = compile_batch(dataclasses.replace(batch, lits=lits), 1)
    assert torch.equal(wrapped.code, compile_batch(batch, 1).code)


def test_empty_batch():
    empty = TokenBatch(*(torch.zeros(s, dtype=torch.int32) for s in
                         ((0, 4), (0,), (0, 64), (0,), (0,), (0,))))
    result = compile_batch(empty, 0, 8)
    assert result.code.shape == (0, 8, 2) and result.status.shape == (0,)


def test_every_status_has_a_message():
    assert len(MESSAGES) == S.NUM_STATUSES == S.E_INTERNAL + 1
    assert status_message(S.E_STACK).startswith("expression too deep")
    assert status_message(99) == "unknown status 99"


def test_reference_rejections_in_the_tokenizer_stay_rejected():
    # `x = 1, 2` is no token stream at all; the stream that spells it must not compile.
    with pytest.raises(CompileError):
        tokenize("def f(a):\n    x = 1, 2\n    return x\n")
    row = HEADER + [T.NAME0, T.ASSIGN, T.LIT0, T.COMMA, T.LIT0, T.NEWLINE, T.DEDENT]
    assert stream(row, [1])[0] != S.OK


def test_docs_list_every_status():
    doc = (Path(__file__).parents[1] / "docs" / "compiler.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\d+) \| `(\w+)` \|", doc, re.MULTILINE))
    names = {name: getattr(S, name) for name in dir(S) if re.fullmatch(r"OK|E_[A-Z_]+", name)}
    assert {int(code): name for code, name in rows.items()} == \
        {code: name for name, code in names.items()}
