"""kiln's numba threading layer: never OpenMP by default (a busy core stalls its spinning
threads, and a process that used GNU OpenMP cannot safely fork), the user's choice kept."""
import os
import subprocess
import sys

SCRIPT = """
import os, kiln, numba
prog = kiln.compile('def f(a):\\n    return a * 3\\n')
assert prog.run([[2]]).tolist() == [6]
print(numba.threading_layer())
if os.environ.get("NUMBA_THREADING_LAYER"):
    raise SystemExit(0)
pid = os.fork()
if pid == 0:
    os._exit(0 if prog.run([[5]]).tolist() == [15] else 1)
print('child', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def _run(env_changes):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_THREADING_LAYER")}
    env.update(env_changes)
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300, env=env)


def test_default_layer_is_fork_safe():
    proc = _run({})
    assert proc.returncode == 0, proc.stderr
    layer, child = proc.stdout.split("\n")[:2]
    assert layer in ("tbb", "workqueue") and child == "child 0", proc.stdout


def test_users_choice_is_kept():
    proc = _run({"NUMBA_THREADING_LAYER": "omp"})
    assert proc.returncode == 0 and proc.stdout.startswith("omp"), proc.stderr
