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
