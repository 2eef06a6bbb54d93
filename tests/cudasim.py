"""Running a check under numba's CUDA simulator, in a fresh interpreter.

``NUMBA_ENABLE_CUDASIM`` must be set before ``numba.cuda`` is first imported, and it would turn
every later ``numba.cuda`` import of the pytest process into the simulator, so each simulated
check runs in a subprocess with warnings as errors.
"""
from __future__ import annotations

import os
import subprocess
import sys


def run_simulated(argv: list[str], what: str, reproduce: str, timeout: int = 600) -> None:
    """Run ``python -W error ARGV`` on the simulator; fail with its output unless it prints ok."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    done = subprocess.run([sys.executable, "-W", "error", *argv], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0 and done.stdout.strip().lower().endswith("ok"), (
        f"{what}; reproduce with NUMBA_ENABLE_CUDASIM=1 {reproduce}\n"
        f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")


def streams(seed: int, programs: int, max_stmts: int, corners: list[str], mutants: int):
    """The simulator checks' input: ``programs`` generated programs of stream ``seed``, mutants
    of the first ``mutants`` of them, then ``corners`` (sources), padded into one int32 token
    array (3 spare columns). Returns ``[tokens, lengths, lits, nlits, nparams, nnames]``
    (numpy), in the batched compiler's argument order."""
    import numpy as np
    from test_batch_compiler import mutate

    from kiln.compilers.programs.generator import GenConfig, generate_batch
    from kiln.compilers.tokens import TokenBatch

    rng = np.random.default_rng(seed)
    generated = generate_batch(programs, seed, GenConfig(max_stmts=max_stmts))
    corner = TokenBatch.from_sources(corners)
    rows = [generated.tokens[i, :generated.lengths[i]].tolist() for i in range(programs)]
    rows += [mutate(rng, row, 1) for row in rows[:mutants]]
    rows += [corner.tokens[i, :corner.lengths[i]].tolist() for i in range(len(corner))]
    width = max(map(len, rows)) + 3
    tokens = np.zeros((len(rows), width), np.int32)
    for i, row in enumerate(rows):
        tokens[i, :len(row)] = np.clip(row, -2**31, 2**31 - 1)
    lengths = np.array([len(row) for row in rows], np.int32)
    meta = [np.concatenate([getattr(generated, f).numpy(), getattr(generated, f).numpy()[:mutants],
                            getattr(corner, f).numpy()])
            for f in ("lits", "nlits", "nparams", "nnames")]
    return [tokens, lengths, *meta]
