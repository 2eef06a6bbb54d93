"""``kiln bench cycle``: the pipelines agree on what they verify, and the quick run works."""
import json

import pytest

from kiln.bench import cycle
from kiln.cli import main


@pytest.fixture(scope="module")
def workload():
    import torch
    return cycle.make_workload(48, 48, 16, seed=3, device=torch.device("cpu"))


def test_every_pipeline_verifies_the_same_candidates(workload):
    """CPython and kiln's VM give the same verdicts on this workload (its operators mean the
    same in both): a differential check of the pipelines, not only a timing."""
    sources, nparams = cycle._to_sources(workload, 48)
    python = cycle.verify_in_process(sources, nparams, workload.inputs_host,
                                     workload.python_expected)
    counts = {name: fn(workload, 48) for name, fn in
              {**cycle.CPU_PIPELINES, "kiln-traditional": cycle.kiln_traditional}.items()}
    assert set(counts.values()) == {sum(python)}, counts
    # Even candidates are their task; odd ones have every literal changed, mostly wrong.
    assert all(python[0::2]) and not all(python[1::2])


def test_neural_pipeline_counts_what_the_vm_verifies(workload):
    """The neural pipeline's count equals a direct check of its samples (a tiny untrained
    model: the count is small, the check is the point)."""
    import torch
    from kiln.agents.sampling import sample
    from kiln.bench.cycle import CycleConfig, neural_model
    from kiln.compilers.vm import execute

    model, _ = neural_model(CycleConfig(device="cpu", quick=True))
    count = cycle.kiln_neural(model)(workload, 3)
    part = cycle._head(workload.tasks, 3)
    with torch.no_grad():
        drawn = sample(model, part, 1)
    result = execute(drawn.code, workload.inputs, part.nparams, drawn.lengths)
    assert count == int((result.value == workload.kiln_expected[:3]).all(1).sum())


def test_a_candidate_that_raises_or_does_not_compile_fails():
    verdicts = cycle.verify_in_process(
        ["def f(a):\n    return a // 0\n", "def f(a:\n", "def f(a):\n    return a\n"],
        [1, 1, 1], [[3], [4]], [[3, 4], [3, 4], [3, 4]])
    assert verdicts == [False, False, True]


def test_claims_say_by_how_much():
    rows = [{"pipeline": "kiln-traditional", "batch": 64, "cpu_batch": 64,
             "speedup_vs_cpu-inprocess": 10.0, "speedup_vs_cpu-subprocess": 3.0}]
    got = {(c["approach"], c.get("over")): c for c in cycle.claims(rows)}
    assert got[("kiln-traditional", "cpu-inprocess")]["verdict"] == "2x above the claim's top"
    assert got[("kiln-traditional", "cpu-subprocess")]["verdict"] == "within the claim"
    assert got[("kiln-neural", None)]["measured"].startswith("not measured")


def test_energy_is_not_claimed_on_the_cpu():
    read, note = cycle.energy_meter("cpu")
    assert read is None and note.startswith("not measured")


def test_quick_cycle_bench_from_the_cli(tmp_path, capsys):
    path = tmp_path / "cycle.json"
    assert main(["bench", "cycle", "--quick", "--repeats", "1", "--tests", "16", "--json",
                 str(path)]) == 0
    report = json.loads(path.read_text())
    rows = report["rows"]
    assert {r["pipeline"] for r in rows} == {"cpu-inprocess", "cpu-subprocess",
                                             "kiln-traditional", "kiln-neural"}
    assert {r["batch"] for r in rows} == {1, 16, 64}
    assert [r["batch"] for r in rows if r["pipeline"] == "kiln-neural"] == [1]
    for b in (1, 16, 64):
        same = {r["verified"] for r in rows if r["batch"] == b and r["pipeline"] != "kiln-neural"}
        assert len(same) == 1
    assert report["model"].startswith("untrained, tiny preset")
    assert all(r["candidates_per_s"] > 0 for r in rows)
    kiln_rows = [r for r in rows if r["pipeline"] == "kiln-traditional"]
    assert all(r["speedup_vs_cpu-inprocess"] > 0 for r in kiln_rows)
    assert report["energy"].startswith("not measured")
    assert "the seed's claims" in capsys.readouterr().out
