"""The ``kiln`` command line.

Every failure a user can cause (unknown flags, missing files, bad sources, bad arguments, an
output path that cannot be written, a full disk) ends with one line on stderr,
``kiln: error: ...``, and a non-zero exit status; never a traceback. Ctrl-C ends with
``kiln: interrupted`` and status 130.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .compilers.isa import wrap
from .compilers.program import CALL_FUEL
from .compilers.validate import ValidationError
from .compilers.verify.smt import DEFAULT_RLIMIT, DEFAULT_UNROLL
from .compilers.vm.status import MAX_FUEL
from .fileio import OutputPathError, check_output_path
from .firstuse import notice_if_cold

EXIT_USAGE = 2
EXIT_OUTPUT = 1      # the work ran but its output could not be written
EXIT_INTERRUPTED = 130
# The sections of ``kiln bench`` (the keys of its SECTIONS table, which imports torch: named
# here so that --help stays fast; a test checks the two agree).
BENCH_SECTIONS = ("suite", "vm", "compiler", "cpython", "env")


class UsageError(Exception):
    """A bad command line; the message is printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage plus an error; we want one line
        raise UsageError(message)


def _int32(text: str) -> int:
    """An integer argument, wrapped to int32 as the language wraps every argument on entry."""
    try:
        return wrap(int(text, 0))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _opt(text: str) -> int:
    if text not in ("0", "1", "2"):
        raise argparse.ArgumentTypeError(f"optimisation level must be 0, 1 or 2, not {text!r}")
    return int(text)


def _fuel(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 1 <= value <= MAX_FUEL:
        raise argparse.ArgumentTypeError(f"fuel must be between 1 and {MAX_FUEL}, got {value}")
    return value


def _read_source(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a source file") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def _compile_file(args):
    import kiln

    source = _read_source(args.file)
    approach = getattr(args, "approach", "traditional")
    if approach == "traditional":
        try:
            return kiln.compile(source, args.opt)
        except kiln.CompileError as exc:
            raise UsageError(f"{args.file}: {exc}") from None
    if args.device and args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda asked for, but torch sees no CUDA device")
    samples = args.samples or (16 if approach == "hybrid" else 1)
    try:
        return kiln.compile(source, approach=approach, samples=samples,
                            checkpoint=args.checkpoint, device=args.device)
    except (kiln.CompileError, ValueError) as exc:  # incl. checkpoint errors, no passing sample
        raise UsageError(f"{args.file}: {exc}") from None


def _provenance_line(prog) -> str:
    p = prog.provenance
    line = f"{p.approach}: {p.outcome}"
    if p.bound is not None:
        line += f" up to {p.bound} iterations"
    if p.reason:
        line += f" ({p.reason})"
    line += (f"; {p.samples} samples, {p.passed} passed the tests, {p.proofs} proofs "
             f"({p.refuted} refuted, {p.unknown} unknown), solver {p.solver_seconds:.2f} s")
    return line + (f"; checkpoint {p.checkpoint}" if p.checkpoint else "")


def cmd_compile(args) -> int:
    """Print the disassembly (or JSON) of a compiled file."""
    prog = _compile_file(args)
    if args.json:
        print(json.dumps({"function": prog.name, "params": list(prog.params),
                          "code": prog.code.tolist(), "asm": prog.asm(),
                          "static_cost": prog.static_cost,
                          "provenance": dataclasses.asdict(prog.provenance)}))
    else:
        if args.approach == "hybrid":
            print(f"; {_provenance_line(prog)}")
        sys.stdout.write(prog.asm())
    return 0


# kiln verify: exit statuses beside 0 (equivalent, fully or up to the bound).
EXIT_COUNTEREXAMPLE = 1
EXIT_UNKNOWN = 3


def _load_program(path: str, opt: int):
    """A file as ``(code, params or None)``: ``.py`` a source (compiled at ``opt``), ``.json``
    the output of ``kiln compile --json``, anything else assembly text (``kiln compile``'s
    output; its header comment names the parameters)."""
    import re

    import kiln
    from .compilers.asm import AsmError, assemble

    text = _read_source(path)
    if path.endswith(".py"):
        try:
            prog = kiln.compile(text, opt)
        except kiln.CompileError as exc:
            raise UsageError(f"{path}: {exc}") from None
        return prog.code, prog.params
    if path.endswith(".json"):
        try:
            data = json.loads(text)
            return kiln.compilers.validate.as_code(data["code"]), tuple(data["params"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}: not the JSON of `kiln compile --json` ({exc})") from None
    try:
        code = assemble(text)
    except AsmError as exc:
        raise UsageError(f"{path}: {exc}") from None
    header = re.match(r"\s*;\s*\w+\(([^)]*)\)", text)
    params = tuple(p.strip() for p in header.group(1).split(",") if p.strip()) if header else None
    return code, params


def _verify_pair(a: str, b: str, args):
    from .compilers.verify.smt import check_equivalent

    code_a, params_a = _load_program(a, args.opt)
    code_b, params_b = _load_program(b, args.opt)
    params = params_a if params_a is not None else params_b
    if params is None:
        raise UsageError(f"neither {a} nor {b} says how many parameters it takes (give a .py "
                         f"source, or assembly with its `; name(params)` header)")
    if params_b is not None and len(params_b) != len(params):
        raise UsageError(f"{a} takes {len(params)} parameter(s), {b} takes {len(params_b)}")
    try:
        verdict = check_equivalent(code_a, code_b, len(params), unroll=args.unroll,
                                   rlimit=args.rlimit)
    except ValidationError as exc:
        raise UsageError(f"{a} or {b}: {exc}") from None
    return verdict, params


def _exit_status(outcome: str) -> int:
    from .compilers.verify.smt import COUNTEREXAMPLE, UNKNOWN

    return {COUNTEREXAMPLE: EXIT_COUNTEREXAMPLE, UNKNOWN: EXIT_UNKNOWN}.get(outcome, 0)


def cmd_verify(args) -> int:
    """Prove two programs equal (or two folders of programs, paired by name)."""
    a, b = Path(args.a), Path(args.b)
    if not (a.is_dir() and b.is_dir()):
        verdict, params = _verify_pair(args.a, args.b, args)
        print(verdict.describe(params, a.name, b.name))
        return _exit_status(verdict.outcome)
    counts: dict[str, int] = {}
    status = 0
    for left in sorted(a.iterdir()):
        right = next((b / f"{left.stem}{ext}" for ext in (".py", ".asm", ".json")
                      if (b / f"{left.stem}{ext}").is_file()), None)
        if not left.is_file() or right is None:
            continue
        verdict, params = _verify_pair(str(left), str(right), args)
        print(f"{left.stem}: {verdict.describe(params, left.name, right.name)}")
        counts[verdict.outcome] = counts.get(verdict.outcome, 0) + 1
        status = max(status, _exit_status(verdict.outcome))
    if not counts:
        raise UsageError(f"no file of {a} has a namesake (.py, .asm or .json) in {b}")
    print(", ".join(f"{n} {outcome}" for outcome, n in counts.items()))
    return status


def cmd_run(args) -> int:
    """Run a compiled file on one argument list and print the result."""
    notice_if_cold()
    prog = _compile_file(args)
    if len(args.args) != prog.nparams:
        raise UsageError(f"{prog.name} takes {prog.nparams} argument(s) "
                         f"({', '.join(prog.params) or 'none'}), got {len(args.args)}")
    values, status, cycles = prog.execute([args.args], args.fuel)
    if status[0] != 0:
        raise UsageError(f"ran out of fuel after {args.fuel} instructions (raise it with --fuel)")
    print(int(values[0]))
    if args.cycles:
        print(f"cycles: {int(cycles[0])}", file=sys.stderr)
    return 0


def cmd_bench(args) -> int:
    """Run the benchmark (or, with ``cycle``, the iteration-cycle benchmark); print tables."""
    from .bench import SECTIONS, BenchConfig, run_bench

    if args.what == "cycle":
        return _bench_cycle(args)
    if args.what is not None:
        raise UsageError(f"unknown benchmark {args.what!r}; the one named benchmark is 'cycle' "
                         f"(plain 'kiln bench' runs the sections)")

    sections = tuple(args.sections.split(",")) if args.sections else tuple(SECTIONS)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise UsageError(f"unknown section {unknown[0]!r}; choose from {', '.join(SECTIONS)}")
    json_path = _output_path(args.json)
    notice_if_cold()
    _check_device(args.device)
    run_bench(BenchConfig(device=args.device, quick=args.quick, repeats=args.repeats,
                          sections=sections, json_path=json_path))
    return 0


def _bench_cycle(args) -> int:
    from .bench.cycle import CycleConfig, run_cycle

    if args.sections:
        raise UsageError("--sections is for plain 'kiln bench'; 'kiln bench cycle' has none")
    json_path = _output_path(args.json)
    try:
        batches = tuple(_positive(b) for b in args.batches.split(",")) if args.batches else ()
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--batches: {exc}") from None
    notice_if_cold()
    _check_device(args.device)
    run_cycle(CycleConfig(device=args.device, quick=args.quick, repeats=args.repeats,
                          tests=args.tests, batches=batches, checkpoint=args.checkpoint,
                          neural_max_batch=args.neural_max_batch or 0,
                          hybrid_max_batch=args.hybrid_max_batch or 0,
                          hybrid_samples=args.samples or 0,
                          json_path=json_path))
    return 0


def cmd_leaderboard(args) -> int:
    """Rank the entries on the tasks; write leaderboard.md, CSV, JSON, charts, TensorBoard."""
    from .leaderboard import LeaderboardConfig, run_leaderboard
    from .leaderboard.run import parse_list

    tasks = parse_list(args.tasks) if args.tasks is not None else \
        (() if args.suite or args.submission else LeaderboardConfig.tasks)
    _check_device(args.device)
    notice_if_cold()
    try:
        run_leaderboard(LeaderboardConfig(
            tasks=tasks, suite_dirs=tuple(args.suite), entries=args.entries,
            checkpoint=args.checkpoint, samples=args.samples, prove=args.prove,
            submissions=tuple(args.submission), device=args.device, quick=args.quick,
            out=args.out, save_submissions=args.save_submissions))
    except (ValueError, OutputPathError) as exc:
        raise UsageError(str(exc)) from None
    return 0


def _check_device(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda asked for, but torch sees no CUDA device")


def cmd_train(args) -> int:
    """Run (or resume) a PPO training run."""
    from .training import config as train_config
    from .training.checkpoint import CheckpointError
    from .training.options import given

    changes = given(train_config.TrainConfig, args)
    if "WORLD_SIZE" in os.environ:  # a process torchrun started: the job's size is torchrun's
        changes["nproc"] = int(os.environ["WORLD_SIZE"])
    try:
        if args.resume is not None:
            if args.preset is not None:
                raise UsageError("--preset and --resume exclude each other: a resumed run keeps "
                                 "its own config")
            config = None
        else:
            config = train_config.preset(args.preset or "default").replace(**changes)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    nproc = changes.get("nproc", config.nproc if config else 1)
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        from .training.distributed import launch

        return launch(nproc, _without_option(args.argv, "--nproc"))
    from .training.run import train

    try:
        run = train(config, resume=args.resume and Path(args.resume), changes=changes)
    except (CheckpointError, OSError, ValueError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    if run is not None:
        print(f"run directory: {run.path}  (watch it: tensorboard --logdir {run.path})",
              file=sys.stderr)
    return 0


def _without_option(argv: list[str], flag: str) -> list[str]:
    """``argv`` less ``flag VALUE`` and ``flag=VALUE`` (torchrun would take the flag as its own)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        elif not arg.startswith(flag + "="):
            out.append(arg)
    return out


def cmd_eval(args) -> int:
    """Evaluate a checkpoint on the held-out sets; print and write the metrics."""
    from .training.checkpoint import CheckpointError
    from .training.evaluate import SETS, evaluate, held_out
    from .training.run import load_model, resolve_device
    from .envs.compile_env import EnvParams

    json_path = _output_path(args.json)
    try:
        device = resolve_device(args.device)
        model = load_model(args.checkpoint).to(device)
        params = EnvParams(max_len=min(EnvParams().max_len, model.config.max_target_len))
        metrics = {name: evaluate(model, held_out(name, args.programs, params, device), params)
                   for name in SETS}
    except (CheckpointError, OSError, ValueError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    report = {"checkpoint": args.checkpoint, "device": str(device), **metrics}
    for name, values in metrics.items():
        print(f"{name:10s} " + "  ".join(f"{k} {v:.4g}" for k, v in values.items()))
    if json_path:
        from .fileio import atomic_write

        atomic_write(json_path, json.dumps(report, indent=1))
    return 0


def cmd_imitate(args) -> int:
    """Run imitation training; print the summary as JSON."""
    from .training.imitation import ImitationConfig, train
    from .training.options import from_args

    try:
        config = from_args(ImitationConfig, args)
        _, summary = train(config)
    except ValueError as exc:  # bad settings, a checkpoint to resume that cannot be loaded
        raise UsageError(str(exc)) from None
    print(json.dumps(summary))
    return 0


def _output_path(path: str) -> str | None:
    """Check an output path before the work runs, so that a bad one loses nothing."""
    if not path:
        return None
    try:
        return str(check_output_path(path))
    except OutputPathError as exc:
        raise UsageError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="kiln", description="kiln: compile, run and benchmark kiln programs.")
    parser.add_argument("--version", action="version", version=f"kiln {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("compile", help="compile FILE.py and print its assembly")
    p.add_argument("file", metavar="FILE.py")
    p.add_argument("-O", dest="opt", type=_opt, default=1, metavar="LEVEL",
                   help="optimisation level 0, 1 or 2 (default 1); also -O0, -O1, -O2")
    p.add_argument("--json", action="store_true",
                   help="print {function, params, code, asm, static_cost} as JSON")
    p.add_argument("--approach", choices=("traditional", "neural", "hybrid"),
                   default="traditional",
                   help="traditional (default; -O applies); neural: the transformer's samples, "
                        "kept only if they pass the tests; hybrid: the cheapest sample that "
                        "passes the tests and is proved equal to -O2 by SMT, else -O2")
    p.add_argument("--samples", type=_positive, default=None, metavar="K",
                   help="neural, hybrid: candidates to sample (default 1 (greedy) for neural, "
                        "16 for hybrid)")
    p.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="neural, hybrid: a checkpoint (NAME.json / NAME.safetensors; default: "
                        "the shipped model)")
    p.add_argument("--device", default=None,
                   help="neural, hybrid: where to sample and test (default: cuda if present)")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("verify", help="prove two programs equal, or print a counterexample")
    p.add_argument("a", metavar="A", help="a source (.py), bytecode (.asm, .json), or a folder")
    p.add_argument("b", metavar="B", help="the same kinds; two folders pair files by name")
    p.add_argument("-O", dest="opt", type=_opt, default=0, metavar="LEVEL",
                   help="level at which sources are compiled before the proof (default 0)")
    p.add_argument("--unroll", type=_positive, default=DEFAULT_UNROLL,
                   help=f"loop iterations unrolled per loop entry (default {DEFAULT_UNROLL})")
    p.add_argument("--rlimit", type=_positive, default=DEFAULT_RLIMIT,
                   help=f"z3 resource limit per query (default {DEFAULT_RLIMIT:,}); past it: "
                        f"unknown")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("run", help="compile FILE.py and run it on integer arguments")
    p.add_argument("file", metavar="FILE.py")
    p.add_argument("args", nargs="*", type=_int32, metavar="ARG",
                   help="integer arguments (decimal, 0x.., 0b..), wrapped to int32 like every "
                        "argument of a kiln function")
    p.add_argument("-O", dest="opt", type=_opt, default=1, metavar="LEVEL",
                   help="optimisation level 0, 1 or 2 (default 1)")
    p.add_argument("--fuel", type=_fuel, default=CALL_FUEL,
                   help=f"instruction budget (default {CALL_FUEL:,})")
    p.add_argument("--cycles", action="store_true", help="also print the cycle count to stderr")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("bench", help="measure VM, compiler and env throughput against CPU "
                                     "baselines; 'kiln bench cycle': the iteration cycle")
    p.add_argument("what", nargs="?", default=None, metavar="cycle",
                   help="'cycle': candidates -> compile -> test -> reward, CPU pipelines "
                        "against kiln's, B = 1 to 65,536 (default: the sections)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where to run the GPU-native paths (default: cuda if present)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes only (under a minute on a CPU)")
    p.add_argument("--repeats", type=_positive, default=5, help="timed runs per row (median)")
    p.add_argument("--sections", default="", metavar="LIST",
                   help=f"comma-separated subset of {','.join(BENCH_SECTIONS)} (default: all)")
    p.add_argument("--json", default="", metavar="PATH",
                   help="also write every row and the run's metadata to PATH, a new or regular "
                        "file (default: none)")
    p.add_argument("--tests", type=_positive, default=64,
                   help="cycle: test inputs per candidate (default 64)")
    p.add_argument("--batches", default="", metavar="LIST",
                   help="cycle: comma-separated batch sizes (default 1,16,256,4096,65536; "
                        "--quick: 1,16,64)")
    p.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="cycle: the neural compiler's checkpoint (default: the shipped one; "
                        "--quick: an untrained tiny model)")
    p.add_argument("--samples", type=_positive, default=None,
                   help="cycle: candidates the hybrid samples per task (default 16; --quick 4)")
    p.add_argument("--neural-max-batch", type=_positive, default=None, metavar="B",
                   help="cycle: largest batch of the neural pipeline (default: every batch on "
                        "a GPU, 1 on a CPU or with --quick)")
    p.add_argument("--hybrid-max-batch", type=_positive, default=None, metavar="B",
                   help="cycle: largest batch of the hybrid pipeline (default 4096 on a GPU, 1 "
                        "on a CPU or with --quick)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("leaderboard", help="rank compilers (built-in levels and submissions) "
                                           "on the suite, held-out sets or your own programs")
    p.add_argument("--tasks", default=None, metavar="LIST",
                   help="built-in tasks, comma-separated, of suite,small,loops,deep (default: "
                        "all, or none when --suite or --submission is given)")
    p.add_argument("--suite", action="append", default=[], metavar="DIR",
                   help="a directory of kiln sources, one function per file: one more task "
                        "(repeatable)")
    p.add_argument("--entries", default="O0,O1,O2", metavar="LIST",
                   help="built-in entries, comma-separated, of O0,O1,O2,neural,hybrid "
                        "(default: O0,O1,O2)")
    p.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="the neural and hybrid entries' checkpoint (default: the one shipped "
                        "with kiln)")
    p.add_argument("--samples", type=_positive, default=1,
                   help="candidates the neural and hybrid entries draw per program (default "
                        "1: greedy)")
    p.add_argument("--prove", action="store_true",
                   help="prove each passed program equal to -O2 with SMT (the proved rate; "
                        "seconds per program with loops)")
    p.add_argument("--submission", action="append", default=[], metavar="DIR",
                   help="a submission (results.json + artifact) to re-validate and rank "
                        "(repeatable)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where entries compile and tests run (default: cuda if present)")
    p.add_argument("--quick", action="store_true",
                   help="24 programs per generated set instead of 256")
    p.add_argument("--out", default="leaderboard", metavar="DIR",
                   help="output directory (default: leaderboard)")
    p.add_argument("--save-submissions", default=None, metavar="DIR",
                   help="also write each built-in entry's code and results as a submission")
    p.set_defaults(func=cmd_leaderboard)

    from .training.config import PRESETS, TrainConfig
    from .training.imitation import ImitationConfig
    from .training.options import add_arguments

    p = sub.add_parser("train", help="fine-tune the neural compiler with PPO against the oracle",
                       description="PPO fine-tuning of the neural compiler. A run directory holds "
                                   "its config, TensorBoard events and checkpoints. Flags "
                                   "override the preset's values.")
    p.add_argument("--preset", choices=tuple(PRESETS), default=None,
                   help="named config: smoke (tests, under a minute on a CPU), default (the "
                        "main job: minutes on two CPU cores), gpu (the full run)")
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue the run in RUN_DIR from its last checkpoint")
    add_arguments(p, TrainConfig, keep_defaults=False)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a checkpoint on the held-out programs")
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a checkpoint (its .json or .safetensors file)")
    p.add_argument("--programs", type=_positive, default=10_000,
                   help="held-out generated programs (default 10,000); the suite is always "
                        "evaluated whole")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--json", default="eval.json", metavar="PATH",
                   help="write the metrics here ('' for none)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("imitate", help="train the neural compiler on the traditional "
                                       "compiler's code (imitation)",
                       description="Train the neural compiler by imitation: fresh generated "
                                   "programs every step, teacher forcing, TensorBoard logs and "
                                   "checkpoints in --run-dir.")
    add_arguments(p, ImitationConfig)
    p.set_defaults(func=cmd_imitate)
    return parser


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was caused by, Ctrl-C. A KeyboardInterrupt raised while numba's
    compiled code runs can surface as a SystemError chained to it."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kiln`` script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)
        status = args.func(args)
        sys.stdout.flush()  # a full disk fails here, not at exit where only a traceback can say so
        return status
    except UsageError as exc:
        print(f"kiln: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OutputPathError as exc:  # the path changed under us after the early check
        print(f"kiln: error: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    except OSError as exc:  # writing the output failed (a full disk, a closed pipe)
        _silence_stdout()
        where = f" to {exc.filename}" if exc.filename else ""
        print(f"kiln: error: cannot write output{where}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_OUTPUT
    except BaseException as exc:
        if not _interrupted(exc):
            raise
        print("kiln: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
