"""The ISA table, validator, assembler and token vocabulary."""
from pathlib import Path

import numpy as np
import pytest

from kiln.compilers import isa, vocab
from kiln.compilers.asm import AsmError, assemble, disassemble
from kiln.compilers.validate import (E_CTRL_STACK, E_DEPTH, E_ELSE, E_END, E_END_STACK, E_NEST,
                                     E_OVERFLOW, E_SLOT, E_UNCLOSED, E_UNDERFLOW, OK,
                                     ValidationError, check_step, validate)

ROOT = Path(__file__).resolve().parents[1]


def test_doc_table_matches_isa():
    assert isa.cost_table_markdown() in (ROOT / "docs" / "isa.md").read_text()


def test_table_is_consistent():
    for op in isa.OPS:
        assert op.pushes in (0, 1)
        if op.sem is not None:
            assert op.pushes == 1 and op.arg == isa.NONE
    assert isa.OP_COST[isa.OP["div"]] > isa.OP_COST[isa.OP["mul"]] > isa.OP_COST[isa.OP["add"]]


@pytest.mark.parametrize("name,args,want", [
    ("div", (7, -2), -4), ("mod", (7, -2), -1), ("div", (5, 0), 0), ("mod", (5, 0), 5),
    ("div", (isa.INT32_MIN, -1), isa.INT32_MIN), ("mod", (isa.INT32_MIN, -1), 0),
    ("udiv", (-1, 2), 2**31 - 1), ("urem", (-1, 0), -1), ("shl", (1, 33), 2),
    ("shr", (-8, 1), -4), ("lshr", (-8, 1), 2**31 - 4), ("abs", (isa.INT32_MIN,), isa.INT32_MIN),
    ("add", (isa.INT32_MAX, 1), isa.INT32_MIN), ("mul", (2**16, 2**16), 0),
    ("ult", (1, -1), 1), ("andv", (0, 5), 0), ("andv", (3, 5), 5), ("orv", (0, 5), 5),
    ("orv", (3, 5), 3), ("select", (1, 2, 0), 2), ("select", (1, 2, -7), 1),
])
def test_semantics_examples(name, args, want):
    assert isa.evaluate(isa.OP[name], *args) == want


def _err(text: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate(assemble(text))
    return info.value


@pytest.mark.parametrize("text,status,pc", [
    ("add", E_UNDERFLOW, 0),
    ("const 1\nif\nend\nget 32", E_SLOT, 3),
    ("block\nbr 1\nend", E_DEPTH, 1),
    ("const 1\nblock\nend\ndrop", E_CTRL_STACK, 1),
    ("else", E_ELSE, 0),
    ("const 1\nif\nelse\nelse\nend", E_ELSE, 3),
    ("end", E_END, 0),
    ("block\n" * 33, E_NEST, 32),
    ("block", E_UNCLOSED, 1),
    ("const 1", E_END_STACK, 1),
    ("const 1\n" * 65, E_OVERFLOW, 64),
])
def test_validator_rejects_with_position(text, status, pc):
    err = _err(text)
    assert (err.status, err.pc) == (status, pc), str(err)


@pytest.mark.parametrize("row", [(isa.BY_NAME["add"].code, 99), (isa.BLOCK, 7),
                                 (isa.BY_NAME["return"].code, -1)])
def test_operands_on_operandless_opcodes_are_rejected(row):
    """They were accepted, and the disassembler dropped them: the round trip broke."""
    code = np.array([[isa.CONST, 1], [isa.CONST, 2], list(row)], dtype=np.int32)
    with pytest.raises(ValidationError, match="operand on an opcode that takes none") as exc:
        validate(code)
    assert exc.value.pc == 2


def test_validator_rejects_bad_arrays():
    with pytest.raises(ValidationError, match="unknown opcode"):
        validate([[99, 0]])
    with pytest.raises(ValidationError, match="shape"):
        validate([1, 2, 3])
    with pytest.raises(ValidationError, match="int32"):
        validate([[0, 2**40]])
    with pytest.raises(ValidationError, match="integers"):
        validate([[0.5, 1.0]])
    with pytest.raises(ValidationError):
        validate([[0, 1], [2]])


def test_jump_targets():
    linked = validate(assemble("""
        get 0
        if
          block
            loop
              get 0
              br_if 1
              br 0
            end
          end
        else
          const 1
          return
        end
    """))
    #                        get if blk loop get br_if br end end else const ret end
    assert linked.jump.tolist() == [0, 10, 0, 0, 0, 9, 4, 0, 0, 13, 0, 0, 0]


def test_asm_round_trip_random_code():
    rng = np.random.default_rng(1)
    for seed in range(50):
        n = int(rng.integers(0, 40))
        code = np.stack([rng.integers(0, isa.NUM_OPS, n),
                         rng.integers(isa.INT32_MIN, isa.INT32_MAX, n, endpoint=True)], axis=1)
        code[:, 1] = np.where([isa.OPS[o].arg == isa.NONE for o in code[:, 0]], 0, code[:, 1])
        text = disassemble(code)
        back = assemble(text)
        assert np.array_equal(back, code.astype(np.int32)), f"seed {seed}"
        assert disassemble(back) == text


def test_asm_round_trip_holds_for_every_valid_program():
    """Random rows with random operands, kept when valid: the text gives the code back."""
    from bytecode_fuzz import random_walk_program

    rng = np.random.default_rng(2)
    kept = 0
    for seed in range(400):
        code = np.array(random_walk_program(rng, int(rng.integers(1, 30))), dtype=np.int32)
        row = int(rng.integers(len(code)))
        code[row, 1] = rng.choice([0, 1, 7, -1, 99])
        try:
            validate(code)
        except ValidationError:
            continue
        kept += 1
        assert np.array_equal(assemble(disassemble(code)), code), f"seed {seed}: {code.tolist()}"
    assert kept > 20


@pytest.mark.parametrize("text,line", [("frob", 1), ("add 1", 1), ("\nconst", 2),
                                       ("const x", 1), ("const 99999999999", 1)])
def test_asm_errors_name_the_line(text, line):
    with pytest.raises(AsmError) as info:
        assemble(text)
    assert info.value.line == line


def test_mask_equals_check_step_on_random_states():
    """The vectorised mask is check_step over every token (plus the finish rule)."""
    rng = np.random.default_rng(7)
    for case in range(300):
        height = int(rng.integers(0, isa.MAX_STACK + 1))
        nest = int(rng.integers(0, isa.MAX_NEST + 1))
        top = int(rng.integers(0, 4)) if nest else -1
        nlits = int(rng.integers(0, vocab.MAX_LITS + 1))
        remaining = int(rng.integers(1, 200))
        mask = vocab.action_mask(height, nest, top, nlits, remaining)
        for tok in range(1, vocab.TARGET_VOCAB_SIZE):
            op, arg, lit = int(vocab.TOKEN_OP[tok]), int(vocab.TOKEN_ARG[tok]), vocab.TOKEN_LIT[tok]
            ok = check_step(op, arg, height, nest, top) == OK and lit < nlits
            new_h = height - isa.OPS[op].pops + isa.OPS[op].pushes
            new_n = nest + (op in (isa.BLOCK, isa.LOOP, isa.IF)) - (op == isa.END)
            ok = ok and new_h + new_n + 1 <= remaining - 1
            assert mask[tok] == ok, f"case {case}: token {vocab.target_token_name(tok)}"
        assert mask[vocab.EOS] == (height == 0 and nest == 0), f"case {case}"


def test_decode_errors():
    with pytest.raises(ValueError, match="position 1"):
        vocab.decode([vocab.TOKEN_ID["const 1"], 10_000], [])
    with pytest.raises(ValueError, match="only 1 literals"):
        vocab.decode([vocab.TOKEN_ID["lit 3"]], [5])
    code = vocab.decode([vocab.TOKEN_ID["lit 0"], vocab.TOKEN_ID["return"], vocab.EOS, 7], [42])
    assert code.tolist() == [[isa.CONST, 42], [isa.OP["return"], 0]]


def test_vocab_is_small():
    assert vocab.TARGET_VOCAB_SIZE <= 300
    assert len(set(vocab.TOKEN_NAMES)) == vocab.TARGET_VOCAB_SIZE


def test_encode_inverts_decode_on_compiled_programs():
    import kiln
    from kiln.compilers.programs.suite import load_suite
    from kiln.compilers.tokens import tokenize
    spelled = 0
    for program in load_suite():
        lits = tokenize(program.source).lits
        code = kiln.compile(program.source, 1).code
        tokens = vocab.encode(code, lits)
        if tokens is None:  # a folded constant that is neither small nor a source literal
            assert any(o == isa.CONST and not vocab.IMM_MIN <= a <= vocab.IMM_MAX
                       and a not in lits for o, a in code.tolist()), program.name
            continue
        spelled += 1
        assert tokens[-1] == vocab.EOS
        assert np.array_equal(vocab.decode(tokens, lits), code), program.name
    assert spelled > 40


def test_opcode_traits_hold_on_edge_values():
    """The traits in the table (commutative, mirrored, negated) are facts of the semantics."""
    from kiln.compilers.isa import BY_NAME, OPS, evaluate

    values = (0, 1, -1, 2, -2, 31, 32, isa.INT32_MIN, isa.INT32_MAX, isa.INT32_MIN + 1, 12345, -999)
    for op in OPS:
        for a in values:
            for b in values:
                if op.commutative:
                    assert evaluate(op.code, a, b) == evaluate(op.code, b, a), (op.name, a, b)
                if op.mirrored:
                    mirror = BY_NAME[op.mirrored].code
                    assert evaluate(op.code, a, b) == evaluate(mirror, b, a), (op.name, a, b)
                if op.negated:
                    negation = BY_NAME[op.negated].code
                    assert evaluate(negation, a, b) == 1 - evaluate(op.code, a, b), (op.name, a, b)


def test_python_operators_map_to_their_opcodes():
    """Each Python operator and builtin of the language has exactly one opcode, or (``int``,
    ``bool``) one sequence of unary opcodes, and it computes what the reference interpreter
    computes."""
    import ast

    from kiln.compilers.frontend import BINOPS, BUILTINS, CMPOPS
    from kiln.compilers.interpreter import interpret
    from kiln.compilers.isa import PY_BUILTIN, PY_CONVERSION, PY_OPERATOR, evaluate

    assert set(BINOPS) | set(CMPOPS) | {ast.And, ast.Or, ast.USub, ast.Invert, ast.Not} \
        == set(PY_OPERATOR)
    assert set(BUILTINS) == set(PY_BUILTIN) | set(PY_CONVERSION)
    assert not set(PY_BUILTIN) & set(PY_CONVERSION)
    rows = [[a, b] for a in (0, 7, -7, isa.INT32_MIN, isa.INT32_MAX)
            for b in (0, 3, -3, 31, isa.INT32_MAX)]
    for name, code in PY_BUILTIN.items():
        if name == "abs":
            continue
        got = [evaluate(code, a, b) for a, b in rows]
        assert got == [int(v) for v in interpret(f"def f(a, b):\n    return {name}(a, b)\n",
                                                  rows)], name
    for name, codes in PY_CONVERSION.items():
        got = []
        for a, _ in rows:
            for code in codes:
                a = evaluate(code, a)
            got.append(a)
        assert got == [int(v) for v in interpret(f"def f(a, b):\n    return {name}(a)\n",
                                                  rows)], name
