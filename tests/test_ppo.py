"""The native PPO loop's own parts against slow references: segments of a rollout, and the
teacher-forced scores of an update against the incremental decoder that sampled."""
from __future__ import annotations

import pytest
import torch

from kiln.agents.config import ModelConfig
from kiln.agents.model import BOS, Seq2Seq
from kiln.compilers.vocab import TARGET_VOCAB_SIZE
from kiln.training import distributed
from kiln.training.config import preset
from kiln.agents.sampling import choose
from kiln.training.ppo import PPO, Storage, build_segments, encode_table, gumbel_noise, score


def random_rollout(seed: int, steps: int, lanes: int, length: int):
    """Storage whose positions and dones follow episodes of random lengths, the prefix each
    lane had emitted before, and each lane's episodes as plain lists (the reference)."""
    g = torch.Generator().manual_seed(seed)
    s = Storage.allocate(steps, lanes, torch.device("cpu"))
    prefix = torch.zeros((lanes, length), dtype=torch.int32)
    episodes: list[list[list[int]]] = []
    for e in range(lanes):
        before = int(torch.randint(0, length - 1, (1,), generator=g))
        if seed % 3 == 0 or e % 2:
            before = 0
        tokens = torch.randint(1, TARGET_VOCAB_SIZE, (before,), generator=g).tolist()
        prefix[e, :before] = torch.tensor(tokens, dtype=torch.int32)
        current = list(tokens)
        lane = [current]
        for t in range(steps):
            s.dones[t, e] = t > 0 and bool(torch.rand((), generator=g) < 0.2) \
                or len(current) == length or (t == 0 and before == 0)
            if s.dones[t, e] and t > 0:
                current = []
                lane.append(current)
            s.positions[t, e] = len(current)
            s.actions[t, e] = int(torch.randint(1, TARGET_VOCAB_SIZE, (), generator=g))
            s.rows[t, e] = e * 100 + len(lane)
            current.append(int(s.actions[t, e]))
        episodes.append(lane)
    return s, prefix, episodes


@pytest.mark.parametrize("seed", range(12))
def test_segments_hold_each_episode_as_a_teacher_forcing_row(seed: int) -> None:
    steps, lanes, length = 3 + seed % 7, 1 + seed % 5, 12
    s, prefix, episodes = random_rollout(seed, steps, lanes, length)
    seg = build_segments(s, prefix)
    assert len(seg.rows) == sum(len(lane) for lane in episodes), f"seed {seed}"
    for e, lane in enumerate(episodes):
        number = 0
        for t in range(steps):
            if t > 0 and s.dones[t, e]:
                number += 1
            row = int(seg.of[t, e])
            tokens = lane[number]
            position = int(s.positions[t, e])
            assert int(seg.target_in[row, 0]) == BOS
            assert seg.target_in[row, 1:len(tokens) + 1][:seg.target_in.shape[1] - 1].tolist() \
                == tokens[:seg.target_in.shape[1] - 1], f"seed {seed}, lane {e}, step {t}"
            assert int(seg.rows[row]) == int(s.rows[t, e])
            # The decoder's input at `position` is the token before the action taken there.
            assert int(seg.target_in[row, position]) == (BOS if position == 0
                                                        else tokens[position - 1])


@pytest.mark.parametrize("seed", [0, 1])
def test_update_scores_equal_the_incremental_decoder_that_sampled(seed: int) -> None:
    # The first rollout starts every lane afresh with the update's weights: the teacher-forced
    # pass over its segments must give back the rollout's log-probabilities and values.
    config = preset("smoke").replace(seed=seed, num_envs=6, num_steps=40, pool_size=32)
    torch.manual_seed(seed)
    model = Seq2Seq(ModelConfig.preset("tiny"))
    trainer = PPO(config, model, torch.device("cpu"), distributed.Dist())
    segments = trainer.rollout()
    s = trainer.storage
    assert bool(s.dones[1:].any()), "the rollout should cross episode ends"
    got = score(trainer.model, trainer.memory, segments.rows, segments.target_in,
                segments.of.reshape(-1), s.positions.reshape(-1), s.actions.reshape(-1),
                s.masks.reshape(-1, TARGET_VOCAB_SIZE))
    torch.testing.assert_close(got.logprob, s.logprobs.reshape(-1), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got.value, s.values.reshape(-1), atol=1e-4, rtol=1e-4)
    assert bool(torch.isfinite(got.entropy).all()) and bool((got.entropy >= 0).all())


@pytest.mark.parametrize("train_encoder", [True, False])
def test_an_update_changes_the_policy_and_keeps_the_reference(train_encoder: bool) -> None:
    config = preset("smoke").replace(num_envs=4, num_steps=16, pool_size=16, total_timesteps=128,
                                     train_encoder=train_encoder)
    torch.manual_seed(0)
    trainer = PPO(config, Seq2Seq(ModelConfig.preset("tiny")), torch.device("cpu"),
                  distributed.Dist())
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train_update()
    logged = trainer.read_stats()
    assert trainer.global_step == 64 and trainer.update == 1
    changed = [k for k, v in trainer.model.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("decoder.") for k in changed), "one update must move the decoder"
    encoder = [k for k in changed if k.startswith(("encoder.", "source_", "literal_"))]
    assert bool(encoder) == train_encoder, f"encoder weights changed: {encoder}"
    for k, v in trainer.reference.state_dict().items():
        assert torch.equal(v, before[k]), f"the reference moved: {k}"
    assert abs(logged["losses/kl_to_reference"]) < 1e-4, "sampled by the reference itself"
    assert logged["charts/learning_rate"] == config.learning_rate


@pytest.mark.parametrize("train_encoder", [True, False])
def test_bf16_update_recomputes_behaviour_logprobs_so_its_first_ratio_is_one(
        train_encoder: bool) -> None:
    # One minibatch, one epoch: the loss is taken before any optimiser step, so the ratio of the
    # update's pass to the recomputed behaviour log-probabilities must be exactly 1.
    config = preset("smoke").replace(num_envs=6, num_steps=24, pool_size=16, num_minibatches=1,
                                     update_epochs=1, precision="bf16", anneal_lr=False,
                                     train_encoder=train_encoder)
    torch.manual_seed(1)
    trainer = PPO(config, Seq2Seq(ModelConfig.preset("tiny")), torch.device("cpu"),
                  distributed.Dist())
    segments = trainer.rollout()
    s = trainer.storage
    assert trainer.memory.keys[0].dtype == trainer.cache.keys[0].dtype == torch.bfloat16
    with torch.no_grad(), trainer.autocast():  # the incremental decoder rounds differently
        got = score(trainer.model, trainer.memory, segments.rows, segments.target_in,
                    segments.of.reshape(-1), s.positions.reshape(-1), s.actions.reshape(-1),
                    s.masks.reshape(-1, TARGET_VOCAB_SIZE))
    torch.testing.assert_close(got.logprob, s.logprobs.reshape(-1), atol=0.1, rtol=0.05)
    trainer._restart = True  # the update rolls out afresh from the same weights
    trainer.train_update()
    logged = trainer.read_stats()
    assert logged["losses/old_approx_kl"] == 0.0 and logged["losses/clipfrac"] == 0.0
    if not train_encoder:  # policy and reference read the same table encoding: same numbers
        assert logged["losses/kl_to_reference"] == 0.0
    assert abs(logged["losses/kl_to_reference"]) < 1e-3
    assert bool(torch.isfinite(s.logprobs).all()) and bool((s.logprobs <= 0).all())


@pytest.mark.parametrize("seed", [0, 1])
def test_rollout_draws_follow_the_policy(seed: int) -> None:
    # The rollout's tokens are choose()'s Gumbel-max draws with gumbel_noise: their frequencies
    # must be the masked softmax at the temperature (PPO's ratio divides by those probabilities).
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(TARGET_VOCAB_SIZE, generator=g) * 2
    mask = torch.rand(TARGET_VOCAB_SIZE, generator=g) < 0.05
    mask[:3] = True
    draws = 40_000
    for temperature in (1.0, 0.7):
        token, logp = choose(logits.repeat(draws, 1), mask.repeat(draws, 1), temperature, 1.0,
                             gumbel_noise((draws, TARGET_VOCAB_SIZE), g))
        want = (logits / temperature).masked_fill(~mask, float("-inf")).softmax(-1)
        got = torch.bincount(token, minlength=TARGET_VOCAB_SIZE) / draws
        assert float((got - want).abs().max()) < 0.015, f"seed {seed} t {temperature}"
        assert bool(mask[token].all())


def test_precision_is_one_of_the_named_ones() -> None:
    with pytest.raises(ValueError, match="precision must be one of auto, bf16, fp32, got 'fp16'"):
        preset("smoke").replace(precision="fp16")
    assert not PPO(preset("smoke").replace(num_envs=2, num_steps=4, pool_size=4),
                   Seq2Seq(ModelConfig.preset("tiny")), torch.device("cpu"),
                   distributed.Dist()).bf16, "auto is fp32 on a CPU"


def test_without_train_encoder_the_memory_kept_across_updates_is_exact() -> None:
    # rollout() re-encodes the table only when the update can change the memory: without
    # train_encoder the kept memory must equal a fresh encoding after updates.
    config = preset("smoke").replace(num_envs=4, num_steps=16, pool_size=16,
                                     total_timesteps=256, train_encoder=False, refresh_every=0)
    torch.manual_seed(1)
    trainer = PPO(config, Seq2Seq(ModelConfig.preset("tiny")), torch.device("cpu"),
                  distributed.Dist())
    for _ in range(3):
        trainer.train_update()
    trainer.rollout()
    fresh = encode_table(trainer.model, trainer.env)
    for kept, new in zip(trainer.memory.keys + trainer.memory.values, fresh.keys + fresh.values):
        assert torch.equal(kept, new)
    assert torch.equal(trainer.memory.attend, fresh.attend)
