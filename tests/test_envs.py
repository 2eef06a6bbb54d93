"""The single compile env: API checks, masks, bad actions, rewards, seeding and options."""
from __future__ import annotations

import doctest

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import kiln.envs  # noqa: F401  (registers kiln/Compile-v0)
from kiln.compilers import vocab
from kiln.compilers.programs.suite import load_suite
from kiln.compilers.validate import validate
from kiln.compilers.vocab import encode
from kiln.envs import compile_env, programs
from kiln.envs.compile_env import CompileEnv, EnvParams, token_id
from kiln.envs.reward import OUTCOMES, Outcome

SMALL = EnvParams(max_len=32, num_tests=12)
TOKEN = vocab.TOKEN_ID


def masked_random(env: CompileEnv, rng: np.random.Generator) -> int:
    return int(rng.choice(np.flatnonzero(env.action_masks())))


def test_registration() -> None:
    spec = gym.spec("kiln/Compile-v0")
    assert spec.max_episode_steps == EnvParams().max_len
    assert spec.reward_threshold == EnvParams().correct_reward
    assert spec.vector_entry_point == "kiln.envs.vector_env:CompileVectorEnv"
    assert isinstance(spec.entry_point, str)


@pytest.mark.parametrize("source", ["generator", "suite"])
def test_gymnasium_env_checker(source: str) -> None:
    # pytest turns every warning into an error, so this also asserts "no warnings".
    check_env(gym.make("kiln/Compile-v0", source=source).unwrapped)
    env = gym.make("kiln/Compile-v0", source=source, params=SMALL, render_mode="ansi")
    check_env(env.unwrapped, skip_render_check=False)


def test_manual_example_runs() -> None:
    result = doctest.testmod(compile_env, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_spaces_and_observation() -> None:
    env = CompileEnv(SMALL, source="suite")
    obs, info = env.reset(seed=3)
    assert env.action_space == gym.spaces.Discrete(vocab.TARGET_VOCAB_SIZE)
    assert all(space.dtype == np.int32 for space in env.observation_space.values())
    assert obs in env.observation_space
    task = env.state.task
    assert np.array_equal(obs["source"][:len(task.tokens)], task.tokens)
    assert np.array_equal(obs["lits"][:len(task.lits)], task.lits)
    assert obs["nlits"][0] == len(task.lits) and obs["nparams"][0] == task.nparams
    assert obs["length"][0] == 0 and obs["top_kind"][0] == -1
    assert info["outcome"] == Outcome.RUNNING and info["program"] == task.name
    obs, *_ = env.step(TOKEN["block"])
    obs, *_ = env.step(TOKEN["const 3"])
    assert obs["target"][:2].tolist() == [TOKEN["block"], TOKEN["const 3"]]
    assert (obs["length"][0], obs["height"][0], obs["nest"][0], obs["top_kind"][0]) == (2, 1, 1, 0)


@pytest.mark.parametrize("source", ["generator", "suite"])
def test_masked_episodes_end_in_valid_programs(source: str) -> None:
    env = CompileEnv(SMALL, source=source)
    rng = np.random.default_rng(0)
    outcomes = set()
    for episode in range(12):
        env.reset(seed=episode)
        terminated = False
        while not terminated:
            mask = env.action_masks()
            assert mask.any(), "a running episode always has an allowed token"
            _, _, terminated, truncated, info = env.step(masked_random(env, rng))
            assert not truncated
        tokens = env.state.tokens
        assert tokens[-1] == vocab.EOS and len(tokens) <= SMALL.max_len
        validate(vocab.decode(tokens, env.state.task.lits))
        assert not env.action_masks().any()
        outcomes.add(OUTCOMES[info["outcome"]])
    assert outcomes <= {"correct", "wrong", "out_of_fuel"}


def test_invalid_actions_terminate_with_the_penalty() -> None:
    params = SMALL.replace(invalid_action_penalty=-3.0)
    env = CompileEnv(params, source="suite")
    for bad in (-1, vocab.TARGET_VOCAB_SIZE, 10**30, np.int8(-3), np.uint64(2**63), TOKEN["end"],
                TOKEN["add"], np.array([TOKEN["else"]])):
        obs, _ = env.reset(seed=1)
        after, reward, terminated, truncated, info = env.step(bad)
        assert (reward, terminated, truncated) == (-3.0, True, False)
        assert info["outcome"] == Outcome.INVALID_ACTION and info["pass_fraction"] == 0.0
        for key in obs:
            assert np.array_equal(obs[key], after[key]), "the program is left as it was"
        with pytest.raises(RuntimeError, match="reset"):
            env.step(0)


def test_non_integer_actions_raise_and_leave_the_episode_running() -> None:
    env = CompileEnv(SMALL, source="suite")
    env.reset(seed=2)
    for bad in (1.5, np.float32(2.0), "get 0", None, True, np.bool_(False), [1.0],
                torch.tensor(2.0)):
        with pytest.raises(TypeError, match="integer token id"):
            env.step(bad)
    with pytest.raises(ValueError, match="one token id"):
        env.step(np.array([1, 2]))
    assert env.state.tokens == ()
    for good in (np.array(TOKEN["block"]), np.array([TOKEN["block"]]), torch.tensor(TOKEN["end"]),
                 np.int16(TOKEN["block"])):
        env.step(good)
    assert env.state.tokens == (TOKEN["block"], TOKEN["block"], TOKEN["end"], TOKEN["block"])
    assert token_id(np.array([[7]])) == 7


def test_step_before_reset_raises() -> None:
    with pytest.raises(RuntimeError, match="reset"):
        CompileEnv(SMALL).step(0)


@pytest.mark.parametrize("opt", [0, 1, 2])
def test_replaying_the_oracle_earns_the_oracle_reward(opt: int) -> None:
    params = EnvParams(max_len=256, oracle_opt=opt, num_tests=16)
    env = CompileEnv(params, source="suite")
    replayed = 0
    for program in load_suite():
        env.reset(seed=0, options={"program": program.name})
        task = env.state.task
        tokens = encode(task.oracle, task.lits)
        if tokens is None:
            continue
        for token in tokens:
            _, reward, terminated, _, info = env.step(token)
        assert terminated and info["outcome"] == Outcome.CORRECT, program.name
        assert reward == params.correct_reward and info["speedup"] == 1.0
        assert info["candidate_cost"] == info["oracle_cost"] > 0
        replayed += 1
    assert replayed >= len(load_suite()) - 2


def test_generated_oracles_replay_too() -> None:
    env = CompileEnv(EnvParams(max_len=256, num_tests=8), pool_size=64)
    for seed in range(6):
        env.reset(seed=seed)
        task = env.state.task
        for token in encode(task.oracle, task.lits):
            _, reward, terminated, _, info = env.step(token)
        assert (terminated, info["outcome"], reward) == (True, Outcome.CORRECT, 1.0)


def run(env: CompileEnv, names: list[str]) -> tuple[float, dict]:
    for name in names:
        _, reward, terminated, _, info = env.step(TOKEN[name])
    assert terminated
    return reward, info


def test_rewards_for_wrong_slow_fast_and_looping_programs() -> None:
    params = EnvParams(max_len=32, num_tests=16, oracle_opt=0, max_speedup=2.5, fuel=500)
    env = CompileEnv(params)
    source = "def f(a):\n    return a * 1\n"   # -O0: get, const 1, mul, return: 6 cycles

    env.reset(seed=4, options={"program": source})
    reward, info = run(env, ["get 0", "return", "eos"])  # 2 cycles: speedup 3, capped at 2.5
    assert info["outcome"] == Outcome.CORRECT and info["speedup"] == 3.0
    assert reward == pytest.approx(1.0 + 1.0 * (2.5 - 1.0))

    env.reset(options={"program": source})
    reward, info = run(env, ["get 0", "const 1", "mul", "const 0", "add", "return", "eos"])
    assert info["outcome"] == Outcome.CORRECT and reward == pytest.approx(1.0 + (6 / 8 - 1.0))

    env.reset(options={"program": source})
    reward, info = run(env, ["get 0", "const 0", "max", "return", "eos"])  # wrong when a < 0
    assert info["outcome"] == Outcome.WRONG and 0 < info["pass_fraction"] < 1
    assert reward == pytest.approx(-1.0 + 0.5 * info["pass_fraction"])

    env.reset(options={"program": source})
    reward, info = run(env, ["loop", "br 0", "end", "eos"])
    assert (info["outcome"], reward, info["speedup"]) == (Outcome.OUT_OF_FUEL, -1.0, 0.0)


def test_a_program_without_an_answer_earns_nothing() -> None:
    """The oracle loops forever: an empty endless loop once scored the maximum (4.0)."""
    env = CompileEnv(SMALL)
    forever = "def f(x):\n    while True:\n        x += 1\n    return x\n"
    for tokens in (["loop", "br 0", "end", "eos"], ["const 0", "return", "eos"]):
        env.reset(options={"program": forever})
        reward, info = run(env, tokens)
        assert (info["outcome"], reward, info["speedup"]) == (Outcome.NO_ANSWER, 0.0, 0.0), tokens


def test_seeding_is_reproducible_and_episodes_advance() -> None:
    env = CompileEnv(SMALL, pool_size=32)
    first, info = env.reset(seed=11)
    again, info_again = env.reset(seed=11)
    assert info["program"] == info_again["program"]
    for key in first:
        assert np.array_equal(first[key], again[key])
    names = [info["program"]] + [env.reset()[1]["program"] for _ in range(6)]
    assert len(set(names)) > 1, "reset() without a seed starts the next episode's draw"
    assert env.state.key == 11 and env.state.episode == 6
    fresh = CompileEnv(SMALL, pool_size=32)
    fresh.reset(seed=5)
    assert fresh.state.key == 5
    unseeded = CompileEnv(SMALL, pool_size=32)
    unseeded.reset()
    assert unseeded.state.episode == 0


def test_options_choose_source_and_program() -> None:
    env = CompileEnv(SMALL, source="generator", suite=["gcd", "sign"])
    _, info = env.reset(seed=0, options={"source": "suite"})
    assert info["program"] in ("gcd", "sign")
    _, info = env.reset()
    assert info["program"] in ("gcd", "sign"), "the source option stays in force"
    _, info = env.reset(options={"program": "fibonacci"})
    assert (info["program"], info["program_index"]) == ("fibonacci", -1)
    _, info = env.reset(options={"source": "generator"})
    assert info["program"].startswith("generated")
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"level": 3})
    with pytest.raises(ValueError, match="program source"):
        env.reset(options={"source": "leetcode"})
    with pytest.raises(KeyError, match="no suite program"):
        env.reset(options={"program": "no_such_program"})
    with pytest.raises(ValueError, match="max_source_len"):
        CompileEnv(EnvParams(max_source_len=4)).reset(seed=0, options={"program": "gcd"})


def test_bad_params_are_refused() -> None:
    for bad in ({"max_len": 0}, {"num_tests": 1.5}, {"oracle_opt": 3}, {"oracle_opt": True}, {"fuel": -1},
                {"max_speedup": 0.5}):
        with pytest.raises(ValueError):
            EnvParams(**bad)
    with pytest.raises(ValueError, match="render_mode"):
        CompileEnv(render_mode="human")
    for name in ("correct_reward", "speed_weight", "wrong_penalty", "fuel_penalty"):
        for value in (float("nan"), float("inf"), "1", True):
            with pytest.raises(ValueError, match=f"EnvParams.{name} must be a finite number"):
                EnvParams(**{name: value})


def test_bad_env_arguments_say_what_is_accepted() -> None:
    with pytest.raises(TypeError, match="params must be an EnvParams"):
        CompileEnv("x")
    with pytest.raises(TypeError, match="generator must be a GenConfig"):
        CompileEnv(generator="x")
    for suite in ([], "gcd", [1]):
        with pytest.raises(ValueError, match="suite must be None"):
            CompileEnv(source="suite", suite=suite)


def test_render_shows_source_and_target() -> None:
    env = CompileEnv(SMALL, render_mode="ansi")
    env.reset(seed=0, options={"program": "sign"})
    env.step(TOKEN["get 0"])
    text = env.render()
    assert text.startswith("sign: running, 1/32 tokens") and "def sign" in text
    assert text.rstrip().endswith("get 0")


def _blank_state(lits: list[int]) -> compile_env.CompileState:
    """An episode at its start whose source has the literals ``lits`` (no oracle needed)."""
    task = programs.Task("t", "", np.zeros(0, np.int32), np.array(lits, np.int32), 0,
                         np.zeros((0, 2), np.int32))
    return compile_env.reset_env(0, 0, task, -1)


@pytest.mark.parametrize("seed", range(4))
def test_masked_generation_always_ends_valid(seed):
    rng = np.random.default_rng(seed)
    lits = [3, -9, 2**31 - 1]
    for trial in range(100):
        max_len = int(rng.integers(1, 60))
        params = EnvParams(max_len=max_len)
        state = _blank_state(lits)
        tokens = []
        while not tokens or tokens[-1] != vocab.EOS:
            allowed = np.flatnonzero(state.action_mask(params))
            assert len(allowed), f"seed {seed} trial {trial}: stuck after {tokens}"
            tok = int(rng.choice(allowed))
            tokens.append(tok)
            if tok != vocab.EOS:
                state, reward, _ = compile_env.step_env(state, tok, params)
                assert state.outcome == Outcome.RUNNING and state.tokens == tuple(tokens)
        assert len(tokens) <= max_len
        validate(vocab.decode(tokens, lits))


def test_masked_token_is_refused():
    state, params = _blank_state([]), EnvParams(max_len=10)
    for token in (vocab.TOKEN_ID["add"], vocab.TARGET_VOCAB_SIZE):
        refused, reward, _ = compile_env.step_env(state, token, params)
        assert refused.outcome == Outcome.INVALID_ACTION and refused.tokens == ()
        assert reward == params.invalid_action_penalty


def test_an_episode_of_max_len_steps_is_terminated_and_truncated_as_documented() -> None:
    env = gym.make("kiln/Compile-v0", source="suite", params=EnvParams(max_len=4),
                   max_episode_steps=4)
    _, info = env.reset(seed=0, options={"program": "sign"})
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated):
        allowed = info["action_mask"].nonzero()[0]
        token = int(allowed[-1]) if len(allowed) > 1 else int(allowed[0])  # avoid eos if we can
        _, _, terminated, truncated, info = env.step(token)
        steps += 1
    assert steps == 4 and terminated and truncated
    assert "terminated=True`` *and* ``truncated=True``" in CompileEnv.__doc__
