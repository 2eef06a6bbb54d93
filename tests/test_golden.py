"""Golden files: each small source's program after every -O1 pipeline step.

Regenerate after an intended change with ``KILN_UPDATE_GOLDEN=1 python -m pytest
tests/test_golden.py`` and review the diff.
"""
import os
from pathlib import Path

import numpy as np
import pytest

from kiln.compilers.asm import disassemble
from kiln.compilers.frontend import parse_function
from kiln.compilers.traditional.ir import format_function
from kiln.compilers.traditional.pipeline import compile_function
from kiln.compilers.validate import validate

GOLDEN = Path(__file__).parent / "golden" / "passes"
SOURCES = sorted(GOLDEN.glob("*.py"))


def _render(source: str) -> str:
    sections = []

    def trace(name, result):
        if name == "lower":
            text = format_function(result)
        else:
            code = np.array(result, dtype=np.int32).reshape(-1, 2)
            validate(code)  # every pass leaves the program valid
            text = disassemble(code)
        sections.append(f"== {name} ==\n{text}")

    compile_function(parse_function(source), 1, trace=trace)
    return "".join(sections)


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_pass_outputs_match_golden(path):
    got = _render(path.read_text())
    expected = path.with_suffix(".golden")
    if os.environ.get("KILN_UPDATE_GOLDEN"):
        expected.write_text(got)
    assert expected.exists(), f"missing {expected.name}: run with KILN_UPDATE_GOLDEN=1"
    assert got == expected.read_text(), f"{path.name}: output differs from {expected.name}"


def test_every_o1_pass_has_a_golden_case():
    text = "".join(p.with_suffix(".golden").read_text() for p in SOURCES)
    for name in ("fold_constants", "simplify_branches", "remove_unreachable", "peephole"):
        sections = text.split(f"== {name} ==")
        assert len(sections) > 1
