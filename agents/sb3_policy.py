"""The neural compiler as a Stable-Baselines3 policy, for sb3-contrib's ``MaskablePPO``.

SB3 builds a policy from a features extractor, an MLP extractor and two heads (``action_net``,
``value_net``). ``KilnFeatures`` runs the whole ``Seq2Seq`` on an observation of the compile
env (encoder over ``source``/``lits``, decoder teacher-forced over ``target`` up to
``length``) and returns, per observation, the model's logits for the next token and its value:
the decoder's state for the next token (``Seq2Seq.hidden``). ``KilnPolicy`` sets the MLP
extractor to nothing and SB3's two heads to the model's own (``model.logits``, ``model.value``),
so the policy *is* the model, weights loaded from a kiln checkpoint, trained by SB3's
optimiser. Masks are applied by sb3-contrib.

::

    from sb3_contrib import MaskablePPO
    from kiln.agents.sb3_policy import KilnPolicy
    agent = MaskablePPO(KilnPolicy, venv, policy_kwargs={"model": model})

SB3 recomputes every observation from scratch (the decoder runs over the whole prefix at every
step): that is SB3's contract, and why the native loop, with its per-lane KV cache, is faster.
"""
from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from .model import BOS, Seq2Seq


class KilnFeatures(BaseFeaturesExtractor):
    """The decoder's state ``[B, d_model]`` at each observation's next position."""

    def __init__(self, observation_space: spaces.Dict, model: Seq2Seq):
        super().__init__(observation_space, model.config.d_model)
        self.model = model

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        # SB3 hands Box observations over as float32: token ids and lengths are exact in it,
        # and literal values only matter up to the model's buckets (small integers).
        source = obs["source"].long()
        width = max(1, int((source != 0).sum(1).max()))
        length = obs["length"][:, 0].long()
        target = obs["target"].long()
        steps = int(length.max()) + 1
        target_in = torch.cat([torch.full_like(target[:, :1], BOS), target[:, :steps - 1]], 1)
        memory = self.model.encode(source[:, :width], obs["lits"].long())
        hidden = self.model.hidden(memory, target_in)
        return hidden[torch.arange(len(length), device=length.device), length]


class KilnPolicy(MaskableActorCriticPolicy):
    """``MaskableActorCriticPolicy`` whose actor and critic are a kiln ``Seq2Seq``.

    Takes SB3's arguments plus ``model``; the feature extractor, the (empty) MLP and the heads
    are fixed, and orthogonal initialisation is off (the weights are the checkpoint's).
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 lr_schedule: Any, model: Seq2Seq, **kwargs: Any):
        kwargs.update(features_extractor_class=KilnFeatures,
                      features_extractor_kwargs={"model": model}, net_arch=[], ortho_init=False)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self, lr_schedule: Any) -> None:
        self._build_mlp_extractor()
        model = self.features_extractor.model
        self.action_net, self.value_net = model.logits, model.value
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1),
                                              **self.optimizer_kwargs)
