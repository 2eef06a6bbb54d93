"""The ``kiln`` command line.

Every failure a user can cause (unknown flags, missing files, bad sources, bad arguments) ends
with one line on stderr, ``kiln: error: ...``, and a non-zero exit status; never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .compilers.program import CALL_FUEL
from .compilers.vm.status import MAX_FUEL

EXIT_USAGE = 2


class UsageError(Exception):
    """A bad command line; the message is printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage plus an error; we want one line
        raise UsageError(message)


def _int32(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not -(2**31) <= value < 2**31:
        raise argparse.ArgumentTypeError(f"{value} is outside int32")
    return value


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
    try:
        return kiln.compile(source, args.opt)
    except kiln.CompileError as exc:
        raise UsageError(f"{args.file}: {exc}") from None


def cmd_compile(args) -> int:
    """Print the disassembly (or JSON) of a compiled file."""
    prog = _compile_file(args)
    if args.json:
        print(json.dumps({"function": prog.name, "params": list(prog.params),
                          "code": prog.code.tolist(), "asm": prog.asm(),
                          "static_cost": prog.static_cost}))
    else:
        sys.stdout.write(prog.asm())
    return 0


def cmd_run(args) -> int:
    """Run a compiled file on one argument list and print the result."""
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
    _check_device(args.device)
    run_bench(BenchConfig(device=args.device, quick=args.quick, repeats=args.repeats,
                          sections=sections, json_path=_json_path(args.json, "bench.json")))
    return 0


def _json_path(given: str | None, default: str) -> str | None:
    return default if given is None else (given or None)


def _bench_cycle(args) -> int:
    from .bench.cycle import CycleConfig, run_cycle
    from .fileio import OutputPathError, check_output_path

    _check_device(args.device)
    if args.sections:
        raise UsageError("--sections is for plain 'kiln bench'; 'kiln bench cycle' has none")
    json_path = _json_path(args.json, "bench_cycle.json")
    try:
        if json_path:
            check_output_path(json_path)
    except OutputPathError as exc:
        raise UsageError(str(exc)) from None
    try:
        batches = tuple(_positive(b) for b in args.batches.split(",")) if args.batches else ()
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--batches: {exc}") from None
    run_cycle(CycleConfig(device=args.device, quick=args.quick, repeats=args.repeats,
                          tests=args.tests, batches=batches, json_path=json_path))
    return 0


def cmd_leaderboard(args) -> int:
    """Rank the entries on the tasks; write leaderboard.md, CSV, JSON, charts, TensorBoard."""
    from .fileio import OutputPathError
    from .leaderboard import LeaderboardConfig, run_leaderboard
    from .leaderboard.run import parse_list

    tasks = parse_list(args.tasks) if args.tasks is not None else \
        (() if args.suite or args.submission else LeaderboardConfig.tasks)
    _check_device(args.device)
    try:
        run_leaderboard(LeaderboardConfig(
            tasks=tasks, suite_dirs=tuple(args.suite), entries=args.entries,
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


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kiln", description="kiln: compile, run and benchmark kiln programs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("compile", help="compile FILE.py and print its assembly")
    p.add_argument("file", metavar="FILE.py")
    p.add_argument("-O", dest="opt", type=_opt, default=1, metavar="LEVEL",
                   help="optimisation level 0, 1 or 2 (default 1); also -O0, -O1, -O2")
    p.add_argument("--json", action="store_true",
                   help="print {function, params, code, asm, static_cost} as JSON")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("run", help="compile FILE.py and run it on integer arguments")
    p.add_argument("file", metavar="FILE.py")
    p.add_argument("args", nargs="*", type=_int32, metavar="ARG")
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
    p.add_argument("--quick", action="store_true", help="small sizes only (seconds on a CPU)")
    p.add_argument("--repeats", type=_positive, default=5, help="timed runs per row (median)")
    p.add_argument("--sections", default="", metavar="LIST",
                   help="comma-separated subset of vm,compiler,cpython,env (default: all)")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="write every row and the run's metadata here ('' for none; default "
                        "bench.json, or bench_cycle.json for cycle)")
    p.add_argument("--tests", type=_positive, default=64,
                   help="cycle: test inputs per candidate (default 64)")
    p.add_argument("--batches", default="", metavar="LIST",
                   help="cycle: comma-separated batch sizes (default 1,16,256,4096,65536; "
                        "--quick: 1,16,64)")
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
                   help="built-in entries, comma-separated (default: O0,O1,O2)")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kiln`` script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except UsageError as exc:
        print(f"kiln: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("kiln: interrupted", file=sys.stderr)
        return 130
