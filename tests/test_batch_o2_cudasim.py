"""The -O2 CUDA kernel on numba's CUDA simulator, against the CPU twin bit for bit.

Run in a subprocess (as ``test_batch_cudasim``): this file, run as a script with a seed. The
simulator runs the kernel as Python, a few programs a second, so the sizes are small. To
reproduce a failure: ``NUMBA_ENABLE_CUDASIM=1 python tests/test_batch_o2_cudasim.py <seed>``.
"""
from __future__ import annotations

import os
import sys

import pytest
from cudasim import run_simulated

SEEDS = [0]


@pytest.mark.parametrize("seed", SEEDS)
def test_o2_kernel_matches_cpu_on_simulator(seed):
    run_simulated([__file__, str(seed)],
                  f"seed {seed}: the simulated -O2 GPU compiler differs from the CPU one",
                  f"python tests/test_batch_o2_cudasim.py {seed}", timeout=900)


def _check(seed: int) -> None:
    """Compile generated, mutated and corner streams at -O2 on the simulator and the CPU."""
    import numpy as np
    from cudasim import streams
    from test_batch_compiler import CORNERS

    from kiln.compilers.batch import cpu, gpu

    assert gpu.is_simulator(), "NUMBA_ENABLE_CUDASIM=1 must be set before numba.cuda loads"
    args = streams(seed, 6, 6, CORNERS[seed::8][:3], 3)
    for max_code in (24, 200):
        want = cpu.compile_arrays_o2(*args, max_code)
        assert max_code < 100 or (want[2] == 0).sum() >= 6, "too few valid programs"
        got = gpu.compile_arrays_sim(*args, 2, max_code)
        for name, g, w in zip(("code", "lengths", "status", "err_pos"), got, want):
            np.testing.assert_array_equal(
                g, w, err_msg=f"seed {seed}: -O2 kernel, {name}, max_code {max_code}")
    print("ok")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    _check(int(sys.argv[1]))
