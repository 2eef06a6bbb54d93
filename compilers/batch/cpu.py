"""The CPU twin of the GPU compiler: a numba ``prange`` loop over ``core.compile_one``.

``compile_one`` is jitted on its own (and cached) rather than inlined into the parallel loop:
numba's parfor pipeline would otherwise compile the whole compiler a second time, doubling the
first-use compile time (about half a minute).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from numba import njit, prange

from .. import frontend, isa, tokens
from ..traditional import code_passes, lower
from ..vm import core as vm_core
from .core import compile_one, compile_one_o2, scratch_size
from .ir_arrays import EX_WIDTH, META_SIZE, SM_WIDTH
from .o2 import capacities, run_pass
from .stream import STATE_SIZE

# Programs per parallel task: enough to amortise the task's scratch allocation, few enough to
# spread a small batch over every core.
_CHUNK = 16


def _drop_stale_cache() -> None:
    """numba keys a cached function on its own source file only, but the compiled code here
    also depends on the other modules of this package and on the tables it imports: drop the
    package's cached code whenever any of those sources changed."""
    here = Path(__file__).parent
    sources = sorted(here.glob("*.py")) + [Path(m.__file__) for m in (frontend, isa, tokens,
                                                                      code_passes, lower, vm_core)]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    cache = here / "__pycache__"
    marker = cache / f"numba-sources-{digest}"
    if marker.exists():
        return
    try:
        for stale in [*cache.glob("*.nbi"), *cache.glob("*.nbc"), *cache.glob("numba-sources-*")]:
            stale.unlink()
        cache.mkdir(exist_ok=True)
        marker.touch()
    except OSError:  # a read-only install: numba caches elsewhere, and sources do not change
        pass


_drop_stale_cache()
_compile_one = njit(cache=True, nogil=True)(compile_one)
_compile_one_o2 = njit(cache=True, nogil=True)(compile_one_o2)
run_ir_pass = njit(cache=True, nogil=True)(run_pass)
"""``o2.run_pass`` on the CPU: one -O2 pass on one function's ``ir_arrays``."""


@njit(cache=True)
def _outputs(programs, max_code):
    """The compile functions' results, zeroed: code, lengths, status, error positions."""
    return (np.zeros((programs, max_code, 2), np.int32), np.zeros(programs, np.int32),
            np.zeros(programs, np.int32), np.zeros(programs, np.int32))


@njit(parallel=True, cache=True)
def compile_arrays(tokens, lengths, lits, nlits, nparams, nnames, opt, max_code):
    """Compile every row of a token batch: ``(code [B, max_code, 2], lengths, status, err_pos)``,
    all int32, code zero past each program's length (all zero for rejected programs)."""
    programs, width = tokens.shape
    code, out_len, status, err_pos = _outputs(programs, max_code)
    words = scratch_size(width)
    for chunk in prange((programs + _CHUNK - 1) // _CHUNK):
        scratch = np.empty(words, np.int32)
        st = np.empty(STATE_SIZE, np.int64)
        for b in range(chunk * _CHUNK, min(programs, (chunk + 1) * _CHUNK)):
            s, pos, n = _compile_one(tokens[b], lengths[b], lits[b], nlits[b], nparams[b],
                                     nnames[b], opt, code[b], scratch, st)
            status[b] = s
            err_pos[b] = pos
            out_len[b] = n
    return code, out_len, status, err_pos


@njit(parallel=True, cache=True)
def compile_arrays_o2(tokens, lengths, lits, nlits, nparams, nnames, max_code):
    """``compile_arrays`` at -O2 (a function of its own, so that -O0 and -O1 never compile the
    -O2 passes)."""
    programs, width = tokens.shape
    code, out_len, status, err_pos = _outputs(programs, max_code)
    words = scratch_size(width)
    exprs, slots, stmts, pool_words, work_words = capacities(width)
    for chunk in prange((programs + _CHUNK - 1) // _CHUNK):
        scratch = np.empty(words, np.int32)
        st = np.empty(STATE_SIZE, np.int64)
        ex = np.empty((exprs, EX_WIDTH), np.int64)
        htab = np.empty(slots, np.int32)
        sm = np.empty((stmts, SM_WIDTH), np.int32)
        pool = np.empty(pool_words, np.int32)
        meta = np.empty(META_SIZE, np.int64)
        work = np.empty(work_words, np.int64)
        for b in range(chunk * _CHUNK, min(programs, (chunk + 1) * _CHUNK)):
            s, pos, n = _compile_one_o2(tokens[b], lengths[b], lits[b], nlits[b], nparams[b],
                                        nnames[b], code[b], scratch, st, ex, htab, sm, pool,
                                        meta, work)
            status[b] = s
            err_pos[b] = pos
            out_len[b] = n
    return code, out_len, status, err_pos
