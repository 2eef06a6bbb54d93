"""The Stable-Baselines3 path: sb3-contrib's ``MaskablePPO`` trains the same model on the same
env, through the SB3 adapter (``envs.sb3.SB3VecEnv``) and ``agents.sb3_policy.KilnPolicy``.

``SB3Trainer`` has the native trainer's interface (``train_update``, ``read_stats``, ``state``,
``load_state``), so ``kiln train --algo sb3`` gets the same run directory, TensorBoard tags,
evaluation and checkpoints. It runs ``MaskablePPO.learn`` one rollout at a time and reads SB3's
logger after each, mapping SB3's names to CleanRL's. The learning rate is annealed by the
trainer (SB3's own schedule restarts with each ``learn`` call). SB3 has no hook for a KL penalty
to a reference policy, so ``kl_coef`` (and ``train_encoder``) apply to the native path only.
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import VecMonitor

from ..agents.model import Seq2Seq
from ..agents.sb3_policy import KilnPolicy
from ..envs.sb3 import SB3VecEnv
from ..envs.vector_env import CompileVectorEnv
from .checkpoint import load_optim_state, optim_state
from .config import PPO_STREAMS, TrainConfig

# SB3's logger keys -> CleanRL's TensorBoard tags.
_TAGS = {"train/policy_gradient_loss": "losses/policy_loss", "train/value_loss":
         "losses/value_loss", "train/approx_kl": "losses/approx_kl",
         "train/clip_fraction": "losses/clipfrac",
         "train/explained_variance": "losses/explained_variance"}


class SB3Trainer:
    """``MaskablePPO`` with a ``KilnPolicy`` over ``model``, stepped one rollout at a time."""

    def __init__(self, config: TrainConfig, model: Seq2Seq, device: torch.device,
                 reference: Seq2Seq | None = None):
        self.config, self.device, self.model = config, device, model
        # The starting weights, kept so that checkpoints of both paths hold the same things.
        self.reference = copy.deepcopy(reference if reference is not None else model)
        self.update = 0
        self.env = CompileVectorEnv(config.num_envs, config.env_params(), device=device,
                                    source=config.source, pool_size=config.pool_size,
                                    pool_seed=self.pool_seed(0))
        self.venv = VecMonitor(SB3VecEnv(self.env))
        torch.manual_seed(config.seed)
        self.agent = MaskablePPO(
            KilnPolicy, self.venv, learning_rate=lambda _: self.learning_rate(),
            n_steps=config.num_steps, batch_size=config.batch_size // config.num_minibatches,
            n_epochs=config.update_epochs, gamma=config.gamma, gae_lambda=config.gae_lambda,
            clip_range=config.clip_coef, clip_range_vf=config.clip_coef if config.clip_vloss
            else None, normalize_advantage=config.norm_adv, ent_coef=config.ent_coef,
            vf_coef=config.vf_coef, max_grad_norm=config.max_grad_norm,
            target_kl=config.target_kl or None, seed=config.seed, device=device,
            policy_kwargs={"model": model}, stats_window_size=10**6, verbose=0)
        self.venv.seed(self.lane_seed())

    def pool_seed(self, refresh: int) -> int:
        """The generator stream of the ``refresh``-th program table: in PPO's band of
        streams, distinct per process (streams from 7,000,000 up are held out)."""
        stream = (self.config.seed * 8 + 0) * 10_007 + refresh
        return PPO_STREAMS + stream % 2_000_000

    def lane_seed(self) -> int:
        return (self.config.seed * 1_000_003 + self.update) * 64 * 2**20

    def learning_rate(self) -> float:
        c = self.config
        return c.learning_rate * (1.0 - self.update / c.num_updates) if c.anneal_lr \
            else c.learning_rate

    @property
    def global_step(self) -> int:
        return self.agent.num_timesteps

    def _restart_lanes(self) -> None:
        """The next ``learn`` resets every lane (SB3 resets when it has no last observation)."""
        self.venv.seed(self.lane_seed())
        self.agent._last_obs = None

    def train_update(self) -> None:
        """One rollout and update of ``MaskablePPO`` (``read_stats`` reads SB3's logger)."""
        self._lr = self.learning_rate()
        self.agent.learn(self.config.batch_size, reset_num_timesteps=False)
        self.update += 1
        c = self.config
        if c.refresh_every and self.update % c.refresh_every == 0 and c.source == "generator":
            self.env.regenerate(self.pool_seed(self.update // c.refresh_every))
            self._restart_lanes()

    def read_stats(self) -> dict[str, float]:
        """The last update's losses and the episodes since the last read, CleanRL's tags."""
        values = self.agent.logger.name_to_value
        logged = {tag: float(values[key]) for key, tag in _TAGS.items() if key in values}
        if "train/entropy_loss" in values:
            logged["losses/entropy"] = -float(values["train/entropy_loss"])
        logged["charts/learning_rate"] = self._lr
        episodes = list(self.agent.ep_info_buffer)
        self.agent.ep_info_buffer.clear()
        if episodes:
            logged["charts/episodic_return"] = float(np.mean([e["r"] for e in episodes]))
            logged["charts/episodic_length"] = float(np.mean([e["l"] for e in episodes]))
        return logged

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        tensors.update({f"reference.{k}": v for k, v in self.reference.state_dict().items()})
        optim_tensors, optim_json = optim_state(self.agent.policy.optimizer)
        tensors.update(optim_tensors)
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.numpy"] = torch.from_numpy(keys.astype(np.int64))
        return tensors, {"update": self.update, "num_timesteps": self.agent.num_timesteps,
                         "optimizer": optim_json,
                         "numpy_rng": [kind, int(pos), int(has_gauss), float(cached)]}

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Restore what ``state`` gave (the model's weights are already the checkpoint's)."""
        load_optim_state(self.agent.policy.optimizer, tensors, meta["optimizer"])
        torch.set_rng_state(tensors["rng.torch"])
        kind, pos, has_gauss, cached = meta["numpy_rng"]
        np.random.set_state((kind, tensors["rng.numpy"].numpy().astype(np.uint32), pos,
                             has_gauss, cached))
        self.update = int(meta["update"])
        self.agent.num_timesteps = int(meta["num_timesteps"])
        if self.config.refresh_every and self.config.source == "generator":
            self.env.regenerate(self.pool_seed(self.update // self.config.refresh_every))
        self._restart_lanes()
