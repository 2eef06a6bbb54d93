"""``kiln bench``: the benchmarks, one module per subject.

- ``throughput``: the sections ``kiln bench`` runs (VM, batched compiler, CPython pipeline,
  suite costs per -O level, envs), the ratios between them and the report (tables, JSON);
- ``envs``: steps/s of the vector env against the single env under the usual vector wrappers;
- ``cycle``: ``kiln bench cycle``, the iteration cycle of AI code generation (candidates ->
  compile -> test -> reward) on the CPU as people run it and on kiln's device path;
- ``ppo``: training steps/s of native PPO beside SB3's ``MaskablePPO`` on the same model and env
  (``python -m kiln.bench.ppo OUT_DIR``).
"""
from .throughput import SECTIONS, BenchConfig, run_bench

__all__ = ["SECTIONS", "BenchConfig", "run_bench"]
