"""Text assembly for the ISA: ``disassemble(code) -> str`` and ``assemble(text) -> code``.

One instruction per line, ``mnemonic [operand]``; indentation shows block nesting and is
ignored when reading, as is everything after ``;``. ``assemble(disassemble(c))`` gives back ``c``
and ``disassemble(assemble(t))`` gives back ``t`` for any text ``disassemble`` produced.
"""
from __future__ import annotations

import numpy as np

from .isa import BLOCK, BY_NAME, ELSE, END, IF, INT32_MAX, INT32_MIN, LOOP, NONE, NUM_OPS, OPS
from .validate import ValidationError, as_code


class AsmError(ValueError):
    """Malformed assembly text: ``line`` is 1-based."""

    def __init__(self, line: int, message: str):
        self.line = line
        super().__init__(f"assembly line {line}: {message}")


def disassemble(code, header: str | None = None) -> str:
    """Render bytecode as assembly text (bytecode need not be valid, only well-typed)."""
    arr = as_code(code)
    lines = [f"; {header}"] if header else []
    depth = 0
    for pc in range(arr.shape[0]):
        op, arg = int(arr[pc, 0]), int(arr[pc, 1])
        if not 0 <= op < NUM_OPS:
            raise ValidationError(pc, f"unknown opcode {op}")
        if op in (END, ELSE):
            depth = max(depth - 1, 0)
        text = OPS[op].name if OPS[op].arg == NONE else f"{OPS[op].name} {arg}"
        lines.append("  " * depth + text)
        if op in (BLOCK, LOOP, IF, ELSE):
            depth += 1
    return "\n".join(lines) + "\n"


def assemble(text: str) -> np.ndarray:
    """Parse assembly text into an int32 (n, 2) array (validity is ``validate``'s job)."""
    if not isinstance(text, str):
        raise TypeError(f"assemble takes assembly text (a str), got {type(text).__name__}")
    rows: list[tuple[int, int]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        op = BY_NAME.get(parts[0])
        if op is None:
            raise AsmError(lineno, f"unknown mnemonic {parts[0]!r}")
        want = 1 if op.arg == NONE else 2
        if len(parts) != want:
            raise AsmError(lineno, f"{op.name} takes {want - 1} operand(s), got {len(parts) - 1}")
        arg = 0
        if want == 2:
            try:
                arg = int(parts[1], 0)
            except ValueError:
                raise AsmError(lineno, f"operand {parts[1]!r} is not an integer") from None
            if not INT32_MIN <= arg <= INT32_MAX:
                raise AsmError(lineno, f"operand {arg} is outside int32")
        rows.append((op.code, arg))
    return np.array(rows, dtype=np.int32).reshape(-1, 2)
