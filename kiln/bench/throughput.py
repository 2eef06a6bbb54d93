"""``kiln bench``: throughput of the GPU-native loop against the CPU baselines, in one run.

Sections (each a list of rows; ``ratios`` compares rows of the same run):

- ``vm``: program×input evaluations/s and VM instructions/s of the VM on the run's device and
  of the numba CPU VM on all cores, for straight-line 32-instruction programs and for
  generated programs with loops, over a grid of B programs × T inputs;
- ``suite``: geometric-mean dynamic cost of the hand-written suite at -O0, -O1 and -O2, on the
  evaluation protocol's inputs (``kiln.compilers.evaluation``);
- ``compiler``: programs/s (and source lines/s) of the batched compiler at -O1 and -O2, on the
  device and on the CPU, for generated ~20-line functions, against CPython's ``compile()`` on
  one core;
- ``cpython``: the pipeline a user would otherwise run per candidate: CPython ``compile()``,
  ``exec`` and a call of the function on each of T inputs;
- ``env``: steps/s of the vector env under a random masked policy, against the single env under
  gymnasium's and SB3's vector wrappers (``kiln.bench.envs``).

GPU work is timed with CUDA events after a warm-up (numba compiles kernels on first launch);
CPU work with ``perf_counter``. Every figure is the median of ``repeats`` runs. Inputs of the
timed sections are random int32, never zeros.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from ..compilers import evaluation, hashing, isa
from ..compilers.programs.generator import GenConfig, generate_batch
from ..compilers.tokens import NEWLINE
from ..compilers.traditional.pipeline import compile_source
from ..compilers.vm import OK, execute, link
from ..fileio import atomic_write, check_output_path

# Straight-line workload: 7 statements `t = x op y` (get, get, op, set) and `return x op y`
# (get, get, op, return): 32 instructions. Ops that keep CPython's ints small (no shifts).
_STRAIGHT_OPS = ("add", "sub", "xor", "and", "or", "mul")
_PY_SYMBOL = {"add": "+", "sub": "-", "xor": "^", "and": "&", "or": "|", "mul": "*"}
STRAIGHT_LEN = 32
# Programs with loops: the generator's defaults with loops likelier.
LOOP_CONFIG = GenConfig(min_stmts=6, max_stmts=12, p_for=0.2, p_while=0.1, max_trip=8)
# "20-line functions" for the compiler: statements are lines.
COMPILER_CONFIG = GenConfig(min_stmts=20, max_stmts=20, max_depth=2)
MAX_CODE = 1024  # code tensor width: room for every generated program's bytecode


@dataclass
class BenchConfig:
    """What ``kiln bench`` runs; ``quick`` picks sizes that take seconds on a CPU."""

    device: str = "auto"
    """``cuda``, ``cpu`` or ``auto`` (CUDA when available)."""
    quick: bool = False
    """Small sizes only (the CI smoke test)."""
    repeats: int = 5
    """Timed runs per row; the median is reported."""
    sections: tuple[str, ...] = ("suite", "vm", "compiler", "cpython", "env")
    """Which sections to run."""
    json_path: str | None = None
    """Where to write all rows and metadata as JSON (None: don't)."""
    seed: int = 0
    """Seed for programs and inputs."""
    vm_programs: tuple[int, ...] = field(default_factory=tuple)
    vm_inputs: tuple[int, ...] = field(default_factory=tuple)
    compiler_sizes: tuple[int, ...] = field(default_factory=tuple)
    env_sizes: tuple[int, ...] = field(default_factory=tuple)

    def resolved(self) -> "BenchConfig":
        """Fill in sizes for the device and mode."""
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        gpu = device.startswith("cuda")
        big = gpu and not self.quick
        return BenchConfig(
            device=device, quick=self.quick, repeats=self.repeats, sections=self.sections,
            json_path=self.json_path, seed=self.seed,
            vm_programs=self.vm_programs or ((1, 64, 1024, 4096, 16384, 65536) if big
                                             else (1, 64, 1024)),
            vm_inputs=self.vm_inputs or ((64, 1024) if big else (64,)),
            compiler_sizes=self.compiler_sizes or ((1, 64, 1024, 16384, 65536) if big
                                                   else (1, 64, 1024)),
            env_sizes=self.env_sizes or ((1, 64, 1024, 16384, 65536) if big else (1, 64)),
        )


# Timing ------------------------------------------------------------------------------------

def _median_seconds(fn: Callable[[], Any], device: str, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()``; CUDA events bracket it on the GPU."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


# Workloads ---------------------------------------------------------------------------------

def straight_line_programs(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """``n`` random straight-line programs of exactly 32 instructions over 2 parameters, as
    bytecode ``[n, 32, 2]`` and as the equivalent kiln (and Python) source."""
    rng = np.random.default_rng(seed)
    nstmt = (STRAIGHT_LEN - 4) // 4
    ops = np.array([isa.OP[o] for o in _STRAIGHT_OPS])
    op_idx = rng.integers(0, len(ops), size=(n, nstmt + 1))
    code = np.zeros((n, STRAIGHT_LEN, 2), dtype=np.int32)
    # Operand k of statement s reads any slot defined before it: params 0-1, temps 2..s+1.
    lhs = np.stack([rng.integers(0, 2 + s, size=n) for s in range(nstmt + 1)], axis=1)
    rhs = np.stack([rng.integers(0, 2 + s, size=n) for s in range(nstmt + 1)], axis=1)
    for s in range(nstmt + 1):
        base = 4 * s
        code[:, base] = np.stack([np.full(n, isa.GET), lhs[:, s]], axis=1)
        code[:, base + 1] = np.stack([np.full(n, isa.GET), rhs[:, s]], axis=1)
        code[:, base + 2, 0] = ops[op_idx[:, s]]
        if s < nstmt:
            code[:, base + 3] = np.stack([np.full(n, isa.SET), np.full(n, 2 + s)], axis=1)
        else:
            code[:, base + 3, 0] = isa.RETURN
    names = ["a", "b"] + [f"t{s}" for s in range(nstmt)]
    sources = []
    for i in range(min(n, 512)):  # only the CPython baseline reads sources
        lines = []
        for s in range(nstmt + 1):
            expr = (f"{names[lhs[i, s]]} {_PY_SYMBOL[_STRAIGHT_OPS[op_idx[i, s]]]} "
                    f"{names[rhs[i, s]]}")
            lines.append(f"    t{s} = {expr}" if s < nstmt else f"    return {expr}")
        sources.append("def f(a, b):\n" + "\n".join(lines) + "\n")
    return code, sources


def _random_inputs(rows: int, width: int, seed: int, device: str) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    data = rng.integers(isa.INT32_MIN, isa.INT32_MAX, size=(rows, width), endpoint=True)
    data[data == 0] = 1  # never zeros as data
    return torch.from_numpy(data.astype(np.int32)).to(device)


# Sections ----------------------------------------------------------------------------------

def bench_vm(cfg: BenchConfig) -> list[dict[str, Any]]:
    """Evaluations/s and instructions/s of the VM on the device and of the CPU VM."""
    from ..compilers.batch import compile_batch

    rows = []
    devices = [cfg.device] + (["cpu"] if cfg.device != "cpu" else [])
    largest = max(cfg.vm_programs)
    straight, _ = straight_line_programs(largest, cfg.seed)
    loop_tokens = generate_batch(largest, cfg.seed, LOOP_CONFIG)
    loops = compile_batch(loop_tokens, opt=1, max_code=MAX_CODE)
    workloads = {"straight-32": (torch.from_numpy(straight), None, None),
                 "loops": (loops.code, loops.lengths, loop_tokens.nparams)}
    for device in devices:
        on_gpu = device.startswith("cuda")
        for workload, (code_all, lengths_all, nparams_all) in workloads.items():
            for b in cfg.vm_programs:
                for t in cfg.vm_inputs:
                    if not on_gpu and b * t > 2**22:  # the CPU twin at GPU sizes takes minutes
                        continue
                    code = code_all[:b].to(device)
                    lengths = None if lengths_all is None else lengths_all[:b].to(device)
                    nparams = (torch.full((b,), 2, dtype=torch.int32, device=device)
                               if nparams_all is None else nparams_all[:b].to(device))
                    inputs = _random_inputs(t, 6, cfg.seed + 1, device)
                    linked = link(code, lengths)
                    result = execute(code, inputs, nparams, lengths, linked=linked)
                    fuel_ok = bool((result.status == 0).all())
                    steps = _steps(workload, result, code, lengths, nparams, inputs, linked)
                    secs = _median_seconds(
                        lambda: execute(code, inputs, nparams, lengths, linked=linked),
                        device, cfg.repeats)
                    rows.append({"workload": workload, "device": device, "programs": b,
                                 "inputs": t, "seconds": secs, "evals_per_s": b * t / secs,
                                 "instr_per_s": steps / secs, "all_ok": fuel_ok})
    return rows


def _steps(workload, result, code, lengths, nparams, inputs, linked) -> float:
    """Instructions the timed launch executes."""
    if workload.startswith("straight"):
        return float(code.shape[0] * inputs.shape[0] * STRAIGHT_LEN)
    from ..compilers.vm import count_steps
    return float(count_steps(code, inputs, nparams, lengths, linked=linked).sum())


def bench_compiler(cfg: BenchConfig) -> list[dict[str, Any]]:
    """Programs/s of the batched compiler (device and CPU) and of CPython's compile()."""
    from ..compilers.batch import DEFAULT_VARIANT, VARIANTS, compile_batch

    rows = []
    largest = max(cfg.compiler_sizes)
    batch_cpu = generate_batch(largest, cfg.seed, COMPILER_CONFIG)
    lines = (batch_cpu.tokens == NEWLINE).sum(dim=1).double()
    devices = [cfg.device] + (["cpu"] if cfg.device != "cpu" else [])
    for device in devices:
        full = batch_cpu.to(device)
        variants = VARIANTS if device.startswith("cuda") else (DEFAULT_VARIANT,)
        # -O1 with every kernel variant; -O2 has one kernel (one thread per program).
        for opt, variant in [(1, v) for v in variants] + [(2, DEFAULT_VARIANT)]:
            for b in cfg.compiler_sizes:
                part = _slice_batch(full, b)

                def run(part=part, variant=variant, opt=opt):
                    return compile_batch(part, opt=opt, max_code=MAX_CODE, variant=variant)

                ok = bool((run().status == 0).all())
                secs = _median_seconds(run, device, cfg.repeats)
                nlines = float(lines[:b].sum())
                impl = f"kiln-batch -O{opt}"
                if device.startswith("cuda"):
                    impl += f" ({variant})"
                rows.append({"impl": impl, "device": device, "programs": b, "seconds": secs,
                             "programs_per_s": b / secs, "lines_per_s": nlines / secs,
                             "mean_lines": nlines / b, "all_ok": ok})
    n = min(largest, 2000 if not cfg.quick else 200)
    sources = [batch_cpu.source(i) for i in range(n)]
    secs = _median_seconds(lambda: [compile(s, "<kiln>", "exec") for s in sources], "cpu",
                           cfg.repeats)
    rows.append({"impl": "CPython compile()", "device": "cpu (1 core)", "programs": n,
                 "seconds": secs, "programs_per_s": n / secs,
                 "lines_per_s": float(lines[:n].sum()) / secs, "mean_lines": float(lines[:n].mean()),
                 "all_ok": True})
    return rows


def _slice_batch(batch, n: int):
    from dataclasses import fields
    return type(batch)(*(getattr(batch, f.name)[:n] for f in fields(batch)))


def bench_cpython(cfg: BenchConfig) -> list[dict[str, Any]]:
    """Seconds per candidate of CPython compile() + exec + T calls, straight-line programs."""
    rows = []
    _, sources = straight_line_programs(256 if not cfg.quick else 64, cfg.seed)
    for t in (64,):
        inputs = _random_inputs(t, 2, cfg.seed + 1, "cpu").tolist()

        def pipeline():
            for src in sources:
                namespace: dict[str, Any] = {}
                exec(compile(src, "<candidate>", "exec"), namespace)
                f = namespace["f"]
                for a, b in inputs:
                    f(a, b)

        secs = _median_seconds(pipeline, "cpu", cfg.repeats)
        rows.append({"impl": "CPython compile+exec+call", "device": "cpu (1 core)",
                     "candidates": len(sources), "inputs": t,
                     "seconds_per_candidate": secs / len(sources)})
    return rows


def bench_suite(cfg: BenchConfig) -> list[dict[str, Any]]:
    """Geometric-mean dynamic cost of the suite at each -O level on the evaluation protocol's
    inputs (the same for all levels), and how many programs each level makes cheaper than
    -O0. ``all_ok``: every run returned, and every level agrees with -O0 on every input."""
    from ..compilers.programs.suite import load_suite

    suite = load_suite()
    key_lo, key_hi = hashing.split_key(cfg.seed, len(suite))
    inputs = evaluation.test_inputs(key_lo, key_hi, torch.zeros(len(suite), dtype=torch.int64))
    nparams = torch.tensor([prog.nparams for prog in suite], dtype=torch.int32)
    code = {opt: _stack([compile_source(prog.source, opt)[1] for prog in suite])
            for opt in (0, 1, 2)}
    rows = []
    for opt in (0, 1, 2):
        level, base = evaluation.run_tests(*code[opt], *code[0], nparams, inputs)
        c = evaluation.compare(level, base)
        ran = (level.status == OK).all() & (base.status == OK).all()
        rows.append({"level": f"-O{opt}", "programs": len(suite),
                     "geomean_cycles": float(evaluation.geometric_mean(c.candidate_cost)),
                     "vs_O0": float(evaluation.geometric_mean(1 / c.speedup)),
                     "cheaper_than_O0": int((c.speedup > 1).sum()),
                     "costlier_than_O0": int((c.speedup < 1).sum()),
                     "all_ok": bool(ran & c.correct.all())})
    return rows


def _stack(codes: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Bytecode of several programs as one zero-padded ``[B, L, 2]`` tensor and its lengths."""
    code = torch.zeros((len(codes), max(len(c) for c in codes), 2), dtype=torch.int32)
    for i, c in enumerate(codes):
        code[i, :len(c)] = torch.from_numpy(c)
    return code, torch.tensor([len(c) for c in codes], dtype=torch.int32)


def bench_envs(cfg: BenchConfig) -> list[dict[str, Any]]:
    from .envs import bench_env
    return bench_env(cfg.env_sizes, torch.device(cfg.device), steps=8 if cfg.quick else 32)


SECTIONS: dict[str, Callable[[BenchConfig], list[dict[str, Any]]]] = {
    "suite": bench_suite, "vm": bench_vm, "compiler": bench_compiler, "cpython": bench_cpython,
    "env": bench_envs}


# Ratios and report -------------------------------------------------------------------------

def ratios(results: dict[str, list[dict[str, Any]]], device: str) -> list[dict[str, Any]]:
    """Comparisons between rows of this run, with kiln's targets for one GPU beside them."""
    out = []

    def find(section, **match):
        for row in results.get(section, []):
            if all(row.get(k) == v for k, v in match.items()):
                return row
        return None

    cpy = find("cpython", inputs=64)
    vm_dev = find("vm", workload="straight-32", device=device, programs=4096, inputs=64)
    vm_cpu = find("vm", workload="straight-32", device="cpu", programs=4096, inputs=64) \
        or find("vm", workload="straight-32", device="cpu", programs=1024, inputs=64)
    if cpy and vm_dev:
        per_cand = vm_dev["seconds"] / vm_dev["programs"]
        out.append({"what": f"VM on {device} vs CPython pipeline, per candidate (T=64)",
                    "ratio": cpy["seconds_per_candidate"] / per_cand, "target": 5000})
    if vm_dev:
        out.append({"what": f"VM launch of 4096x64 on {device}, seconds end to end",
                    "value": vm_dev["seconds"], "target": 60e-6, "at_most": True})
    if cpy and vm_cpu:
        out.append({"what": "numba CPU VM vs CPython pipeline, per candidate (T=64)",
                    "ratio": cpy["seconds_per_candidate"] / (vm_cpu["seconds"]
                                                            / vm_cpu["programs"])})
    if vm_dev and vm_cpu and device != "cpu":
        out.append({"what": f"VM {device} vs numba CPU VM, evaluations/s",
                    "ratio": vm_dev["evals_per_s"] / vm_cpu["evals_per_s"]})
    top = max((r for r in results.get("vm", []) if r["device"] == device
               and r["workload"] == "straight-32"), key=lambda r: r["evals_per_s"], default=None)
    if top:
        out.append({"what": f"VM evaluations/s, best size ({top['programs']}x{top['inputs']})",
                    "value": top["evals_per_s"], "target": 1e10})
        out.append({"what": "VM instructions/s, same size", "value": top["instr_per_s"],
                    "target": 5e11})
    comp = [r for r in results.get("compiler", []) if r["device"] == device]
    cpy_c = find("compiler", impl="CPython compile()")
    if comp:
        largest = max(r["programs"] for r in comp)

        def best_at(level):
            return max((r for r in comp if r["programs"] == largest
                        and r["impl"].startswith(f"kiln-batch {level}")),
                       key=lambda r: r["programs_per_s"], default=None)

        best, best_o2 = best_at("-O1"), best_at("-O2")
        out.append({"what": f"compiler programs/s at B={best['programs']} ({best['impl']})",
                    "value": best["programs_per_s"], "target": 1e7})
        if best_o2:
            out.append({"what": f"-O2 vs -O1 compiler programs/s at B={largest}",
                        "ratio": best_o2["programs_per_s"] / best["programs_per_s"],
                        "target": 1 / 3})
        if cpy_c:
            out.append({"what": "batched compiler vs CPython compile() on one core",
                        "ratio": best["programs_per_s"] / cpy_c["programs_per_s"],
                        "target": 100})
    envs = [r for r in results.get("env", []) if r.get("impl", "").startswith("kiln-vector")]
    if envs:
        best = max(envs, key=lambda r: (r["envs"], r["steps_per_s"]))
        out.append({"what": f"vector env steps/s at {best['envs']} envs",
                    "value": best["steps_per_s"], "target": 1e7})
        base = max((r for r in results.get("env", [])
                    if not r.get("impl", "").startswith("kiln-vector")),
                   key=lambda r: r["steps_per_s"], default=None)
        if base:
            out.append({"what": f"vector env vs best baseline ({base['impl']}, "
                                f"{base['envs']} envs)",
                        "ratio": best["steps_per_s"] / base["steps_per_s"]})
    for row in out:
        if "target" in row and not device.startswith("cuda"):
            del row["target"]  # the targets are for one GPU; a CPU run only reports figures
            row.pop("at_most", None)
        elif "target" in row:
            got = row.get("ratio", row.get("value"))
            lower_is_better = row.pop("at_most", False)
            row["meets_target"] = bool(got <= row["target"] if lower_is_better
                                       else got >= row["target"])
            row["of_target"] = row["target"] / got if lower_is_better else got / row["target"]
    return out


def metadata(device: str) -> dict[str, Any]:
    """Device, date, commit and versions for the record."""
    commit = os.environ.get("KILN_COMMIT", "")  # where the tree travels without its .git
    try:
        commit = commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10,
                                cwd=os.path.dirname(__file__)).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    import numba
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor() \
        or platform.machine()
    return {"device": device, "device_name": name, "cpu_count": os.cpu_count(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": commit, "python": platform.python_version(), "torch": torch.__version__,
            "numba": numba.__version__}


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of rows (union of their keys, in first-seen order)."""
    if not rows:
        return "(no rows)\n"
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)

    def cell(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.3e}"
        return str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _write_json(report: dict[str, Any], path: str | None) -> None:
    """Write ``report`` atomically: never a half-written file, never over a non-file."""
    if path:
        atomic_write(path, json.dumps(report, indent=1))


def run_bench(cfg: BenchConfig, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the configured sections, print their tables and ratios, write JSON; return all."""
    cfg = cfg.resolved()
    if cfg.json_path:
        check_output_path(cfg.json_path)  # a bad path fails now, not after the whole run
    meta = metadata(cfg.device)
    echo(f"kiln bench on {meta['device_name']} ({cfg.device}), commit {meta['commit']}, "
         f"{meta['date']}")
    results: dict[str, list[dict[str, Any]]] = {}
    report = {"meta": meta, "config": asdict(cfg), "results": results, "ratios": []}
    for name in cfg.sections:
        rows = SECTIONS[name](cfg)
        results[name] = rows
        echo(f"\n## {name}\n\n{format_table(rows)}")
        _write_json(report, cfg.json_path)  # after each section, so a cut-off run keeps its rows
    report["ratios"] = ratios(results, cfg.device)
    if cfg.device.startswith("cuda"):
        from ..compilers.gpu_launch import launch_counts
        meta["gpu_launches"] = launch_counts()  # how many took the thin path
    echo(f"\n## ratios (same run)\n\n{format_table(report['ratios'])}")
    _write_json(report, cfg.json_path)
    if cfg.json_path:
        echo(f"\nwrote {cfg.json_path}")
    return report
