"""Where episodes' programs come from: the public suite or a pool drawn by the generator.

A program source is a finite, indexed set of kiln functions. An episode's program is index
``draw % len(source)`` where ``draw`` is the episode's counter-based ``hashing.PROGRAM`` draw, so
the single env and every lane of the vector env pick the same program for the same key and
episode. The single env materialises one ``Task`` at a time on the host, with the reference
compiler (``compile_source``, what ``kiln.compile`` runs) as the oracle; the vector env materialises the whole source once as
a ``ProgramTable`` of tensors on its device, with the batched compiler as the oracle, and then
resets lanes by gathering rows. The two oracles are bit-identical at every level, which the
differential tests check.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from ..compilers.programs import generator as gen
from ..compilers.programs.generator import GenConfig
from ..compilers.programs.suite import SuiteProgram, get_program, load_suite
from ..compilers.tokens import NUM_LITS, TokenBatch, TokenizedSource, detokenize, tokenize
from ..compilers.traditional.pipeline import compile_source

SOURCES = ("generator", "suite")
# Oracle code longer than this fails construction (the batched compiler's output width).
MAX_ORACLE_CODE = 1024

# The generator's knobs for the env: small functions (a few statements, shallow nesting, short
# expressions) whose source fits the default observation (192 tokens) and whose -O1 code almost
# always fits the default 128 target tokens.
DEFAULT_GENERATOR = GenConfig(max_stmts=8, max_depth=2, expr_depth=2, expr_nodes=4,
                              max_tokens=192)


@dataclass(frozen=True, eq=False)
class Task:
    """One episode's program on the host: its source, canonical tokens and the oracle's code."""

    name: str
    source: str
    tokens: np.ndarray   # int32 [n]: canonical source tokens (compilers.tokens)
    lits: np.ndarray     # int32 [nlits]: literal values, what target token ``lit k`` pushes
    nparams: int
    oracle: np.ndarray   # int32 [m, 2]: the traditional compiler's bytecode


class ProgramTable(NamedTuple):
    """The programs of a source that have an answer, as tensors on one device.

    Row ``r`` is the source's program ``index[r]``: programs whose oracle runs out of fuel on
    the probe tests (``probe_inputs``) are left out, since they have no defined answer.
    """

    index: torch.Tensor       # int64 [N]: the program's index in its source
    source: torch.Tensor      # int32 [N, S], PAD-padded source tokens
    lits: torch.Tensor        # int32 [N, NUM_LITS], zero-padded
    nlits: torch.Tensor       # int32 [N]
    nparams: torch.Tensor     # int32 [N]
    oracle: torch.Tensor      # int32 [N, Lo, 2], the batched compiler's bytecode
    oracle_len: torch.Tensor  # int32 [N]


def make_task(name: str, source: str, opt: int, max_source_len: int,
              tokenized: TokenizedSource | None = None) -> Task:
    """Tokenize (unless ``tokenized`` is given) and compile one source with the reference
    compiler. CompileError if it is not kiln; ValueError if its token form is longer than
    ``max_source_len``."""
    tokenized = tokenized if tokenized is not None else tokenize(source)
    if len(tokenized.tokens) > max_source_len:
        raise ValueError(f"program {name!r} has {len(tokenized.tokens)} source tokens; the env's "
                         f"max_source_len is {max_source_len} (raise it in EnvParams)")
    return Task(name, source, tokenized.tokens, tokenized.lits, tokenized.nparams,
                compile_source(source, opt)[1])


def check_source(source: str) -> str:
    """``source`` if it names a program source, else ValueError listing the names."""
    if source not in SOURCES:
        raise ValueError(f"program source must be one of {SOURCES}, got {source!r}")
    return source


@functools.cache
def _suite_programs(names: tuple[str, ...] | None) -> tuple[SuiteProgram, ...]:
    programs = tuple(load_suite())
    if names is None:
        return programs
    by_name = {p.name: p for p in programs}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f"no suite programs named {missing}; the suite has: "
                         f"{', '.join(by_name)}")
    return tuple(by_name[n] for n in names)


class SuiteSource:
    """The public suite (``compilers.programs.suite``), or the programs of it named in ``names``."""

    kind = "suite"

    def __init__(self, names: tuple[str, ...] | None = None):
        self.programs = _suite_programs(None if names is None else tuple(names))

    def __len__(self) -> int:
        return len(self.programs)

    def task(self, index: int, opt: int, max_source_len: int) -> Task:
        """Program ``index`` with its reference oracle."""
        program = self.programs[index]
        return make_task(program.name, program.source, opt, max_source_len)

    def tokens(self, device: torch.device) -> TokenBatch:
        """Every program in token form, on ``device``."""
        return TokenBatch.from_sources([p.source for p in self.programs], device)


class GeneratorSource:
    """A pool of generated programs: the generator's indices ``0..pool_size-1`` at ``seed``."""

    kind = "generator"

    def __init__(self, config: GenConfig | None = None, pool_size: int = 4096, seed: int = 0):
        if config is not None and not isinstance(config, GenConfig):
            raise TypeError(f"generator must be a GenConfig or None, got "
                            f"{type(config).__name__}")
        self.config = config if config is not None else DEFAULT_GENERATOR
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError(f"pool_size must be a positive int, got {pool_size!r}")
        self.pool_size = pool_size
        self.seed = gen.check_seed(seed)

    def __len__(self) -> int:
        return self.pool_size

    def task(self, index: int, opt: int, max_source_len: int) -> Task:
        """Program ``index`` of the pool, generated alone (the generator's routine run as
        Python: no batch, no compilation), with its reference oracle."""
        tokens = np.zeros(self.config.max_tokens, np.int32)
        lits = np.zeros(NUM_LITS, np.int32)
        scratch = (np.empty(gen.NUM_STATE, np.int64),
                   np.empty((gen.MAX_BLOCKS, gen.NUM_BFIELDS), np.int64),
                   np.empty((gen.ESTACK, 4), np.int64))
        length, nlits, nparams, nnames = gen.gen_one(self.seed, index, self.config.to_array(),
                                                     tokens, lits, *scratch)
        tokenized = TokenizedSource(tokens[:length], lits[:nlits], int(nparams), int(nnames))
        return make_task(f"generated {self.seed}:{index}", detokenize(tokenized), opt,
                         max_source_len, tokenized)

    def tokens(self, device: torch.device) -> TokenBatch:
        """The whole pool in token form, generated on ``device`` (CUDA: the GPU twin)."""
        return gen.generate_batch(self.pool_size, self.seed, self.config, device=device)


class ProgramSources:
    """The env's program sources by name, built on first use, and programs named in options."""

    def __init__(self, generator: GenConfig | None, pool_size: int, pool_seed: int,
                 suite: Sequence[str] | None):
        self.generator = GeneratorSource(generator, pool_size, pool_seed)
        if suite is not None and (isinstance(suite, str) or not isinstance(suite, Sequence)
                                  or not suite or not all(isinstance(n, str) for n in suite)):
            raise ValueError(f"suite must be None (the whole suite) or a non-empty list of suite "
                             f"program names, got {suite!r}")
        self.suite_names = None if suite is None else tuple(suite)
        self._suite: SuiteSource | None = None
        self._answered: dict[str, np.ndarray] = {}

    def answered(self, kind: str, opt: int, max_source_len: int, max_code: int, fuel: int,
                 num_tests: int) -> np.ndarray:
        """Indices (int64) of the programs of source ``kind`` that have an answer: the rows of
        the vector env's table, found the same way on the CPU, so that both envs draw from
        the same list."""
        if kind not in self._answered:
            table = program_table(self.get(kind).tokens(torch.device("cpu")), opt,
                                  max_source_len, max_code, kind, fuel, num_tests)
            self._answered[kind] = table.index.numpy()
        return self._answered[kind]

    def get(self, kind: str) -> SuiteSource | GeneratorSource:
        """The source called ``kind`` (``"generator"`` or ``"suite"``)."""
        if check_source(kind) == "generator":
            return self.generator
        if self._suite is None:
            self._suite = SuiteSource(self.suite_names)
        return self._suite

    @staticmethod
    def named(program: str, opt: int, max_source_len: int) -> Task:
        """The task for a suite program's name, or for kiln source text (anything with a
        ``def``); KeyError for an unknown name, CompileError for source outside kiln."""
        if not isinstance(program, str):
            raise TypeError(f"options['program'] must be a suite name or kiln source text, got "
                            f"{type(program).__name__}")
        if "def " in program:
            return make_task("custom", program, opt, max_source_len)
        suite_program = get_program(program)
        return make_task(suite_program.name, suite_program.source, opt, max_source_len)


def probe_inputs(num_tests: int, device: torch.device) -> torch.Tensor:
    """The fixed tests that decide whether a program has an answer: int32 ``[T, MAX_PARAMS]``,
    the tests of key 0's first episode (edge cases, then random values)."""
    from ..compilers.evaluation import test_inputs

    zero = torch.zeros(1, dtype=torch.int64, device=device)
    return test_inputs(zero, zero, zero, num_tests)[0]


def program_table(batch: TokenBatch, opt: int, max_source_len: int, max_code: int,
                  name: str, fuel: int, num_tests: int) -> ProgramTable:
    """Compile a token batch with the batched compiler into a table of the programs whose oracle
    finishes on the probe tests within ``fuel``, checking (once, on the host, at construction)
    that every program fits the env's limits and that some program is left."""
    from ..compilers.batch import compile_batch
    from ..compilers.batch.status import status_message
    from ..compilers.vm import OK, execute

    code = compile_batch(batch, opt, max_code)
    too_long = batch.lengths > max_source_len
    if bool(too_long.any()):
        i = int(too_long.nonzero()[0, 0])
        raise ValueError(f"{name} program {i} has {int(batch.lengths[i])} source tokens; the "
                         f"env's max_source_len is {max_source_len} (raise it in EnvParams)")
    if bool((code.status != 0).any()):
        i = int((code.status != 0).nonzero()[0, 0])
        raise ValueError(f"the batched compiler rejected {name} program {i}: "
                         f"{status_message(int(code.status[i]))}; its source:\n"
                         f"{batch.source(i)}")
    device = batch.tokens.device
    probe = execute(code.code.to(torch.int32), probe_inputs(num_tests, device),
                    batch.nparams.to(torch.int32), code.lengths.to(torch.int32), fuel)
    keep = (probe.status == OK).all(1).nonzero()[:, 0]
    if len(keep) == 0:
        raise ValueError(f"every {name} program's oracle runs out of fuel ({fuel} "
                         f"instructions) on the env's probe tests: raise EnvParams.fuel")
    source = torch.zeros((len(keep), max_source_len), dtype=torch.int32, device=device)
    width = min(batch.tokens.shape[1], max_source_len)
    source[:, :width] = batch.tokens[keep, :width]
    oracle_len = code.lengths[keep].to(torch.int32)
    # Only as wide as the longest oracle: the vector env gathers these rows every step.
    code_width = max(1, int(oracle_len.max()))
    return ProgramTable(keep.to(torch.int64), source,
                        batch.lits[keep, :NUM_LITS].to(torch.int32),
                        batch.nlits[keep].to(torch.int32), batch.nparams[keep].to(torch.int32),
                        code.code[keep, :code_width].to(torch.int32).contiguous(), oracle_len)
