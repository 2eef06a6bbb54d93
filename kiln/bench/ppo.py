"""Training throughput: env steps per second of native PPO beside SB3's ``MaskablePPO``.

Both train the same model on the same env (``CompileVectorEnv``) with a training preset's PPO
knobs (``--preset``: minibatches, epochs, encoder trained or not), whole loop included
(rollout and update): the native trainer at ``--lanes`` lanes with its per-lane KV cache and
every tensor on the device, in each of ``--precision``'s arithmetics, SB3 through ``SB3VecEnv`` and ``KilnPolicy`` at ``--sb3-lanes``
lanes (SB3 recomputes each observation from scratch and copies it to numpy). Each row is the
median of ``--repeats`` timed updates after one warm-up update (which compiles numba kernels
and ``torch.compile``'s fused env step); on CUDA the clock reads after a synchronisation.

``python -m kiln.bench.ppo OUT_DIR`` writes ``ppo_bench.json`` after each row.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from ..agents.config import ModelConfig
from ..agents.model import Seq2Seq
from ..training import distributed
from ..training.config import PRECISIONS, PRESETS, TrainConfig, preset
from ..training.ppo import PPO
from ..training.run import load_model
from ..training.sb3_ppo import SB3Trainer
from .throughput import metadata


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(update, device: torch.device, repeats: int) -> float:
    """Median seconds of ``update()`` over ``repeats`` runs after one warm-up."""
    update()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        update()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_native(config: TrainConfig, model: Seq2Seq, device: torch.device, repeats: int
                 ) -> dict[str, Any]:
    """Steps/s of the native loop (rollout + update) and of its rollout alone."""
    trainer = PPO(config, model, device, distributed.Dist())
    whole = _timed(trainer.train_update, device, repeats)
    rollout = _timed(trainer.rollout, device, repeats)
    return {"impl": "native", "lanes": config.num_envs, "precision": config.precision,
            "bf16": trainer.bf16, "steps_per_update": config.batch_size,
            "steps_per_s": config.batch_size / whole,
            "rollout_steps_per_s": config.batch_size / rollout, "s_per_update": whole}


def bench_sb3(config: TrainConfig, model: Seq2Seq, device: torch.device, repeats: int
              ) -> dict[str, Any]:
    """Steps/s of ``MaskablePPO.learn`` over the same model and env."""
    trainer = SB3Trainer(config, model, device)
    whole = _timed(trainer.train_update, device, repeats)
    return {"impl": "sb3-maskable-ppo", "lanes": config.num_envs,
            "steps_per_update": config.batch_size, "steps_per_s": config.batch_size / whole,
            "s_per_update": whole}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--checkpoint", default="none",
                        help="model to train ('none': a fresh one of --model's size)")
    parser.add_argument("--model", default="small")
    parser.add_argument("--preset", default="gpu", choices=sorted(PRESETS),
                        help="training preset whose PPO knobs both trainers use")
    parser.add_argument("--lanes", type=int, nargs="+", default=[4096, 16384])
    parser.add_argument("--precision", nargs="+", default=["auto"], choices=PRECISIONS,
                        help="native rows in each of these arithmetics")
    parser.add_argument("--steps", type=int, default=32, help="steps per lane per update")
    parser.add_argument("--sb3-lanes", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-fuse", action="store_true",
                        help="step the env without torch.compile (no minute of compilation)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)

    def fresh_model() -> Seq2Seq:
        if args.checkpoint == "none":
            torch.manual_seed(0)
            return Seq2Seq(ModelConfig.preset(args.model))
        return load_model(args.checkpoint)

    base = preset(args.preset).replace(
        device=args.device, num_steps=args.steps, pool_size=4096, refresh_every=0,
        total_timesteps=10**12, time_limit_s=0.0, fuse_env=not args.no_fuse)
    knobs = ("num_minibatches", "update_epochs", "train_encoder")
    report: dict[str, Any] = {"meta": metadata(args.device), "model": args.model,
                              "preset": args.preset,
                              **{k: getattr(base, k) for k in knobs},
                              "fuse_env": not args.no_fuse,
                              "checkpoint": args.checkpoint, "rows": []}
    args.out.mkdir(parents=True, exist_ok=True)

    def record(row: dict[str, Any]) -> None:
        report["rows"].append(row)
        print(json.dumps(row), flush=True)
        (args.out / "ppo_bench.json").write_text(json.dumps(report, indent=1))

    record(bench_sb3(base.replace(algo="sb3", num_envs=args.sb3_lanes), fresh_model(), device,
                     args.repeats))
    for lanes in args.lanes:
        for precision in args.precision:
            record(bench_native(base.replace(num_envs=lanes, precision=precision),
                                fresh_model(), device, args.repeats))
    sb3 = report["rows"][0]["steps_per_s"]
    report["native_over_sb3"] = max(r["steps_per_s"] for r in report["rows"][1:]) / sb3
    (args.out / "ppo_bench.json").write_text(json.dumps(report, indent=1))
    print(f"native / SB3 steps/s: {report['native_over_sb3']:.1f}x")


if __name__ == "__main__":
    main()
