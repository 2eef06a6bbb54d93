"""``kiln bench``: the benchmarks, one module per subject.

- ``throughput``: the sections ``kiln bench`` runs (VM, batched compiler, CPython pipeline,
  suite costs per -O level, envs), the ratios between them and the report (tables, JSON);
- ``envs``: steps/s of the vector env against the single env under the usual vector wrappers.
"""
from .throughput import SECTIONS, BenchConfig, run_bench

__all__ = ["SECTIONS", "BenchConfig", "run_bench"]
