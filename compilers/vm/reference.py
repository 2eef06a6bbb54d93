"""The reference VM: slow, plain Python, read straight off the ISA table.

It defines what the batch VMs must compute, bit for bit: values from ``isa.evaluate`` (the
table's ``sem``), cycles from each opcode's ``cost`` and ``taken``, branch targets from
``validate.validate``. It shares no code with ``compilers.vm.core``, so each checks the other.
"""
from __future__ import annotations

from collections.abc import Sequence

from .. import isa
from ..isa import BR, BR_IF, CONST, DROP, ELSE, GET, IF, OPS, RETURN, SET, TEE
from ..validate import validate
from .status import OK, OUT_OF_FUEL


def run_reference(code, args_row: Sequence[int], nparams: int,
                  fuel: int) -> tuple[int, int, int]:
    """Run one program on one input row; return ``(value, status, cycles)``.

    ``code`` is anything ``validate`` accepts (it raises ``ValidationError`` when the program is
    malformed); parameters are ``args_row[:nparams]``, int32 values. A run that would execute
    more than ``fuel`` instructions stops with status OUT_OF_FUEL, value 0, and the cycles of
    the instructions it did execute.
    """
    linked = validate(code)
    if not 0 <= nparams <= min(isa.MAX_PARAMS, len(args_row)):
        raise ValueError(f"nparams must be in 0..{min(isa.MAX_PARAMS, len(args_row))} "
                         f"(at most MAX_PARAMS and the row's length), got {nparams}")
    if fuel < 0:
        raise ValueError(f"fuel must be >= 0, got {fuel}")
    slots = [0] * isa.MAX_LOCALS
    for i in range(nparams):
        value = int(args_row[i])
        if not isa.INT32_MIN <= value <= isa.INT32_MAX:
            raise ValueError(f"parameter {i} = {value} is outside int32")
        slots[i] = value

    code_rows = [(int(op), int(arg)) for op, arg in linked.code]
    jump = [int(j) for j in linked.jump]
    stack: list[int] = []
    pc = steps = cycles = 0
    while pc < len(code_rows):
        if steps == fuel:
            return 0, OUT_OF_FUEL, cycles
        steps += 1
        op, arg = code_rows[pc]
        info = OPS[op]
        cycles += info.cost
        if info.sem is not None:
            operands = stack[len(stack) - info.pops:]
            del stack[len(stack) - info.pops:]
            stack.append(isa.evaluate(op, *operands))
        elif op == CONST:
            stack.append(arg)
        elif op == GET:
            stack.append(slots[arg])
        elif op == SET:
            slots[arg] = stack.pop()
        elif op == TEE:
            slots[arg] = stack[-1]
        elif op == DROP:
            stack.pop()
        elif op == IF:
            if stack.pop() == 0:
                cycles += info.taken
                pc = jump[pc]
                continue
        elif op == BR_IF:
            if stack.pop() != 0:
                cycles += info.taken
                pc = jump[pc]
                continue
        elif op in (BR, ELSE):
            pc = jump[pc]
            continue
        elif op == RETURN:
            return stack.pop(), OK, cycles
        # block, loop and end do nothing at run time
        pc += 1
    return 0, OK, cycles
