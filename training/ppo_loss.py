"""PPO's arithmetic on tensors: advantages (GAE), the clipped loss and its statistics.

Shared by the native loop and its tests; names follow CleanRL's ``ppo.py`` (``lastgaelam``,
``nextnonterminal``, ``clipfracs``). Storage is CleanRL's layout: ``[num_steps, num_envs]``,
with ``dones[t]`` true when observation ``t`` is the first of a new episode (the step before it
ended one). Nothing here reads a tensor on the host.
"""
from __future__ import annotations

from typing import NamedTuple

import torch


def gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor,
        next_value: torch.Tensor, next_done: torch.Tensor, gamma: float, gae_lambda: float
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns, both ``[num_steps, num_envs]``.

    ``next_value``/``next_done`` are the value and done flag of the observation after the last
    step (the rollout's bootstrap).
    """
    num_steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    lastgaelam = torch.zeros_like(rewards[0])
    for t in reversed(range(num_steps)):
        if t == num_steps - 1:
            nextnonterminal = 1.0 - next_done.to(rewards.dtype)
            nextvalues = next_value
        else:
            nextnonterminal = 1.0 - dones[t + 1].to(rewards.dtype)
            nextvalues = values[t + 1]
        delta = rewards[t] + gamma * nextvalues * nextnonterminal - values[t]
        lastgaelam = delta + gamma * gae_lambda * nextnonterminal * lastgaelam
        advantages[t] = lastgaelam
    return advantages, advantages + values


class LossParts(NamedTuple):
    """One minibatch's loss and what CleanRL logs about it (0-d tensors)."""

    loss: torch.Tensor
    policy_loss: torch.Tensor
    value_loss: torch.Tensor
    entropy: torch.Tensor
    old_approx_kl: torch.Tensor
    approx_kl: torch.Tensor
    clipfrac: torch.Tensor


def ppo_loss(newlogprob: torch.Tensor, oldlogprob: torch.Tensor, entropy: torch.Tensor,
             newvalue: torch.Tensor, oldvalue: torch.Tensor, advantages: torch.Tensor,
             returns: torch.Tensor, *, clip_coef: float, clip_vloss: bool, norm_adv: bool,
             ent_coef: float, vf_coef: float) -> LossParts:
    """PPO's clipped surrogate objective plus value loss minus entropy bonus, over a minibatch
    of transitions (all arguments ``[M]``)."""
    logratio = newlogprob - oldlogprob
    ratio = logratio.exp()
    with torch.no_grad():
        old_approx_kl = (-logratio).mean()
        approx_kl = ((ratio - 1) - logratio).mean()
        clipfrac = ((ratio - 1.0).abs() > clip_coef).to(ratio.dtype).mean()
    if norm_adv:
        advantages = (advantages - advantages.mean()) / (advantages.std(unbiased=False) + 1e-8)
    pg_loss1 = -advantages * ratio
    pg_loss2 = -advantages * ratio.clamp(1 - clip_coef, 1 + clip_coef)
    policy_loss = torch.max(pg_loss1, pg_loss2).mean()
    if clip_vloss:
        v_loss_unclipped = (newvalue - returns) ** 2
        v_clipped = oldvalue + (newvalue - oldvalue).clamp(-clip_coef, clip_coef)
        v_loss_clipped = (v_clipped - returns) ** 2
        value_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
    else:
        value_loss = 0.5 * ((newvalue - returns) ** 2).mean()
    entropy_mean = entropy.mean()
    loss = policy_loss - ent_coef * entropy_mean + vf_coef * value_loss
    return LossParts(loss, policy_loss.detach(), value_loss.detach(), entropy_mean.detach(),
                     old_approx_kl, approx_kl, clipfrac)


def explained_variance(values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """1 - Var(returns - values) / Var(returns) (NaN when the returns do not vary)."""
    var_returns = returns.var(unbiased=False)
    return 1 - (returns - values).var(unbiased=False) / var_returns


def kl_shaped_rewards(rewards: torch.Tensor, logprob: torch.Tensor, ref_logprob: torch.Tensor,
                      kl_coef: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Rewards minus ``kl_coef`` times each token's log-ratio to the reference policy (the
    sampled estimate of KL(policy || reference), as RLHF trainers penalise it), and that
    log-ratio."""
    kl = logprob - ref_logprob
    return rewards - kl_coef * kl, kl
