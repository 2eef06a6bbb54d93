"""The GPU kernels on numba's CUDA simulator, against the CPU VM bit for bit.

NUMBA_ENABLE_CUDASIM must be set before ``numba.cuda`` is first imported, and it would turn
every later ``numba.cuda`` import in this pytest process into the simulator, so the check runs
in a subprocess: this file, run as a script with a seed. To reproduce a failure:
``NUMBA_ENABLE_CUDASIM=1 python tests/test_vm_cudasim.py <seed>``.
"""
from __future__ import annotations

import os
import sys

import pytest
from cudasim import run_simulated

SEEDS = [0, 1, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_gpu_kernels_match_cpu_on_simulator(seed):
    run_simulated([__file__, str(seed)], f"seed {seed}: simulated GPU VM differs from the CPU VM",
                  f"python tests/test_vm_cudasim.py {seed}")


def _check(seed: int) -> None:
    """Link and run a small fuzzed batch on the simulated kernels and on the CPU; compare."""
    import numpy as np
    from bytecode_fuzz import (corrupt, pad, random_inputs, random_walk_program,
                               structured_program)

    from kiln.compilers.vm import INVALID, cpu, gpu

    assert gpu.is_simulator(), "NUMBA_ENABLE_CUDASIM=1 must be set before numba.cuda loads"
    rng = np.random.default_rng(seed)
    programs = []
    for i in range(12):
        if i % 4 == 3:
            programs.append(corrupt(rng, structured_program(rng, 2, budget=12)))
        elif i % 4 == 2:
            programs.append(random_walk_program(rng, int(rng.integers(1, 25))))
        else:
            programs.append(structured_program(rng, int(rng.integers(7)), budget=12))
    code, lengths = pad(programs)
    lengths[0] = code.shape[1] + 1  # out of range: must not link
    nparams = rng.integers(0, 7, size=len(programs)).astype(np.int32)
    nparams[1] = 7  # more than the inputs hold: must not run

    want_link = cpu.link(code, lengths)
    got_link = gpu.link(code, lengths)
    for name, got, want in zip(want_link._fields, got_link, want_link):
        np.testing.assert_array_equal(got, want, err_msg=f"seed {seed}: link {name}")

    for inputs in (random_inputs(rng, (5, 6)), random_inputs(rng, (len(programs), 3, 6))):
        for fuel in (int(rng.integers(0, 30)), 400):
            want = cpu.execute_batch(code, want_link.jump, lengths, nparams,
                                     inputs if inputs.ndim == 3 else inputs[None], fuel,
                                     want_link.status)
            got = gpu.execute(code, inputs, nparams, lengths, fuel, linked=got_link)
            for name, g, w in zip(("value", "status", "cycles"), got, want):
                np.testing.assert_array_equal(
                    g, w, err_msg=f"seed {seed}: {name}, inputs {inputs.shape}, fuel {fuel}")
    # lengths other than those linked: INVALID, decided on the device
    other = lengths.copy()
    other[2] = (lengths[2] + 1) % (code.shape[1] + 1)
    got = gpu.execute(code, inputs, nparams, other, 400, linked=got_link)
    assert (got.status[2] == INVALID).all(), f"seed {seed}: unlinked lengths ran"
    print("ok")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    _check(int(sys.argv[1]))
