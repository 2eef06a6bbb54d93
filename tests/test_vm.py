"""The VM: the CPU batch twin against the reference VM, bit for bit, on fuzzed programs.

Seeds: ``KILN_VM_SEED=<n> pytest tests/test_vm.py`` reruns one seed; each failure names its seed.
"""
from __future__ import annotations

import os

import subprocess
import sys

import numpy as np
import pytest

from bytecode_fuzz import (EDGE, corrupt, pad, random_inputs, random_walk_program,
                           structured_program)
from kiln.compilers import isa, validate
from kiln.compilers.asm import assemble, disassemble
from kiln.compilers.vm import (DEFAULT_FUEL, E_LENGTH, INVALID, MAX_FUEL, OK, OUT_OF_FUEL, Linked,
                               core, cpu, execute, link, run_reference)

SEEDS = ([int(os.environ["KILN_VM_SEED"])] if os.environ.get("KILN_VM_SEED")
         else list(range(6)))
PARAMS = 6


def reproduce(seed: int) -> str:
    return f"reproduce with KILN_VM_SEED={seed} pytest tests/test_vm.py"


def assert_matches_reference(seed, programs, code, lengths, nparams, inputs, fuel, result):
    """Every (program, row) of ``result`` equals the reference VM's (value, status, cycles)."""
    for b, program in enumerate(programs):
        for t in range(result.value.shape[1]):
            row = inputs[t] if inputs.ndim == 2 else inputs[b, t]
            want = run_reference(program, row, int(nparams[b]), fuel)
            got = (int(result.value[b, t]), int(result.status[b, t]), int(result.cycles[b, t]))
            assert got == want, (
                f"seed {seed}, program {b}, input {row[:nparams[b]].tolist()}, fuel {fuel}: "
                f"batch VM gave {got}, reference {want}; {reproduce(seed)}\n"
                f"{disassemble(program)}")


def fuzz_batch(seed: int):
    """Structured (terminating) and random-walk (maybe endless) programs, padded to a batch."""
    rng = np.random.default_rng(seed)
    programs = [structured_program(rng, int(rng.integers(PARAMS + 1))) if i % 3
                else random_walk_program(rng, int(rng.integers(1, 50))) for i in range(45)]
    code, lengths = pad(programs)
    nparams = rng.integers(0, PARAMS + 1, size=len(programs)).astype(np.int32)
    return rng, programs, code, lengths, nparams


@pytest.mark.parametrize("seed", SEEDS)
def test_cpu_matches_reference_on_fuzzed_programs(seed):
    rng, programs, code, lengths, nparams = fuzz_batch(seed)
    inputs = random_inputs(rng, (len(programs), 6, PARAMS))
    for fuel in (3_000, int(rng.integers(0, 40))):
        result = cpu.execute(code, inputs, nparams, lengths, fuel)
        assert_matches_reference(seed, programs, code, lengths, nparams, inputs, fuel, result)


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_shared_inputs_match_per_program_inputs(seed):
    rng, programs, code, lengths, nparams = fuzz_batch(seed)
    shared = random_inputs(rng, (5, PARAMS))
    result = cpu.execute(code, shared, nparams, lengths, 2_000)
    per_program = cpu.execute(code, np.broadcast_to(shared, (len(programs), 5, PARAMS)),
                              nparams, lengths, 2_000)
    for got, want in zip(result, per_program):
        np.testing.assert_array_equal(got, want, err_msg=reproduce(seed))
    assert_matches_reference(seed, programs[:8], code, lengths, nparams, shared, 2_000,
                             type(result)(*(a[:8] for a in result)))


def test_fuel_counts_executed_instructions():
    code = assemble("const 1\nconst 2\nadd\nreturn")
    cost = sum(int(isa.OP_COST[op]) for op in code[:, 0])
    batch = code[None]
    for fuel, want in ((4, (3, OK, cost)), (3, (0, OUT_OF_FUEL, cost - 1)), (0, (0, OUT_OF_FUEL, 0))):
        result = cpu.execute(batch, np.zeros((1, 0), np.int32), 0, fuel=fuel)
        got = (int(result.value[0, 0]), int(result.status[0, 0]), int(result.cycles[0, 0]))
        assert got == want == run_reference(code, [], 0, fuel)


def test_endless_loop_runs_out_of_fuel():
    code = assemble("loop\n  br 0\nend")
    result = cpu.execute(code[None], np.zeros((1, 0), np.int32), 0, fuel=1001)
    # loop (0 cycles), then 1000 runs of br (2 cycles each, back to just after the loop)
    assert (int(result.value[0, 0]), int(result.status[0, 0]), int(result.cycles[0, 0])) == \
        (0, OUT_OF_FUEL, 2000) == run_reference(code, [], 0, 1001)


def test_taken_branches_cost_extra():
    code = assemble("get 0\nif\n  const 7\n  return\nend\nconst 9\nreturn")
    result = cpu.execute(code[None], np.array([[1], [0]], np.int32), 1)
    assert result.value[0].tolist() == [7, 9]
    assert result.cycles[0].tolist() == [1 + 1 + 1 + 1, 1 + 1 + 1 + 1 + 1]  # +1: if not entered


def test_unwritten_locals_read_zero_and_params_fill_slots():
    code = assemble("get 0\nget 1\nget 7\nadd\nadd\nset 1\nget 1\nget 2\nadd\nreturn")
    inputs = np.array([[5, 6, 100]], np.int32)
    # nparams 2: slot 2 is not a parameter, so it reads 0 even though the row has a third value
    assert int(cpu.execute(code[None], inputs, 2).value[0, 0]) == 11
    assert int(cpu.execute(code[None], inputs, 3).value[0, 0]) == 111


def test_full_stack_and_deep_nesting():
    deep = "\n".join(["const 1"] * isa.MAX_STACK + ["add"] * (isa.MAX_STACK - 1) + ["return"])
    nested = "\n".join(["block"] * isa.MAX_NEST + ["const 3", "br_if 31"] + ["end"] * isa.MAX_NEST
                       + ["const 5", "return"])
    for text, want in ((deep, isa.MAX_STACK), (nested, 5)):
        code = assemble(text)
        result = cpu.execute(code[None], np.zeros((1, 0), np.int32), 0)
        assert (int(result.value[0, 0]), int(result.status[0, 0])) == (want, OK)
        assert int(result.cycles[0, 0]) == run_reference(code, [], 0, DEFAULT_FUEL)[2]


# Pairs of edge operands: 0, +-1, the extremes, powers of two, shift counts around 32.
EDGE_OPERANDS = sorted(set(EDGE[:14]) | {1 << 16, -(1 << 16), 1 << 30, -(1 << 30), 7, -7})


@pytest.mark.parametrize("op", [op.code for op in isa.PURE_OPS if op.pops == 2],
                         ids=[op.name for op in isa.PURE_OPS if op.pops == 2])
def test_alu2_matches_table(op):
    for a in EDGE_OPERANDS:
        for b in EDGE_OPERANDS:
            want = isa.evaluate(op, a, b)
            got = core.alu2(op, np.int32(a), np.int32(b))
            assert got == want, f"{isa.OPS[op].name}({a}, {b}): compiled {got}, table {want}"
            assert core.alu2.py_func(op, a, b) == want, f"{isa.OPS[op].name}({a}, {b}) in Python"


@pytest.mark.parametrize("op", [op.code for op in isa.PURE_OPS if op.pops == 1],
                         ids=[op.name for op in isa.PURE_OPS if op.pops == 1])
def test_alu1_matches_table(op):
    for a in EDGE_OPERANDS:
        want = isa.evaluate(op, a)
        assert core.alu1(op, np.int32(a)) == want == core.alu1.py_func(op, a), \
            f"{isa.OPS[op].name}({a})"


def test_select_matches_table():
    select = isa.OP["select"]
    rows = [(a, b, c) for a in (0, 5, isa.INT32_MIN) for b in (0, -3) for c in (0, 1, -1, 2**31 - 1)]
    code = assemble("get 0\nget 1\nget 2\nselect\nreturn")
    result = cpu.execute(code[None], np.array(rows, np.int32), 3)
    assert result.value[0].tolist() == [isa.evaluate(select, *row) for row in rows]


def test_every_pure_opcode_is_in_an_alu():
    names = {op.name for op in isa.PURE_OPS}
    assert names == {isa.OPS[op].name for op in range(isa.FIRST_BINARY, isa.LAST_UNARY + 1)} | {
        "select"}


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_link_matches_validate(seed):
    rng = np.random.default_rng(seed)
    programs = []
    for i in range(40):
        program = structured_program(rng, 2)
        programs.append(corrupt(rng, program) if i % 2 else program)
    code, lengths = pad(programs)
    jump, status, err_pc = cpu.link(code, lengths)[:3]
    for b, program in enumerate(programs):
        try:
            linked = validate.validate(program)
        except validate.ValidationError as exc:
            assert (status[b], err_pc[b]) != (OK, len(program)), reproduce(seed)
            assert exc.pc == err_pc[b], f"program {b}: {exc}; {reproduce(seed)}"
            assert validate.MESSAGES[status[b]] in str(exc), reproduce(seed)
        else:
            assert status[b] == OK and err_pc[b] == len(program), reproduce(seed)
            np.testing.assert_array_equal(jump[b, :len(program)], linked.jump)


def test_invalid_programs_get_status_invalid():
    rng = np.random.default_rng(0)
    good = structured_program(rng, 1)
    bad = corrupt(rng, good)
    code, lengths = pad([good, bad, good])
    inputs = random_inputs(rng, (4, 1))
    result = cpu.execute(code, inputs, 1, lengths)
    assert (result.status[1] == INVALID).all()
    assert (result.value[1] == 0).all() and (result.cycles[1] == 0).all()
    assert (result.status[[0, 2]] != INVALID).all()
    np.testing.assert_array_equal(result.value[0], result.value[2])

    # the jitted batch functions take out-of-range lengths and nparams as statuses, not errors
    _, status, _ = cpu.link_batch(code, np.array([len(good), -1, code.shape[1] + 1], np.int32))
    assert status.tolist() == [OK, E_LENGTH, E_LENGTH]
    jump, status, _ = cpu.link_batch(code, lengths)
    value, run_status, _ = cpu.execute_batch(code, jump, lengths, np.array([1, 1, 7], np.int32),
                                             inputs[None], 100, status)
    assert (run_status[2] == INVALID).all() and (run_status[0] == OK).all()


def test_strict_raises_for_invalid_programs():
    code, lengths = pad([assemble("const 1\nreturn"), assemble("const 1\nadd")])
    with pytest.raises(validate.ValidationError, match=r"pc 1: operand stack underflow.*program 1"):
        cpu.execute(code, np.zeros((1, 0), np.int32), 0, lengths, strict=True)
    with pytest.raises(validate.ValidationError):
        run_reference(code[1], [], 0, 10)


@pytest.mark.parametrize("call, message", [
    (lambda: cpu.execute(np.zeros((2, 3), np.int32), np.zeros((1, 0), np.int32), 0),
     r"code must have shape \[B, L, 2\]"),
    (lambda: cpu.execute(np.zeros((2, 3, 2), np.int32), np.zeros((3, 4, 1), np.int32), 0),
     r"inputs must have shape \[T, P\].*B = 2"),
    (lambda: cpu.execute(np.zeros((2, 3, 2), np.float32), np.zeros((1, 0), np.int32), 0),
     "code must hold integers"),
    (lambda: cpu.execute(np.zeros((1, 3, 2), np.int32), np.zeros((1, 2), np.int32), 3),
     r"nparams\[0\] = 3 is outside 0..2"),
    (lambda: cpu.execute(np.zeros((1, 3, 2), np.int32), np.zeros((1, 2), np.int64) + 2**31, 2),
     "inputs has values outside int32"),
    (lambda: cpu.execute(np.zeros((1, 3, 2), np.int32), np.zeros((1, 0), np.int32), 0,
                         lengths=np.zeros(2, np.int32)), r"lengths must have shape \[B\] = \[1\]"),
    (lambda: cpu.execute(np.zeros((1, 3, 2), np.int32), np.zeros((1, 0), np.int32), 0,
                         fuel=MAX_FUEL + 1), "fuel must be an int in 0.."),
    (lambda: cpu.execute(np.zeros((1, 3, 2), np.int32), np.zeros((1, 0), np.int32), 0,
                         linked=Linked(*(np.zeros(s, np.int32) for s in ((1, 2), 1, 1)))),
     "linked must come from kiln.compilers.vm.link"),
    (lambda: cpu.execute(np.zeros((1, 3, 2), np.int32), np.zeros((1, 0), np.int32), 2**40),
     r"nparams = 1099511627776 is outside int32"),
    (lambda: cpu.execute(np.zeros((1, 3, 2), np.int32), np.zeros((1, 0), np.int32), 0,
                         lengths=2**40), "lengths = 1099511627776 is outside int32"),
], ids=["code-shape", "inputs-shape", "code-dtype", "nparams", "inputs-range", "lengths",
        "fuel", "linked", "nparams-overflow", "lengths-overflow"])
def test_wrapper_rejects_malformed_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_torch_cpu_tensors_round_trip():
    torch = pytest.importorskip("torch")
    rng, programs, code, lengths, nparams = fuzz_batch(0)
    inputs = random_inputs(rng, (3, PARAMS))
    want = execute(code, inputs, nparams, lengths, 500)
    got = execute(torch.from_numpy(code), torch.from_numpy(inputs), torch.from_numpy(nparams),
                  torch.from_numpy(lengths), 500)
    for g, w in zip(got, want):
        assert isinstance(g, torch.Tensor) and g.dtype == torch.int32
        np.testing.assert_array_equal(g.numpy(), w)
    code_t = torch.from_numpy(code)
    linked = link(code_t, torch.from_numpy(lengths))
    assert isinstance(linked.jump, torch.Tensor)
    again = execute(code_t, torch.from_numpy(inputs), torch.from_numpy(nparams),
                    torch.from_numpy(lengths), 500, linked=linked)
    np.testing.assert_array_equal(again.value.numpy(), want.value)


def test_empty_batches():
    result = cpu.execute(np.zeros((0, 4, 2), np.int32), np.zeros((3, 1), np.int32), 0)
    assert result.value.shape == (0, 3)
    result = cpu.execute(np.zeros((2, 0, 2), np.int32), np.zeros((0, 1), np.int32), 1)
    assert result.value.shape == (2, 0)
    result = cpu.execute(np.zeros((2, 0, 2), np.int32), np.zeros((1, 1), np.int32), 1)
    assert result.status.tolist() == [[OK], [OK]] and result.value.tolist() == [[0], [0]]


def test_count_steps_is_the_least_fuel_that_suffices():
    """count_steps equals the smallest fuel at which the reference VM finishes the run."""
    from kiln.compilers.vm import count_steps, run_reference
    import kiln
    source = ("def f(n, k):\n    s = 0\n    for i in range(min(max(n, 0), 9)):\n"
              "        if i % 3 == k:\n            continue\n        s += i\n    return s\n")
    code = kiln.compile(source, 1).code
    rows = np.array([[0, 0], [1, 1], [5, 2], [9, 0], [-3, 1], [8, 5]], dtype=np.int32)
    steps = count_steps(code[None], rows, 2)[0]
    for row, n in zip(rows, steps):
        assert run_reference(code, row, 2, int(n))[1] == OK, f"row {row.tolist()}"
        assert run_reference(code, row, 2, int(n) - 1)[1] == OUT_OF_FUEL, f"row {row.tolist()}"


# Two valid instructions, then drops that would pop far below the stack's bottom if run.
_DROPS = "import numpy as np\nfrom kiln.compilers import vm\nfrom kiln.compilers.asm import assemble\n" \
    "code = np.concatenate([assemble('const 1\\ndrop'), np.tile(assemble('drop'), (4000, 1))])[None]\n" \
    "inputs = np.zeros((1, 0), np.int32)\n"


def test_link_is_bound_to_the_lengths_it_validated():
    """A Linked used with other lengths once read out of bounds (exit 139): now a ValueError."""
    script = _DROPS + ("try:\n    vm.execute(code, inputs, 0, linked=vm.link(code, lengths=[2]))\n"
                       "except ValueError as exc:\n    print('refused:', exc)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert proc.stdout.startswith("refused: lengths differ"), proc.stdout


def test_link_is_bound_to_the_code_it_validated():
    good = assemble("const 1\ndrop")[None]
    inputs = np.zeros((1, 0), np.int32)
    linked = link(good)
    assert execute(good, inputs, 0, linked=linked).status.tolist() == [[OK]]
    other = assemble("drop\ndrop")[None]
    with pytest.raises(ValueError, match="another code array"):
        execute(other, inputs, 0, linked=linked)
    with pytest.raises(ValueError, match="another code array"):
        execute(good.copy(), inputs, 0, linked=linked)
    forged = Linked(np.zeros((1, 2), np.int32), np.zeros(1, np.int32), np.zeros(1, np.int32))
    with pytest.raises(ValueError, match="must come from kiln.compilers.vm.link"):
        execute(other, inputs, 0, linked=forged)
    with pytest.raises(ValueError, match="lengths differ"):
        execute(good, inputs, 0, lengths=[1], linked=linked)
