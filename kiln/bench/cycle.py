"""``kiln bench cycle``: the iteration cycle of AI code generation, candidates -> compile ->
test -> reward, for B candidates x T tests, on the CPU the way people run it today and on
kiln's device path.

Workload: B generated kiln functions (the *tasks*, made on the device) and one candidate per
task, in token form on the device as a model would emit it: the task itself for even-numbered
candidates and, for odd ones, the task with every literal one larger (usually wrong). The
expected outputs on the T test inputs come from the tasks, computed before timing, in each
pipeline's own semantics (CPython for the CPU pipelines, kiln's int32 VM for kiln's). A
candidate is *verified* when it returns the expected value on every test. The generator preset
(``CYCLE_PROGRAMS``) keeps to code whose meaning CPython and kiln share on these inputs, so
every pipeline verifies the same candidates (the tests check it) and does the same work.

Pipelines, each timed from candidates on the device to the verified count on the host:

- ``cpu-inprocess``: candidates to the host, ``detokenize`` to source text, CPython
  ``compile()``, ``exec`` and a call per test, compared with the expected value, on one core;
- ``cpu-subprocess``: the same in one sandboxed subprocess per batch (``python -I`` in an empty
  directory with an empty environment and CPU-time and memory limits), as reward servers run
  untrusted candidates;
- ``kiln-traditional``: the batched compiler (-O1) and the VM on the device, all candidates at
  once, compared with the expected outputs there; one sync at the end for the count;
- ``kiln-neural``: the neural compiler samples one program per task (greedy) on the device
  from the tasks' source tokens, and the VM tests it there, the same way;
- ``kiln-hybrid``: the hybrid compiler (``compilers.hybrid.compile_hybrid``) on the tasks: the
  tasks to the host as source text and their ``-O2`` code (the fallback), K samples per task
  from the neural compiler on the device, all tested there in one launch, the cheapest survivor
  per task proved by SMT on the host (a counterexample: the next), else the ``-O2`` code; its
  outputs are then tested on the device like the neural pipeline's. Its rows add the fractions
  of tasks proved, fallen back, and with an SMT query that ended unknown, and the seconds of its
  stages (of the last timed run).

The neural compiler is the checkpoint given, else the one shipped with kiln; with ``quick`` and
no checkpoint, an untrained model of the tiny preset (the sampler takes seconds per batch on a
CPU; the timing is what a quick run checks, and hardly any of its samples verify; the hybrid then
falls back everywhere). Per batch size: latency, candidates/s, speedup over each CPU pipeline
(against the CPU pipeline at the same B, or at the largest B it was run at, said in
``cpu_batch``), and on a GPU with NVML the energy per verified candidate (``energy_meter``).
The report sets the measured speedups beside the seed paper's claims.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..compilers.hybrid import CandidateSource, HybridConfig, ModelCandidates, Stages
from ..compilers.programs.generator import GenConfig, bitmask, generate_batch
from ..compilers.tokens import BINOP_SYMBOLS, BUILTIN_NAMES, TokenBatch, detokenize

if TYPE_CHECKING:
    from ..agents.model import Seq2Seq

# Programs whose CPython meaning equals kiln's on small inputs: no `*` or shifts (CPython's
# unbounded ints would grow, and a shift by a large count allocates without limit), no `//` or
# `%` (CPython raises on a zero divisor, kiln defines the result), no unsigned helpers (CPython
# has none), and a final `return` (falling off the end is None in CPython, 0 in kiln).
CYCLE_PROGRAMS = GenConfig(
    min_stmts=4, max_stmts=10, max_depth=2, max_trip=6, p_special_lit=0.0,
    p_final_return=1.0, binops=bitmask(("+", "-", "&", "|", "^"), BINOP_SYMBOLS),
    builtins=bitmask(("abs", "min", "max"), BUILTIN_NAMES), expr_nodes=6,
    max_tokens=256)  # what the neural compiler reads
INPUT_RANGE = 1000   # test inputs are in -1000..1000: kiln and CPython agree on these sums
MAX_CODE = 1024

# The seed paper's claims: speedup of each approach's cycle over the CPU cycle.
CLAIMS = {"kiln-traditional": (2.0, 5.0), "kiln-neural": (10.0, 100.0),
          "kiln-hybrid": (5.0, 20.0)}


@dataclass
class CycleConfig:
    """What ``kiln bench cycle`` runs; ``quick`` picks sizes for a CPU in CI."""

    device: str = "auto"
    """``cuda``, ``cpu`` or ``auto`` (CUDA when available)."""
    quick: bool = False
    """Small batches only (a CI smoke run on the CPU)."""
    repeats: int = 3
    """Timed runs per row; the median is reported."""
    tests: int = 64
    """Test inputs per candidate (T)."""
    batches: tuple[int, ...] = ()
    """Batch sizes B for kiln's pipelines (default: 1 to 65,536, quick: 1 to 64)."""
    cpu_max_batch: int = 0
    """Largest B for the CPU pipelines (default 4,096; quick 64): beyond it they are linear."""
    neural_max_batch: int = 0
    """Largest B for the neural pipeline (default on a GPU: every batch; on a CPU or with
    quick: 1, as the sampler takes seconds per batch there)."""
    hybrid_max_batch: int = 0
    """Largest B for the hybrid pipeline (default on a GPU 4,096, as its -O2 compile and
    proofs run on the host, per task; on a CPU or with quick: 1, as for the neural one)."""
    hybrid_samples: int = 0
    """Candidates the hybrid samples per task (K; default 16, quick 4)."""
    checkpoint: str | None = None
    """Neural compiler checkpoint (default: the shipped one; quick: an untrained tiny model)."""
    json_path: str | None = None
    """Where to write the rows and metadata (None: don't)."""
    seed: int = 0
    """Seed of the tasks and test inputs."""

    def resolved(self) -> CycleConfig:
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        small = self.quick
        gpu = device.startswith("cuda")
        return CycleConfig(
            device=device, quick=self.quick, repeats=self.repeats, tests=self.tests,
            batches=self.batches or ((1, 16, 64) if small else (1, 16, 256, 4096, 65536)),
            cpu_max_batch=self.cpu_max_batch or (64 if small else 4096),
            neural_max_batch=self.neural_max_batch or (1 << 30 if gpu and not small else 1),
            hybrid_max_batch=self.hybrid_max_batch or (4096 if gpu and not small else 1),
            hybrid_samples=self.hybrid_samples or (4 if small else 16),
            checkpoint=self.checkpoint, json_path=self.json_path, seed=self.seed)


# The CPU pipelines' work, run in process and, verbatim, as the sandboxed child's program: one
# definition, so both do exactly the same thing per candidate.
VERIFY_SOURCE = """
def verify(sources, nparams, inputs, expected):
    verdicts = []
    for source, n, want in zip(sources, nparams, expected):
        namespace = {}
        try:
            exec(compile(source, "<candidate>", "exec"), namespace)
            f = namespace["f"]
        except Exception:
            verdicts.append(False)
            continue
        ok = True
        for row, value in zip(inputs, want):
            try:
                got = f(*row[:n])
            except Exception as exc:
                got = type(exc).__name__
            if got != value:
                ok = False
                break
        verdicts.append(ok)
    return verdicts
"""
_CHILD = VERIFY_SOURCE + """
import json, sys
job = json.load(sys.stdin)
json.dump(verify(job["sources"], job["nparams"], job["inputs"], job["expected"]), sys.stdout)
"""
_namespace: dict[str, Any] = {}
exec(compile(VERIFY_SOURCE, "<verify>", "exec"), _namespace)
verify_in_process: Callable[..., list[bool]] = _namespace["verify"]
SANDBOX_CPU_SECONDS = 600
SANDBOX_MEMORY = 4 << 30


@dataclass
class Workload:
    """The candidates on the device and the expected outputs of each pipeline's semantics."""

    tasks: TokenBatch             # [B] on the device: the programs the candidates are for
    candidates: TokenBatch        # [B] on the device
    inputs: torch.Tensor          # int32 [T, 6] on the device, shared by every candidate
    kiln_expected: torch.Tensor   # int32 [B, T] on the device
    python_expected: list[list[Any]]  # first cpu_tasks tasks: value or exception name per test
    inputs_host: list[list[int]] = field(repr=False)


def make_workload(n: int, cpu_tasks: int, tests: int, seed: int,
                  device: torch.device) -> Workload:
    """``n`` tasks, their candidates (odd ones with every literal one larger) and the expected
    outputs (CPython's for the first ``cpu_tasks``), computed before any timing."""
    from ..compilers.batch import compile_batch
    from ..compilers.vm import execute

    tasks = generate_batch(n, seed, CYCLE_PROGRAMS)
    odd = (torch.arange(n) % 2 == 1)[:, None]
    in_table = torch.arange(tasks.lits.shape[1]) < tasks.nlits[:, None]
    lits = torch.where(odd & in_table, tasks.lits + 1, tasks.lits).to(torch.int32)
    candidates = TokenBatch(tasks.tokens, tasks.lengths, lits, tasks.nlits, tasks.nparams,
                            tasks.nnames)
    rng = np.random.default_rng(seed + 1)
    inputs = rng.integers(-INPUT_RANGE, INPUT_RANGE + 1, size=(tests, 6)).astype(np.int32)
    inputs[inputs == 0] = 1  # never zeros as data
    code = compile_batch(tasks, opt=1, max_code=MAX_CODE)
    if bool((code.status != 0).any()):
        raise RuntimeError("a generated task did not compile; widen MAX_CODE")
    expected = execute(code.code, torch.from_numpy(inputs), tasks.nparams, code.lengths).value
    host = inputs.tolist()
    python_expected = []
    for i in range(cpu_tasks):
        namespace: dict[str, Any] = {}
        exec(compile(tasks.source(i), "<task>", "exec"), namespace)
        python_expected.append([_call(namespace["f"], row[:int(tasks.nparams[i])])
                                for row in host])
    return Workload(tasks.to(device), candidates.to(device), torch.from_numpy(inputs).to(device),
                    expected.to(device), python_expected, host)


def _call(f: Callable[..., Any], args: list[int]) -> Any:
    try:
        return f(*args)
    except Exception as exc:  # a task may raise (x // 0): its outcome is the error's name
        return type(exc).__name__


def _head(batch: TokenBatch, b: int) -> TokenBatch:
    return TokenBatch(*(getattr(batch, name)[:b] for name in
                        ("tokens", "lengths", "lits", "nlits", "nparams", "nnames")))


# Pipelines: each takes (workload, B) and returns the number of verified candidates. ---------

def _to_sources(w: Workload, b: int) -> tuple[list[str], list[int]]:
    """Candidates to the host (one copy of the batch), then detokenized one by one."""
    part = _head(w.candidates, b)
    tokens, lengths, lits, nlits, nparams = (x.cpu().numpy() for x in (
        part.tokens, part.lengths, part.lits, part.nlits, part.nparams))
    sources = [detokenize(tokens[i, :lengths[i]], lits[i, :nlits[i]]) for i in range(b)]
    return sources, nparams.tolist()


def cpu_inprocess(w: Workload, b: int) -> int:
    """CPython compile + exec + T calls per candidate, in this process, on one core."""
    sources, nparams = _to_sources(w, b)
    return sum(verify_in_process(sources, nparams, w.inputs_host, w.python_expected[:b]))


def _limit_child() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (SANDBOX_CPU_SECONDS, SANDBOX_CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (SANDBOX_MEMORY, SANDBOX_MEMORY))


def cpu_subprocess(w: Workload, b: int) -> int:
    """The same work in one sandboxed subprocess for the whole batch."""
    sources, nparams = _to_sources(w, b)
    job = json.dumps({"sources": sources, "nparams": nparams, "inputs": w.inputs_host,
                      "expected": w.python_expected[:b]})
    with tempfile.TemporaryDirectory(prefix="kiln-sandbox-") as empty:
        done = subprocess.run([sys.executable, "-I", "-c", _CHILD], input=job, text=True,
                              capture_output=True, cwd=empty, env={}, check=False,
                              preexec_fn=_limit_child, timeout=SANDBOX_CPU_SECONDS)
    if done.returncode != 0:
        raise RuntimeError(f"sandboxed verifier failed ({done.returncode}): "
                           f"{done.stderr.strip()[-500:]}")
    return sum(json.loads(done.stdout))


def kiln_traditional(w: Workload, b: int) -> int:
    """Batched compiler (-O1) and VM on the device; the count is the only copy to the host."""
    from ..compilers.batch import compile_batch
    from ..compilers.vm import OK, execute

    part = _head(w.candidates, b)
    code = compile_batch(part, opt=1, max_code=MAX_CODE)
    result = execute(code.code, w.inputs, part.nparams, code.lengths)
    passed = (result.status == OK) & (result.value == w.kiln_expected[:b])
    return int((passed.all(1) & (code.status == 0)).sum())


def kiln_neural(model: Seq2Seq) -> Callable[[Workload, int], int]:
    """One greedy sample per task from ``model`` (the neural compiler), tested on the device."""
    from ..agents.sampling import sample
    from ..compilers.vm import OK, execute

    def pipeline(w: Workload, b: int) -> int:
        part = _head(w.tasks, b)
        with torch.no_grad():
            drawn = sample(model, part, 1, temperature=0.0)
        result = execute(drawn.code, w.inputs, part.nparams, drawn.lengths)
        passed = (result.status == OK) & (result.value == w.kiln_expected[:b])
        return int(passed.all(1).sum())

    return pipeline


class KilnHybrid:
    """The hybrid compiler on the first B tasks (``candidates``: K = ``samples`` per task; the
    hybrid's own tests are T protocol rows), its outputs tested on the device; a call returns
    the verified count, and ``summary()`` the last call's outcomes and stage seconds."""

    def __init__(self, candidates: CandidateSource, samples: int, tests: int, seed: int):
        self.candidates = candidates
        self.config = HybridConfig(samples=samples, tests=tests, seed=seed)
        self.stages = Stages()
        self.unknown = 0  # tasks with an SMT query that ended unknown, in the last call

    def __call__(self, w: Workload, b: int) -> int:
        from ..compilers.hybrid import compile_hybrid
        from ..compilers.verify.probabilistic import pad_codes
        from ..compilers.vm import OK, execute

        part = _head(w.tasks, b)
        host = part.to("cpu")  # one copy of the batch; source text is the hybrid's input
        sources = [host.source(i) for i in range(b)]
        device = part.tokens.device
        self.stages = Stages()
        outputs = compile_hybrid(sources, self.candidates, self.config, device, self.stages)
        self.unknown = sum(1 for p in outputs if p.provenance.unknown)
        code, lengths = pad_codes([p.code for p in outputs])
        result = execute(code.to(device), w.inputs, part.nparams, lengths.to(device))
        passed = (result.status == OK) & (result.value == w.kiln_expected[:b])
        return int(passed.all(1).sum())

    def summary(self, b: int) -> dict[str, Any]:
        """The last call's outcome fractions (of ``b`` tasks) and stage seconds."""
        outcomes = self.stages.outcomes
        return {"samples": self.config.samples,
                "proved": (outcomes.get("proved", 0) + outcomes.get("proved_bounded", 0)) / b,
                "fell_back": outcomes.get("fell_back", 0) / b, "unknown": self.unknown / b,
                "o2_compile_s": self.stages.traditional, "sampling_s": self.stages.sampling,
                "testing_s": self.stages.testing, "proving_s": self.stages.proving}


CPU_PIPELINES: dict[str, Callable[[Workload, int], int]] = {
    "cpu-inprocess": cpu_inprocess, "cpu-subprocess": cpu_subprocess}


def neural_model(cfg: CycleConfig) -> tuple[Seq2Seq, str, str]:
    """The neural pipeline's model on the run's device, what it is (for the report), and its
    checkpoint's id (``compilers.neural.checkpoint_id``; empty for the untrained model)."""
    from ..compilers.neural import checkpoint_id, load_model

    if cfg.checkpoint is not None or not cfg.quick:
        model, meta = load_model(cfg.checkpoint, cfg.device)
        name = cfg.checkpoint or "the shipped checkpoint"
        return model, f"{name} (weights {checkpoint_id(meta)})", checkpoint_id(meta)
    from ..agents.config import ModelConfig
    from ..agents.model import Seq2Seq

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = Seq2Seq(ModelConfig.preset("tiny")).to(cfg.device).eval()
    return model, f"untrained, tiny preset, seed {cfg.seed}", ""


def approaches(cfg: CycleConfig) -> tuple[dict[str, tuple[Callable[[Workload, int], int], int]],
                                           str]:
    """kiln's pipelines on the device, each with the largest batch it runs at, and the name of
    the neural model (the hybrid samples the same one)."""
    model, name, checkpoint = neural_model(cfg)
    hybrid = KilnHybrid(ModelCandidates(model, cfg.seed, checkpoint), cfg.hybrid_samples,
                        cfg.tests, cfg.seed)
    return ({"kiln-traditional": (kiln_traditional, max(cfg.batches)),
             "kiln-neural": (kiln_neural(model), cfg.neural_max_batch),
             "kiln-hybrid": (hybrid, cfg.hybrid_max_batch)}, name)


# Measuring ---------------------------------------------------------------------------------

def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time(fn: Callable[[], int], device: str, repeats: int) -> tuple[float, int]:
    """Median wall seconds of ``fn()`` after a warm-up, and its result."""
    verified = fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        verified = fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), verified


class EnergyCounter:
    """Joules from NVML's total-energy counter of the board (millijoules since the driver
    loaded), read before and after the region."""

    note = ("NVML total energy counter of the whole board (idle power included), over >= 1 s of "
            "repeated batches")

    def __init__(self, read_millijoules: Callable[[], float]):
        self.read = read_millijoules

    def joules(self, region: Callable[[], None]) -> tuple[float, float]:
        """Run ``region``; the joules the board used meanwhile, and the seconds."""
        start_mj, start = self.read(), time.perf_counter()
        region()
        return (self.read() - start_mj) / 1e3, time.perf_counter() - start


class PowerSampler:
    """Joules as the integral (trapezoids) of the board's power, sampled every ``interval``
    seconds by a background thread while the region runs, and once at each end; for boards
    whose NVML has no energy counter."""

    note = ("NVML power of the whole board (idle power included), sampled every 20 ms and "
            "integrated over >= 1 s of repeated batches")

    def __init__(self, read_milliwatts: Callable[[], float], interval: float = 0.02):
        self.read = read_milliwatts
        self.interval = interval

    def joules(self, region: Callable[[], None]) -> tuple[float, float]:
        """Run ``region``; the integral of the sampled power meanwhile, and the seconds."""
        samples = [(time.perf_counter(), self.read() / 1e3)]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(self.interval):
                samples.append((time.perf_counter(), self.read() / 1e3))

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            region()
        finally:
            stop.set()
            thread.join()
        samples.append((time.perf_counter(), self.read() / 1e3))
        joules = sum((t1 - t0) * (w0 + w1) / 2
                     for (t0, w0), (t1, w1) in zip(samples, samples[1:]))
        return joules, samples[-1][0] - samples[0][0]


EnergyMeter = EnergyCounter | PowerSampler


def energy_meter(device: str, nvml: Any = None) -> tuple[EnergyMeter | None, str]:
    """A meter of the GPU's energy through NVML (``pynvml``, from the optional
    ``nvidia-ml-py``; ``nvml`` stands in for it in tests): its total-energy counter when the
    board has one, else its power sampled in the background; or None and why not, in words."""
    if not device.startswith("cuda"):
        return None, "not measured: the run is on the CPU, whose power is not reported here"
    if nvml is None:
        try:
            import pynvml as nvml
        except ImportError:
            return None, ("not measured: pynvml is not installed (pip install "
                          "'kiln[gpu]' or nvidia-ml-py)")
    try:
        nvml.nvmlInit()
        # NVML numbers every board of the machine in PCI order, ignoring CUDA_VISIBLE_DEVICES;
        # CUDA's index is the same on a machine with one GPU, or under CUDA_DEVICE_ORDER=PCI_BUS_ID
        # with every GPU visible.
        index = torch.device(device).index
        handle = nvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device() if index is None
                                                 else index)
    except nvml.NVMLError as exc:
        return None, f"not measured: NVML does not start or see the GPU ({exc})"
    try:
        nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        meter: EnergyMeter = EnergyCounter(
            lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
    except nvml.NVMLError:
        try:
            nvml.nvmlDeviceGetPowerUsage(handle)
            meter = PowerSampler(lambda: nvml.nvmlDeviceGetPowerUsage(handle))
        except nvml.NVMLError as exc:
            return None, f"not measured: the GPU reports neither energy nor power ({exc})"
    return meter, meter.note


def joules_per_verified(fn: Callable[[], int], device: str, meter: EnergyMeter,
                        verified: int) -> float | None:
    """Board energy per verified candidate over at least a second of back-to-back batches
    (NVML's counter and power readings update a few times a second); None when nothing
    verified."""
    if verified == 0:
        return None
    runs = 0

    def region() -> None:
        nonlocal runs
        start = time.perf_counter()
        while runs < 1 or time.perf_counter() - start < 1.0:
            fn()
            runs += 1
        _sync(device)

    joules, _ = meter.joules(region)
    return joules / (runs * verified)


def run_cycle(cfg: CycleConfig, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure every pipeline at every batch size; print the tables, write JSON, return all."""
    from .throughput import format_table, metadata
    from ..fileio import atomic_write

    cfg = cfg.resolved()
    device = cfg.device
    meta = metadata(device)
    meter, energy_note = energy_meter(device)
    echo(f"kiln bench cycle on {meta['device_name']} ({device}), commit {meta['commit']}, "
         f"{meta['date']}; T = {cfg.tests} tests per candidate; energy: {energy_note}")
    largest = max(cfg.batches)
    cpu_batches = [b for b in cfg.batches if b <= cfg.cpu_max_batch] or [min(cfg.batches)]
    w = make_workload(largest, max(cpu_batches), cfg.tests, cfg.seed, torch.device(device))
    rows: list[dict[str, Any]] = []
    report = {"meta": meta, "config": asdict(cfg), "energy": energy_note, "model": "",
              "rows": rows, "claims": []}

    def save() -> None:
        if cfg.json_path:
            atomic_write(cfg.json_path, json.dumps(report, indent=1))

    cpu_rate: dict[str, dict[int, float]] = {}
    for name, pipeline in CPU_PIPELINES.items():
        cpu_rate[name] = {}
        for b in cpu_batches:
            seconds, verified = _time(lambda: pipeline(w, b), "cpu", cfg.repeats)
            cpu_rate[name][b] = b / seconds
            rows.append({"pipeline": name, "device": "cpu (1 core)", "batch": b,
                         "tests": cfg.tests, "seconds": seconds, "candidates_per_s": b / seconds,
                         "verified": verified, "joules_per_verified": None})
        save()
    where = device if device.startswith("cuda") else f"cpu ({os.cpu_count()} cores)"
    pipelines, report["model"] = approaches(cfg)
    echo(f"neural model: {report['model']}")
    for name, (pipeline, max_batch) in pipelines.items():
        for b in (b for b in cfg.batches if b <= max_batch):
            seconds, verified = _time(lambda: pipeline(w, b), device, cfg.repeats)
            row = {"pipeline": name, "device": where, "batch": b, "tests": cfg.tests,
                   "seconds": seconds, "candidates_per_s": b / seconds, "verified": verified}
            cpu_b = max(c for c in cpu_batches if c <= b) if b >= min(cpu_batches) else b
            for cpu_name, rates in cpu_rate.items():
                row[f"speedup_vs_{cpu_name}"] = (b / seconds) / rates[cpu_b]
            row["cpu_batch"] = cpu_b
            if isinstance(pipeline, KilnHybrid):
                row.update(pipeline.summary(b))
            row["joules_per_verified"] = (
                joules_per_verified(lambda: pipeline(w, b), device, meter, verified)
                if meter else None)
            rows.append(row)
        save()
    report["claims"] = claims(rows)
    echo("\n## cycle (per batch)\n\n" + format_table(rows))
    echo("\n## the seed's claims beside this run\n\n" + format_table(report["claims"]))
    save()
    if cfg.json_path:
        echo(f"\nwrote {cfg.json_path}")
    return report


def claims(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each approach's speedup at its largest batch over each CPU pipeline, beside the claim."""
    out = []
    for name, (low, high) in CLAIMS.items():
        mine = [r for r in rows if r["pipeline"] == name]
        if not mine:
            out.append({"approach": name, "claim": f"{low:g}-{high:g}x",
                        "measured": "not measured: the approach is not in this kiln"})
            continue
        top = max(mine, key=lambda r: r["batch"])
        for cpu_name in CPU_PIPELINES:
            ratio = top[f"speedup_vs_{cpu_name}"]
            verdict = ("within the claim" if low <= ratio <= high else
                       f"{ratio / high:.3g}x above the claim's top" if ratio > high else
                       f"{low / ratio:.3g}x below the claim's bottom")
            out.append({"approach": name, "over": cpu_name, "batch": top["batch"],
                        "cpu_batch": top["cpu_batch"], "claim": f"{low:g}-{high:g}x",
                        "measured": ratio, "verdict": verdict})
    return out
