"""``kiln bench`` end to end on the CPU at tiny sizes (the smoke test; speed is not checked)."""
import json

import numpy as np

from kiln.compilers import isa
from kiln.compilers.validate import validate
from kiln.compilers.vm import execute
from kiln.bench import BenchConfig, run_bench
from kiln.bench.throughput import straight_line_programs


def test_straight_line_programs_are_32_valid_instructions_matching_their_source():
    code, sources = straight_line_programs(20, seed=3)
    assert code.shape == (20, 32, 2)
    rows = np.array([[3, -7], [isa.INT32_MAX, 2], [0, 1]], dtype=np.int32)
    values = execute(code, rows, 2).value
    for i, source in enumerate(sources):
        validate(code[i])
        namespace = {}
        exec(source, namespace)
        want = [isa.wrap(namespace["f"](int(a), int(b))) for a, b in rows]
        assert values[i].tolist() == want, f"program {i}\n{source}"


def test_bench_runs_every_section_and_writes_json(tmp_path):
    path = tmp_path / "bench.json"
    lines = []
    cfg = BenchConfig(device="cpu", quick=True, repeats=1, json_path=str(path),
                      vm_programs=(1, 8), vm_inputs=(4,), compiler_sizes=(1, 8), env_sizes=(1, 2))
    report = run_bench(cfg, echo=lines.append)
    saved = json.loads(path.read_text())
    assert set(saved["results"]) == {"suite", "vm", "compiler", "cpython", "env"}
    assert saved["meta"]["device"] == "cpu" and saved["meta"]["date"]
    assert all(row["all_ok"] for row in saved["results"]["vm"] + saved["results"]["compiler"])
    assert {r["workload"] for r in saved["results"]["vm"]} == {"straight-32", "loops"}
    assert any("CPython" in r["what"] for r in report["ratios"])
    assert any(line.startswith("\n## ratios") for line in lines)
    assert any(r["what"].startswith("vector env steps/s") for r in report["ratios"])
    assert [p.name for p in tmp_path.iterdir()] == ["bench.json"]  # no temporary left
