"""The vector env: differential against the single env, the VectorEnv contract, masks, bad
actions, oracle replay, device residency, and the throughput benchmark's smoke test."""
from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

import kiln.envs  # noqa: F401  (registers kiln/Compile-v0)
from kiln.compilers import evaluation, hashing, vocab
from kiln.compilers.gpu_launch import host_sync_forbidden
from kiln.compilers.validate import validate
from kiln.compilers.vocab import encode
from kiln.envs.compile_env import CompileEnv, EnvParams
from kiln.envs.reward import OUTCOMES
from kiln.envs.vector_env import CompileVectorEnv
from kiln.bench.envs import bench_env

SMALL = EnvParams(max_len=24, num_tests=12)
CUDA = torch.cuda.is_available()
DEVICES = ["cpu"] + (["cuda"] if CUDA else [])
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
# numba warns about small CUDA grids (the VM, generator and compiler launch one per batch);
# test batches are small on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:.*Grid size .* under-utilization")


def choose(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mostly masked-uniform tokens with eos favoured (short episodes), sometimes anything
    (invalid actions) and sometimes out of range."""
    weights = mask.astype(float)
    weights[:, vocab.EOS] *= 12
    actions = np.array([rng.choice(len(w), p=w / w.sum()) for w in weights])
    wild = rng.random(len(actions))
    actions = np.where(wild < 0.04, rng.integers(0, vocab.TARGET_VOCAB_SIZE, len(actions)), actions)
    return np.where(wild > 0.985, vocab.TARGET_VOCAB_SIZE + 7, actions)


def assert_obs_equal(single: dict, vector: dict, lane: int, where: str) -> None:
    for key, value in single.items():
        assert np.array_equal(value, vector[key][lane].cpu().numpy()), (where, key)


def differential(source: str, seed: int, lanes: int, steps: int, device: str,
                 max_episode_steps: int | None = None, params: EnvParams = SMALL,
                 eos_bias: bool = True, fuse: bool = False) -> set[str]:
    """Step the vector env and ``lanes`` single envs (seeds seed + i) with the same actions and
    check that they agree on everything they report; return the outcomes seen."""
    venv = CompileVectorEnv(lanes, params, device=device, source=source, pool_size=64,
                            max_episode_steps=max_episode_steps, fuse=fuse)
    singles = []
    for _ in range(lanes):
        single = CompileEnv(params, source=source, pool_size=64)
        if max_episode_steps is not None:
            single = gym.wrappers.TimeLimit(single, max_episode_steps)
        singles.append(single)
    vobs, vinfo = venv.reset(seed=seed)
    sobs = []
    for i, single in enumerate(singles):
        obs, info = single.reset(seed=seed + i)
        assert_obs_equal(obs, vobs, i, "reset")
        assert np.array_equal(info["action_mask"], vinfo["action_mask"][i].cpu().numpy())
        sobs.append(obs)
    rng = np.random.default_rng(seed % 2**32)
    outcomes = set()
    exact = device == "cpu"
    for step in range(steps):
        mask = vinfo["action_mask"].cpu().numpy()
        actions = choose(mask, rng) if eos_bias else np.argmax(rng.random(mask.shape) * mask, 1)
        vobs, vreward, vterm, vtrunc, vinfo = venv.step(torch.as_tensor(actions, device=device))
        for i, single in enumerate(singles):
            obs, reward, terminated, truncated, info = single.step(int(actions[i]))
            where = f"step {step} lane {i}"
            assert (terminated, truncated) == (bool(vterm[i]), bool(vtrunc[i])), where
            assert info["outcome"] == int(vinfo["outcome"][i]), where
            if exact:
                assert reward == float(vreward[i]), where
            else:
                assert reward == pytest.approx(float(vreward[i]), rel=1e-6), where
            for key in ("pass_fraction", "candidate_cost", "oracle_cost", "speedup"):
                assert info[key] == pytest.approx(float(vinfo[key][i]), rel=1e-6), (where, key)
            if terminated or truncated:
                assert bool(vinfo["_final_obs"][i])
                assert_obs_equal(obs, vinfo["final_obs"], i, where)
                obs, info = single.reset()
                outcomes.add(OUTCOMES[int(vinfo["outcome"][i])])
            assert_obs_equal(obs, vobs, i, where)
            assert np.array_equal(info["action_mask"], vinfo["action_mask"][i].cpu().numpy())
            assert info["program_index"] == int(vinfo["program_index"][i])
    return outcomes


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("source,seed", [("suite", 0), ("suite", 2**32 - 2), ("generator", 7),
                                         ("generator", 12345), ("generator", 2**63 + 11)])
def test_lane_i_replays_the_single_env_with_seed_plus_i(source: str, seed: int,
                                                        device: str) -> None:
    outcomes = differential(source, seed, lanes=3, steps=60, device=device)
    assert "invalid_action" in outcomes and len(outcomes) >= 2


@pytest.mark.parametrize("device", DEVICES)
def test_truncation_matches_the_time_limit(device: str) -> None:
    outcomes = differential("generator", 3, lanes=4, steps=20, device=device,
                            max_episode_steps=5, eos_bias=False)
    assert "running" in outcomes, "some episodes were truncated, not terminated"


@needs_cuda
# torch.compile's first use imports torch code that warns about its own deprecated APIs.
@pytest.mark.filterwarnings("ignore:.*script_method. is deprecated:DeprecationWarning")
def test_fused_step_matches_the_single_env() -> None:
    outcomes = differential("generator", 99, lanes=4, steps=40, device="cuda", fuse=True)
    assert "invalid_action" in outcomes


def test_make_vec_builds_it_from_the_registration() -> None:
    envs = gym.make_vec("kiln/Compile-v0", num_envs=3, vectorization_mode="vector_entry_point",
                        source="suite", params=SMALL)
    assert isinstance(envs.unwrapped, CompileVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert envs.unwrapped.max_episode_steps == gym.spec("kiln/Compile-v0").max_episode_steps
    assert envs.single_action_space == gym.spaces.Discrete(vocab.TARGET_VOCAB_SIZE)
    assert envs.action_space == gym.spaces.MultiDiscrete([vocab.TARGET_VOCAB_SIZE] * 3)
    assert envs.observation_space["target"].shape == (3, SMALL.max_len)
    envs.close()


def test_outputs_are_tensors_shaped_like_the_spaces() -> None:
    env = CompileVectorEnv(5, SMALL, source="suite")
    obs, info = env.reset(seed=1)
    actions = env.action_masks().to(torch.float32).multinomial(1)[:, 0]
    obs, reward, terminated, truncated, info = env.step(actions)
    assert reward.dtype == torch.float32 and reward.shape == (5,)
    assert terminated.dtype == truncated.dtype == torch.bool
    assert info["action_mask"].shape == (5, vocab.TARGET_VOCAB_SIZE)
    assert info["outcome"].dtype == torch.int64
    for i in range(5):
        lane = {key: value[i].numpy() for key, value in obs.items()}
        assert lane in env.single_observation_space
    for key, value in obs.items():
        assert value.dtype == torch.int32 and value.shape == env.observation_space[key].shape


def test_bad_actions() -> None:
    env = CompileVectorEnv(3, SMALL, source="suite", suite=["sign"])
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(4, dtype=torch.int64))
    with pytest.raises(TypeError, match="integer"):
        env.step(torch.zeros(3))
    with pytest.raises(TypeError, match="integer"):
        env.step(np.array([True, False, True]))
    get0 = vocab.TOKEN_ID["get 0"]
    _, reward, terminated, _, info = env.step([get0, -5, vocab.TOKEN_ID["add"]])
    assert terminated.tolist() == [False, True, True]
    assert reward.tolist() == [0.0, SMALL.invalid_action_penalty, SMALL.invalid_action_penalty]
    assert [OUTCOMES[o] for o in info["outcome"].tolist()] == ["running", "invalid_action",
                                                               "invalid_action"]
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"program": "gcd"})


def test_masked_random_play_ends_in_valid_programs() -> None:
    env = CompileVectorEnv(16, SMALL, source="generator", pool_size=128)
    env.reset(seed=5)
    generator = torch.Generator().manual_seed(0)
    checked = 0
    for _ in range(3 * SMALL.max_len):
        mask = env.action_masks()
        assert mask.any(1).all()
        actions = (torch.rand(mask.shape, generator=generator) * mask).argmax(1)
        _, _, terminated, _, info = env.step(actions)
        for i in terminated.nonzero()[:, 0].tolist():
            final = {key: value[i].numpy() for key, value in info["final_obs"].items()}
            length = int(final["length"][0])
            assert final["target"][length - 1] == vocab.EOS
            nlits = int(final["nlits"][0])
            validate(vocab.decode(final["target"][:length], final["lits"][:nlits]))
            checked += 1
    assert checked >= 16


def test_lanes_replaying_their_oracle_earn_the_oracle_reward() -> None:
    params = EnvParams(max_len=128, num_tests=8)
    env = CompileVectorEnv(8, params, source="suite")
    obs, _ = env.reset(seed=21)
    plans = []
    for i in range(8):
        program = env.state.program[i]
        table = env.program_table
        oracle = table.oracle[program, :table.oracle_len[program]].numpy()
        plans.append(encode(oracle, obs["lits"][i, :obs["nlits"][i, 0]].numpy()))
    assert all(plan is not None for plan in plans)
    done = np.zeros(8, dtype=bool)
    for step in range(max(map(len, plans))):
        actions = [plan[step] if step < len(plan) else 0 for plan in plans]
        _, reward, terminated, _, info = env.step(actions)
        for i in np.flatnonzero(terminated.numpy() & ~done):
            assert step == len(plans[i]) - 1
            assert OUTCOMES[int(info["outcome"][i])] == "correct"
            assert float(reward[i]) == 1.0 and float(info["speedup"][i]) == 1.0
        done |= terminated.numpy()
    assert done.all()


def test_reset_without_seed_starts_every_lanes_next_episode() -> None:
    env = CompileVectorEnv(4, SMALL, source="suite")
    env.reset(seed=3)
    env.reset()
    assert env.state.episode.tolist() == [1, 1, 1, 1]
    single = CompileEnv(SMALL, source="suite")
    single.reset(seed=5)
    _, info = single.reset()
    assert info["program_index"] == int(env.program_table.index[env.state.program[2]])


@needs_cuda
def test_draws_agree_on_cpu_and_cuda() -> None:
    key_lo, key_hi = hashing.split_key(2**40 + 3, 257)
    episode = torch.arange(257) * 3
    cpu = evaluation.test_inputs(key_lo, key_hi, episode, 32)
    cuda = evaluation.test_inputs(key_lo.cuda(), key_hi.cuda(), episode.cuda(), 32)
    assert torch.equal(cpu, cuda.cpu())


@needs_cuda
def test_step_never_waits_for_the_gpu() -> None:
    env = CompileVectorEnv(1024, SMALL, device="cuda", source="generator")
    env.reset(seed=0)
    noise = torch.Generator(device="cuda").manual_seed(0)

    def step() -> None:
        mask = env.action_masks()
        env.step((torch.rand(mask.shape, generator=noise, device="cuda") * mask).argmax(1))

    for _ in range(4):  # warm-up: numba compiles its kernels on first launch
        step()
    torch.cuda.synchronize()
    # The mode may miss some syncs: hence the second, independent check below.
    with host_sync_forbidden(torch):
        for _ in range(3):
            step()
    # A sync outside torch (numba, a driver call) would wait for this long kernel to finish.
    torch.cuda._sleep(2_000_000_000)
    start = time.perf_counter()
    step()
    assert not torch.cuda.current_stream().query(), "step waited for the GPU"
    assert time.perf_counter() - start < 0.5
    torch.cuda.synchronize()


def test_bench_env_smoke() -> None:
    rows = bench_env([1, 3], "cpu", steps=2, baseline_sizes=(1,),
                     baselines=("gymnasium-sync", "sb3-dummy"), repeats=1, warmup=1,
                     params=SMALL, source="suite")
    assert [(r["impl"], r["envs"]) for r in rows] == [
        ("kiln-vector", 1), ("kiln-vector", 3), ("gymnasium-sync", 1), ("sb3-dummy", 1)]
    assert all(r["steps_per_s"] > 0 and r["device"] == "cpu" for r in rows)
    with pytest.raises(ValueError, match="unknown baselines"):
        bench_env([1], "cpu", baselines=("ray",))


@pytest.mark.parametrize("opt", [0, 1, 2])
def test_the_suite_table_holds_the_reference_compilers_code(opt: int) -> None:
    import kiln

    env = CompileVectorEnv(1, EnvParams(oracle_opt=opt), source="suite")
    table = env.program_table
    for i, program in enumerate(env.sources.get("suite").programs):
        expected = kiln.compile(program.source, opt).code
        assert int(table.oracle_len[i]) == len(expected), program.name
        assert np.array_equal(table.oracle[i, :len(expected)].numpy(), expected), program.name


def test_programs_without_an_answer_stay_out_of_both_envs() -> None:
    """With little fuel, suite programs whose oracle runs out on the probe tests leave the
    table; the single env draws from the same rows, and both still agree step for step."""
    from kiln.compilers.vm import OK, execute
    from kiln.envs.programs import probe_inputs

    params = SMALL.replace(fuel=300)
    env = CompileVectorEnv(2, params, source="suite")
    table = env.program_table
    total = len(env.sources.get("suite"))
    assert 0 < len(table.index) < total, "fuel 300 should leave some suite programs out"
    probe = execute(table.oracle, probe_inputs(params.num_tests, torch.device("cpu")),
                    table.nparams, table.oracle_len, params.fuel)
    assert bool((probe.status == OK).all())
    single = CompileEnv(params, source="suite")
    assert np.array_equal(single.sources.answered("suite", 1, params.max_source_len, 1024,
                                                  params.fuel, params.num_tests),
                          table.index.numpy())
    for seed in range(6):
        _, info = single.reset(seed=seed)
        assert info["program_index"] in set(table.index.tolist())
    differential("suite", 5, 3, 40, "cpu", params=params)


def test_every_program_out_of_fuel_is_refused() -> None:
    with pytest.raises(ValueError, match="runs out of fuel"):
        CompileVectorEnv(1, SMALL.replace(fuel=1), source="suite")


@pytest.mark.parametrize("kwargs,error,message", [
    ({"params": "x"}, TypeError, "params must be an EnvParams"),
    ({"generator": "x"}, TypeError, "generator must be a GenConfig"),
    ({"source": "suite", "suite": []}, ValueError, "suite must be None"),
    ({"max_episode_steps": "x"}, ValueError, "max_episode_steps must be None or a positive int"),
    ({"max_episode_steps": 0}, ValueError, "max_episode_steps must be None or a positive int"),
    ({"device": "nonsense"}, ValueError, "device must be"),
    ({"num_envs": 10**9}, ValueError, "lanes need about"),
])
def test_bad_vector_env_arguments_fail_up_front(kwargs, error, message) -> None:
    kwargs = {"num_envs": 1, **kwargs}
    with pytest.raises(error, match=message):
        CompileVectorEnv(**kwargs)


@pytest.mark.skipif(CUDA, reason="checks the CPU-only refusal")
def test_cuda_on_a_cpu_only_torch_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="sees no CUDA device"):
        CompileVectorEnv(1, device="cuda")
