"""One dataclass configures a training run; its field docstrings are ``kiln train --help``.

``TrainConfig`` holds every knob of a PPO run (CleanRL's names), the env's reward weights
(``EnvParams``'s names) and the run's bookkeeping. ``PRESETS`` name three sets of overrides:
``smoke`` (tests: under a minute on a CPU), ``default`` (the README's main job: minutes on two
CPU cores) and ``gpu`` (the full run on one GPU). ``training.options`` turns the fields into
argparse flags, each with its docstring as help text, so the two never drift apart.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from ..envs.compile_env import EnvParams

ALGOS = ("native", "sb3")
PRECISIONS = ("auto", "bf16", "fp32")
# Generator streams PPO's program tables come from: 5,000,000..6,999,999 (imitation draws from
# 1,000,000 up; streams from 7,000,000 up are held out for evaluation).
PPO_STREAMS = 5_000_000


@dataclass(frozen=True)
class TrainConfig:
    """A PPO fine-tuning run of the neural compiler against the oracle."""

    algo: str = "native"
    """PPO implementation: native (kiln's own loop, tensors stay on the device) or sb3
    (sb3-contrib's MaskablePPO through the SB3 adapter)."""
    seed: int = 1
    """Seed of the model's sampling, the env lanes' keys and minibatch shuffling."""
    device: str = "auto"
    """Where to train: cpu, cuda or auto (cuda if torch sees one)."""
    checkpoint: str = "shipped"
    """Policy to start from: a checkpoint file, 'shipped' (the imitation checkpoint inside the
    package) or 'none' (a freshly initialised model of size --model)."""
    model: str = "tiny"
    """Model size when --checkpoint is none (tiny, small, base)."""
    total_timesteps: int = 100_000
    """Env steps (tokens emitted, over all lanes and processes) to train for."""
    time_limit_s: float = 360.0
    """Stop after the update that ends this many seconds of training (0: no limit); the run
    then evaluates and checkpoints as at its planned end."""
    num_envs: int = 32
    """Env lanes per process."""
    num_steps: int = 32
    """Steps per lane in each rollout (the rollout holds num_envs * num_steps transitions)."""
    learning_rate: float = 1e-5
    """Adam's learning rate at the start."""
    anneal_lr: bool = True
    """Anneal the learning rate linearly to 0 over the run."""
    gamma: float = 1.0
    """Discount factor (1: an episode's reward counts fully for every token of it)."""
    gae_lambda: float = 0.95
    """Lambda of generalised advantage estimation."""
    num_minibatches: int = 2
    """Minibatches per update epoch."""
    update_epochs: int = 2
    """Passes over each rollout."""
    norm_adv: bool = True
    """Normalise advantages within each minibatch."""
    clip_coef: float = 0.2
    """PPO's clipping coefficient (policy and, with --clip-vloss, value)."""
    clip_vloss: bool = True
    """Clip the value loss as PPO's reference implementation does."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Gradients are clipped to this global norm."""
    target_kl: float = 0.0
    """Stop an update's epochs early when approx_kl exceeds this (0: never)."""
    kl_coef: float = 0.05
    """Weight of the KL penalty to the starting policy, taken from every token's reward as RLHF
    trainers do (0: none)."""
    train_encoder: bool = False
    """Train the encoder too (false: only the decoder learns; the encoder's output, computed once
    per rollout, is reused by the update, which then costs about half as much)."""
    precision: str = "auto"
    """Arithmetic of the native trainer's policy in rollouts and updates: bf16 (autocast: matrix products in
    bfloat16, log-probabilities and the loss in float32), fp32, or auto (bf16 on CUDA, fp32 on
    a CPU)."""
    fuse_env: bool = True
    """On CUDA, fuse the env step's tensor arithmetic with torch.compile (a minute to start,
    faster per step)."""
    temperature: float = 1.0
    """Sampling temperature of the policy during rollouts."""
    source: str = "generator"
    """Programs to train on: generator (a pool drawn by the program generator) or suite."""
    pool_size: int = 256
    """Programs in the generator's pool (the env's program table)."""
    refresh_every: int = 5
    """Regenerate the program table from a fresh generator seed every N updates (0: never)."""
    # The env's fields, defaulting to EnvParams's own defaults (one place for each value).
    max_len: int = EnvParams.max_len
    """Target tokens per program (EnvParams.max_len)."""
    num_tests: int = EnvParams.num_tests
    """Test inputs per episode (EnvParams.num_tests)."""
    oracle_opt: int = EnvParams.oracle_opt
    """Optimisation level of the oracle's code (EnvParams.oracle_opt)."""
    correct_reward: float = EnvParams.correct_reward
    """Reward of a correct program as fast as the oracle (EnvParams.correct_reward)."""
    speed_weight: float = EnvParams.speed_weight
    """Reward per unit of speedup over the oracle (EnvParams.speed_weight)."""
    max_speedup: float = EnvParams.max_speedup
    """Speedups above this count as this much (EnvParams.max_speedup)."""
    partial_credit: float = EnvParams.partial_credit
    """Reward per fraction of tests passed by a wrong program (EnvParams.partial_credit)."""
    wrong_penalty: float = EnvParams.wrong_penalty
    """Reward of a wrong program (EnvParams.wrong_penalty)."""
    fuel_penalty: float = EnvParams.fuel_penalty
    """Reward of a program that runs out of fuel (EnvParams.fuel_penalty)."""
    eval_every: int = 0
    """Evaluate on the held-out sets every N updates (and at the end; 0: only at the end)."""
    eval_programs: int = 64
    """Held-out generated programs in each periodic evaluation."""
    checkpoint_every: int = 5
    """Write a checkpoint every N updates (and at the end)."""
    log_every: int = 1
    """Read the device's statistics and write TensorBoard scalars every N updates."""
    run_dir: str = ""
    """Run directory (config, TensorBoard events, checkpoints); default
    runs/<algo>-<seed>-<time>."""
    nproc: int = 1
    """Processes of data-parallel training (launches torchrun when above 1)."""

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {', '.join(ALGOS)}, got {self.algo!r}")
        for name in ("total_timesteps", "num_envs", "num_steps", "num_minibatches",
                     "update_epochs", "pool_size", "max_len", "num_tests", "eval_programs",
                     "checkpoint_every", "log_every", "nproc"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("refresh_every", "eval_every", "time_limit_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if (self.num_envs * self.num_steps) % self.num_minibatches:
            raise ValueError(f"num_envs * num_steps ({self.num_envs * self.num_steps}) must be "
                             f"divisible by num_minibatches ({self.num_minibatches})")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got "
                             f"{self.precision!r}")
        if self.source not in ("generator", "suite"):
            raise ValueError(f"source must be generator or suite, got {self.source!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        self.env_params()  # EnvParams checks its own fields

    @property
    def batch_size(self) -> int:
        """Transitions per rollout and process."""
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        """Rollout + update iterations of the run (over all processes)."""
        return max(1, self.total_timesteps // (self.batch_size * self.nproc))

    def env_params(self) -> EnvParams:
        """The env's parameters: limits and reward weights from this config."""
        env_fields = {f.name for f in fields(EnvParams)}
        return EnvParams(**{f.name: getattr(self, f.name) for f in fields(self)
                            if f.name in env_fields})

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field by name (JSON-able)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The config of ``values`` (a run directory's config.json); ValueError naming unknown
        or badly typed fields."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown config fields {unknown}")
        for name, value in values.items():
            kind = type(getattr(cls(), name))
            ok = (isinstance(value, kind) and not (kind is int and isinstance(value, bool))
                  or kind is float and isinstance(value, int) and not isinstance(value, bool))
            if not ok:
                raise ValueError(f"config field {name} must be {kind.__name__}, got {value!r}")
        return cls(**values)


# Overrides of the defaults, by preset name. The defaults are the CPU main job's knobs (two
# cores, ten minutes: a small table of programs, decoder-only updates, a time limit).
PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(checkpoint="none", model="tiny", total_timesteps=1024, time_limit_s=0.0,
                  num_envs=8, num_steps=32, max_len=32, num_tests=8, pool_size=64,
                  refresh_every=2, eval_every=2, eval_programs=16, checkpoint_every=2,
                  update_epochs=1, train_encoder=True),
    "default": dict(),
    "gpu": dict(device="cuda", total_timesteps=500_000_000, time_limit_s=900.0, num_envs=16_384,
                num_steps=32, num_minibatches=8, update_epochs=1, learning_rate=5e-6,
                target_kl=0.02, train_encoder=True, pool_size=8192, refresh_every=5,
                eval_every=20, eval_programs=4096, checkpoint_every=20, log_every=5),
}


def preset(name: str) -> TrainConfig:
    """The config of preset ``name``; ValueError listing the presets."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return TrainConfig(**PRESETS[name])
