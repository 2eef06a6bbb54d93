"""The CUDA generator under numba's simulator equals the CPU generator bit for bit.

``NUMBA_ENABLE_CUDASIM`` must be set before ``numba.cuda`` is first imported, so the check runs
in a fresh interpreter.
"""
from __future__ import annotations

import textwrap

import pytest
from cudasim import run_simulated

SCRIPT = textwrap.dedent("""
    import numpy as np
    from kiln.compilers.programs.generator import GenConfig, generate_batch

    configs = [GenConfig(), GenConfig(p_for=0.3, p_while=0.3, max_depth=4, expr_depth=5,
                                      expr_nodes=12, min_params=0, max_tokens=1024)]
    for seed, config in zip((11, 2**63 - 5), configs):
        gpu = generate_batch(33, seed, config, device="cuda")
        cpu = generate_batch(33, seed, config)
        for field in ("tokens", "lengths", "lits", "nlits", "nparams", "nnames"):
            a, b = getattr(gpu, field).numpy(), getattr(cpu, field).numpy()
            assert a.dtype == b.dtype and np.array_equal(a, b), f"seed {seed}: {field} differs"
    assert len(generate_batch(0, 1, device="cuda")) == 0
    print("OK")
""")


def test_cuda_generator_matches_cpu_under_simulator() -> None:
    run_simulated(["-c", SCRIPT], "the simulated CUDA generator differs from the CPU one",
                  "python -c SCRIPT (tests/test_generator_cudasim.py)")


def test_other_device_is_refused() -> None:
    from kiln.compilers.programs.generator import generate_batch

    with pytest.raises(ValueError, match="CPU or a CUDA device"):
        generate_batch(4, 0, device="meta")
