"""Env throughput: steps per second of the vector env against the usual ways of batching envs.

``bench_env`` measures, in one run and under one random *masked* policy (uniform over the
tokens the mask allows):

- ``CompileVectorEnv`` on ``device`` at each of ``sizes`` lanes, its policy sampled on the
  device (uniform noise times the mask, argmax: no host round trip);
- the single env under ``gymnasium.vector.SyncVectorEnv`` and SB3's ``DummyVecEnv`` and
  ``SubprocVecEnv`` at ``baseline_sizes`` (small: they step every env in Python), the policy
  sampled on the host from the masks they report.

Each row is the median of ``repeats`` timed runs of ``steps`` steps after a warm-up (which
also compiles numba kernels); on CUDA the clock reads after ``torch.cuda.synchronize()``.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch

from ..envs.compile_env import CompileEnv, EnvParams
from ..envs.vector_env import CompileVectorEnv

BASELINES = ("gymnasium-sync", "sb3-dummy", "sb3-subproc")


def _time(run: Callable[[], None], steps: int, repeats: int, sync: Callable[[], None]
          ) -> float:
    """Median seconds per step of ``run`` (which takes ``steps`` steps) over ``repeats``."""
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        run()
        sync()
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def _row(impl: str, device: str, envs: int, steps: int, seconds_per_step: float
         ) -> dict[str, Any]:
    return {"impl": impl, "device": device, "envs": envs, "steps": steps,
            "steps_per_s": envs / seconds_per_step, "ms_per_step": 1e3 * seconds_per_step}


def _bench_vector(envs: int, device: torch.device, steps: int, repeats: int, warmup: int,
                  env_kwargs: dict[str, Any], fuse: bool) -> dict[str, Any]:
    env = CompileVectorEnv(envs, device=device, fuse=fuse, **env_kwargs)
    env.reset(seed=0)
    noise = torch.Generator(device=device).manual_seed(0)

    def run(n: int = steps) -> None:
        for _ in range(n):
            scores = torch.rand(env.action_masks().shape, generator=noise, device=device)
            env.step((scores * env.action_masks()).argmax(1))

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    run(warmup)
    seconds = _time(run, steps, repeats, sync)
    env.close()
    return _row("kiln-vector-fused" if fuse else "kiln-vector", str(device), envs, steps,
                seconds)


def _masked_uniform(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.argmax(rng.random(masks.shape) * masks, axis=1)


def _bench_baseline(kind: str, envs: int, steps: int, repeats: int, warmup: int,
                    env_kwargs: dict[str, Any]) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    make = partial(CompileEnv, **env_kwargs)
    if kind == "gymnasium-sync":
        import gymnasium as gym

        vec = gym.vector.SyncVectorEnv([make for _ in range(envs)])
        _, info = vec.reset(seed=0)
        masks = [info["action_mask"]]

        def run(n: int = steps) -> None:
            for _ in range(n):
                _, _, _, _, step_info = vec.step(_masked_uniform(masks[0], rng))
                masks[0] = step_info["action_mask"]
    else:
        from sb3_contrib.common.maskable.utils import get_action_masks
        from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

        vec = (DummyVecEnv if kind == "sb3-dummy" else SubprocVecEnv)(
            [make for _ in range(envs)])
        vec.seed(0)
        vec.reset()

        def run(n: int = steps) -> None:
            for _ in range(n):
                vec.step(_masked_uniform(get_action_masks(vec), rng))

    run(warmup)
    seconds = _time(run, steps, repeats, lambda: None)
    vec.close()
    return _row(kind, "cpu", envs, steps, seconds)


def bench_env(sizes: Sequence[int] = (1, 16, 256, 4096, 65536), device: str | torch.device
              = "cuda", steps: int = 64, *, baseline_sizes: Sequence[int] = (1, 8),
              baselines: Sequence[str] = BASELINES, repeats: int = 3, warmup: int = 8,
              params: EnvParams | None = None, source: str = "generator",
              fuse: bool | None = None) -> list[dict[str, Any]]:
    """Steps per second of the vector env at ``sizes`` lanes on ``device``, and of the single
    env under each of ``baselines`` at ``baseline_sizes`` envs, in one run.

    ``fuse`` builds the vector env with ``fuse=True`` (``torch.compile``d step arithmetic; the
    warm-up then includes its compilation); None fuses on CUDA only.
    Returns one row per measurement: ``impl``, ``device``, ``envs``, ``steps`` (per timed run),
    ``steps_per_s`` (env steps, i.e. lanes times ``step`` calls, per second) and
    ``ms_per_step`` (per ``step`` call).
    """
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from {BASELINES}")
    device = torch.device(device)
    fuse = device.type == "cuda" if fuse is None else fuse
    env_kwargs = {"params": params if params is not None else EnvParams(), "source": source}
    rows = [_bench_vector(n, device, steps, repeats, warmup, env_kwargs, fuse) for n in sizes]
    for kind in baselines:
        rows += [_bench_baseline(kind, n, steps, repeats, warmup, env_kwargs)
                 for n in baseline_sizes]
    return rows
