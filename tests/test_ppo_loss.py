"""PPO's arithmetic against slow, obviously right per-element references on seeded cases."""
from __future__ import annotations

import math

import pytest
import torch

from kiln.training.ppo_loss import explained_variance, gae, kl_shaped_rewards, ppo_loss


def slow_gae(rewards, values, dones, next_value, next_done, gamma, lam):
    """A_t = sum_l (gamma lam)^l delta_{t+l}, summed per lane until the episode ends."""
    steps, lanes = len(rewards), len(rewards[0])
    adv = [[0.0] * lanes for _ in range(steps)]
    for e in range(lanes):
        for t in range(steps):
            total, weight = 0.0, 1.0
            for u in range(t, steps):
                last = u == steps - 1
                ends = next_done[e] if last else dones[u + 1][e]
                following = next_value[e] if last else values[u + 1][e]
                delta = rewards[u][e] + gamma * following * (not ends) - values[u][e]
                total += weight * delta
                if ends:
                    break
                weight *= gamma * lam
            adv[t][e] = total
    return adv


@pytest.mark.parametrize("seed", range(20))
def test_gae_matches_the_sum_of_discounted_deltas(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    steps, lanes = 1 + seed % 9, 1 + seed % 5
    rewards = torch.randn(steps, lanes, generator=g, dtype=torch.float64)
    values = torch.randn(steps, lanes, generator=g, dtype=torch.float64)
    dones = torch.rand(steps, lanes, generator=g) < 0.3
    next_value = torch.randn(lanes, generator=g, dtype=torch.float64)
    next_done = torch.rand(lanes, generator=g) < 0.3
    gamma, lam = [(1.0, 0.95), (0.99, 0.9), (0.5, 1.0), (1.0, 0.0)][seed % 4]
    adv, ret = gae(rewards, values, dones, next_value, next_done, gamma, lam)
    expected = torch.tensor(slow_gae(rewards.tolist(), values.tolist(), dones.tolist(),
                                     next_value.tolist(), next_done.tolist(), gamma, lam),
                            dtype=torch.float64)
    torch.testing.assert_close(adv, expected, msg=lambda m: f"seed {seed}: {m}")
    torch.testing.assert_close(ret, expected + values)


def slow_loss(new, old, ent, newv, oldv, adv, ret, clip, clip_vloss, norm_adv, ent_coef, vf_coef):
    n = len(new)
    if norm_adv:
        mean = sum(adv) / n
        std = math.sqrt(sum((a - mean) ** 2 for a in adv) / n)
        adv = [(a - mean) / (std + 1e-8) for a in adv]
    pg = vl = 0.0
    for i in range(n):
        ratio = math.exp(new[i] - old[i])
        clipped = min(max(ratio, 1 - clip), 1 + clip)
        pg += max(-adv[i] * ratio, -adv[i] * clipped) / n
        unclipped = (newv[i] - ret[i]) ** 2
        if clip_vloss:
            v = oldv[i] + min(max(newv[i] - oldv[i], -clip), clip)
            vl += 0.5 * max(unclipped, (v - ret[i]) ** 2) / n
        else:
            vl += 0.5 * unclipped / n
    entropy = sum(ent) / n
    return pg, vl, entropy, pg - ent_coef * entropy + vf_coef * vl


@pytest.mark.parametrize("seed", range(16))
def test_ppo_loss_matches_a_per_transition_reference(seed: int) -> None:
    g = torch.Generator().manual_seed(100 + seed)
    n = 2 + seed * 3

    def rand(scale=1.0):
        return scale * torch.randn(n, generator=g, dtype=torch.float64)

    old = rand() - 2
    new = old + rand(0.3)
    args = (new, old, rand().abs(), rand(), rand(), rand(), rand())
    clip, clip_vloss, norm_adv = 0.2, seed % 2 == 0, seed % 3 != 0
    parts = ppo_loss(*args, clip_coef=clip, clip_vloss=clip_vloss, norm_adv=norm_adv,
                     ent_coef=0.01, vf_coef=0.5)
    pg, vl, entropy, loss = slow_loss(*(a.tolist() for a in args), clip, clip_vloss, norm_adv,
                                      0.01, 0.5)
    for got, want in ((parts.policy_loss, pg), (parts.value_loss, vl),
                      (parts.entropy, entropy), (parts.loss, loss)):
        assert math.isclose(float(got), want, rel_tol=1e-9, abs_tol=1e-12), f"seed {seed}"
    ratios = [math.exp(a - b) for a, b in zip(new.tolist(), old.tolist())]
    assert math.isclose(float(parts.clipfrac), sum(abs(r - 1) > clip for r in ratios) / n)
    assert math.isclose(float(parts.approx_kl),
                        sum(r - 1 - math.log(r) for r in ratios) / n, rel_tol=1e-9)


def test_loss_gradient_is_zero_where_the_clip_binds() -> None:
    # A ratio far above 1 + clip with a positive advantage is clipped: no policy gradient.
    new = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    zero = torch.zeros(1, dtype=torch.float64)
    parts = ppo_loss(new, zero, zero, zero, zero, torch.ones(1, dtype=torch.float64), zero,
                     clip_coef=0.2, clip_vloss=False, norm_adv=False, ent_coef=0.0, vf_coef=0.0)
    parts.loss.backward()
    assert new.grad is not None and float(new.grad) == 0.0


def test_explained_variance_and_kl_shaping() -> None:
    returns = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert float(explained_variance(returns, returns)) == 1.0
    assert float(explained_variance(torch.zeros(4), returns)) == 0.0
    shaped, kl = kl_shaped_rewards(torch.tensor([0.0, 1.0]), torch.tensor([-1.0, -2.0]),
                                   torch.tensor([-1.5, -1.0]), 0.1)
    torch.testing.assert_close(kl, torch.tensor([0.5, -1.0]))
    torch.testing.assert_close(shaped, torch.tensor([-0.05, 1.1]))
