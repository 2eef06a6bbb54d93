"""SB3: the env passes SB3's checker, the adapter keeps the VecEnv contract, MaskablePPO trains."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.vec_env import VecMonitor

import kiln.envs  # noqa: F401  (registers kiln/Compile-v0)
from kiln.compilers import vocab
from kiln.envs.compile_env import EnvParams
from kiln.envs.reward import Outcome
from kiln.envs.sb3 import SB3VecEnv
from kiln.envs.vector_env import CompileVectorEnv

SMALL = EnvParams(max_len=16, num_tests=8)


@pytest.mark.parametrize("source", ["generator", "suite"])
def test_sb3_env_checker_passes_without_warnings(source: str) -> None:
    # pytest turns warnings into errors: any SB3 advice about the spaces fails the test.
    check_env(gym.make("kiln/Compile-v0", source=source), warn=True)


def test_adapter_keeps_the_vecenv_contract() -> None:
    vector = CompileVectorEnv(6, SMALL, source="suite", pool_size=64, max_episode_steps=4)
    env = SB3VecEnv(vector)
    env.seed(9)
    obs = env.reset()
    assert set(obs) == set(env.observation_space.spaces)
    assert all(isinstance(v, np.ndarray) and v.shape[0] == 6 for v in obs.values())
    assert vector.state.key_lo.tolist() == list(range(9, 15)), "seed(s) gives lane i key s + i"
    assert is_masking_supported(env)
    rng = np.random.default_rng(0)
    saw_truncation = saw_termination = False
    for _ in range(12):
        masks = get_action_masks(env)
        assert masks.shape == (6, vocab.TARGET_VOCAB_SIZE) and masks.dtype == bool
        assert np.array_equal(masks, vector.action_masks().numpy())
        actions = np.argmax(rng.random(masks.shape) * masks, axis=1)
        actions[0] = vocab.EOS if masks[0, vocab.EOS] else actions[0]
        obs, rewards, dones, infos = env.step(actions)
        assert rewards.shape == dones.shape == (6,) and dones.dtype == bool
        for i, info in enumerate(infos):
            assert type(info["outcome"]) is Outcome, "a code, as the single env reports"
            assert ("terminal_observation" in info) == dones[i]
            if dones[i]:
                final = info["terminal_observation"]
                assert final in vector.single_observation_space
                assert obs["length"][i, 0] == 0, "the next episode has already begun"
                saw_truncation |= info["TimeLimit.truncated"]
                saw_termination |= not info["TimeLimit.truncated"]
    assert saw_truncation and saw_termination
    assert env.get_attr("render_mode") == [None] * 6
    assert len(env.env_method("action_masks", indices=[1, 3])) == 2
    assert env.env_is_wrapped(gym.Wrapper) == [False] * 6
    env.set_options({"source": "generator"})
    env.reset()
    assert vector.source == "generator"
    env.close()


def test_maskable_ppo_trains_through_the_adapter() -> None:
    env = VecMonitor(SB3VecEnv(CompileVectorEnv(8, SMALL, source="suite")))
    model = MaskablePPO("MultiInputPolicy", env, n_steps=32, batch_size=64, n_epochs=1,
                        seed=0, device="cpu")
    model.learn(total_timesteps=512)
    assert model.num_timesteps >= 512
    assert len(model.ep_info_buffer) > 0
    obs = env.reset()
    actions, _ = model.predict(obs, action_masks=get_action_masks(env))
    assert get_action_masks(env)[np.arange(8), actions].all()
    assert torch.isfinite(next(model.policy.parameters())).all()
