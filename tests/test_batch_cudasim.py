"""The batched compiler's CUDA kernels on numba's CUDA simulator, against the CPU twin bit for bit.

NUMBA_ENABLE_CUDASIM must be set before ``numba.cuda`` is first imported, and it would turn
every later ``numba.cuda`` import in this pytest process into the simulator, so the check runs
in a subprocess: this file, run as a script with a seed. To reproduce a failure:
``NUMBA_ENABLE_CUDASIM=1 python tests/test_batch_cudasim.py <seed>``.
"""
from __future__ import annotations

import os
import sys

import pytest
from cudasim import run_simulated

SEEDS = [0, 1]


@pytest.mark.parametrize("seed", SEEDS)
def test_compiler_kernels_match_cpu_on_simulator(seed):
    run_simulated([__file__, str(seed)],
                  f"seed {seed}: the simulated GPU compiler differs from the CPU one",
                  f"python tests/test_batch_cudasim.py {seed}", timeout=900)


def _check(seed: int) -> None:
    """Compile valid, mutated and corner streams with both kernels and the CPU; compare."""
    import numpy as np
    from cudasim import streams
    from test_batch_compiler import CORNERS

    from kiln.compilers.batch import cpu, gpu

    assert gpu.is_simulator(), "NUMBA_ENABLE_CUDASIM=1 must be set before numba.cuda loads"
    args = streams(seed, 16, 8, CORNERS[seed::4], 16)
    args[1][-1] = args[0].shape[1] + 1  # a length out of range: a status
    for opt in (0, 1):
        for max_code in (24, 160):
            want = cpu.compile_arrays(*args, opt, max_code)
            assert max_code < 100 or (want[2] == 0).sum() > 8, "too few valid programs"
            for variant in gpu.VARIANTS:
                got = gpu.compile_arrays_sim(*args, opt, max_code, variant)
                for name, g, w in zip(("code", "lengths", "status", "err_pos"), got, want):
                    np.testing.assert_array_equal(
                        g, w, err_msg=f"seed {seed}: {variant} kernel, {name}, -O{opt}, "
                                      f"max_code {max_code}")
    print("ok")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    _check(int(sys.argv[1]))
