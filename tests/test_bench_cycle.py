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

    model, _, checkpoint = neural_model(CycleConfig(device="cpu", quick=True))
    assert checkpoint == ""  # an untrained model: no checkpoint to name
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


def test_hybrid_pipeline_verifies_every_task_and_counts_its_outcomes(workload):
    """The hybrid's outputs are proved or -O2, so every task verifies on the cycle's tests;
    the outcome fractions are of the batch (planted candidates: each task's -O1 code and
    mutants of its -O2 code, so tests reject some and the rest fall back or are proved)."""
    from kiln.training.hybrid_bench import mutant_candidates

    hybrid = cycle.KilnHybrid(mutant_candidates(seed=3), samples=4, tests=16, seed=3)
    assert hybrid(workload, 12) == 12
    summary = hybrid.summary(12)
    assert summary["proved"] + summary["fell_back"] == pytest.approx(1.0)
    assert 0.0 <= summary["unknown"] <= summary["fell_back"]
    assert summary["samples"] == 4
    assert all(summary[k] >= 0 for k in ("o2_compile_s", "sampling_s", "testing_s",
                                         "proving_s"))


def test_energy_is_not_claimed_on_the_cpu():
    meter, note = cycle.energy_meter("cpu")
    assert meter is None and note.startswith("not measured")


class FakeNVML:
    """pynvml's surface that the meter uses, with a board that has a counter or only power."""

    class NVMLError(Exception):
        pass

    def __init__(self, counter=True, power=True, starts=True):
        self.counter, self.power, self.starts = counter, power, starts
        self.millijoules = 0.0

    def nvmlInit(self):
        if not self.starts:
            raise self.NVMLError("Driver Not Loaded")

    def nvmlDeviceGetHandleByIndex(self, index):
        assert index == 0
        return "handle"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if not self.counter:
            raise self.NVMLError("Not Supported")
        self.millijoules += 1500.0  # 1.5 J between any two reads
        return self.millijoules

    def nvmlDeviceGetPowerUsage(self, handle):
        if not self.power:
            raise self.NVMLError("Not Supported")
        return 250_000  # milliwatts


def test_energy_without_nvml_or_power_says_so_in_words(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", None)  # not installed
    meter, note = cycle.energy_meter("cuda:0")
    assert meter is None and "pynvml is not installed" in note
    meter, note = cycle.energy_meter("cuda:0", FakeNVML(starts=False))
    assert meter is None and "Driver Not Loaded" in note
    meter, note = cycle.energy_meter("cuda:0", FakeNVML(counter=False, power=False))
    assert meter is None and "neither energy nor power" in note


def test_energy_counter_arithmetic():
    meter, note = cycle.energy_meter("cuda:0", FakeNVML())
    assert isinstance(meter, cycle.EnergyCounter) and "counter" in note
    calls = []
    per = cycle.joules_per_verified(lambda: calls.append(1), "cpu", meter, verified=5)
    assert per == pytest.approx(1.5 / (len(calls) * 5))  # 1.5 J over the runs' verified
    assert len(calls) >= 2  # at least a second of batches
    assert cycle.joules_per_verified(lambda: 0, "cpu", meter, verified=0) is None


def test_power_sampler_integrates_the_power_it_reads():
    import time

    meter, note = cycle.energy_meter("cuda:0", FakeNVML(counter=False))
    assert isinstance(meter, cycle.PowerSampler) and "sampled" in note
    joules, seconds = meter.joules(lambda: time.sleep(0.1))
    assert seconds >= 0.1
    assert joules == pytest.approx(250.0 * seconds)  # constant 250 W over the region


def test_quick_cycle_bench_from_the_cli(tmp_path, capsys):
    path = tmp_path / "cycle.json"
    assert main(["bench", "cycle", "--quick", "--repeats", "1", "--tests", "16", "--json",
                 str(path)]) == 0
    report = json.loads(path.read_text())
    rows = report["rows"]
    assert {r["pipeline"] for r in rows} == {"cpu-inprocess", "cpu-subprocess",
                                             "kiln-traditional", "kiln-neural", "kiln-hybrid"}
    assert {r["batch"] for r in rows} == {1, 16, 64}
    assert [r["batch"] for r in rows if r["pipeline"] == "kiln-neural"] == [1]
    for b in (1, 16, 64):
        same = {r["verified"] for r in rows if r["batch"] == b and r["pipeline"] not in
                ("kiln-neural", "kiln-hybrid")}
        assert len(same) == 1
    hybrid = [r for r in rows if r["pipeline"] == "kiln-hybrid"]
    assert [r["batch"] for r in hybrid] == [1]
    # An untrained model: no sample passes, the task falls back to -O2, which verifies.
    assert hybrid[0]["verified"] == 1 and hybrid[0]["fell_back"] == 1.0
    assert hybrid[0]["samples"] == 4 and hybrid[0]["speedup_vs_cpu-subprocess"] > 0
    assert report["model"].startswith("untrained, tiny preset")
    assert all(r["candidates_per_s"] > 0 for r in rows)
    kiln_rows = [r for r in rows if r["pipeline"] == "kiln-traditional"]
    assert all(r["speedup_vs_cpu-inprocess"] > 0 for r in kiln_rows)
    assert report["energy"].startswith("not measured")
    assert "the seed's claims" in capsys.readouterr().out
