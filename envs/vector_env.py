"""``CompileVectorEnv``: many compile episodes as torch tensors on one device.

The vector twin of ``compile_env.CompileEnv`` (its ``vector_entry_point``): the lanes' state,
observations, masks, rewards and dones are tensors on the env's device (CPU or CUDA), every
rule is a batched tensor expression, and on CUDA ``step`` never waits for the GPU (no
``.item()``, no copies to the host, no branching on tensor values, no loop over lanes).

Per step, every lane's program is verified in one VM launch (candidate and oracle side by side;
lanes that did not just emit ``eos`` run with length 0, which costs next to nothing), and lanes
whose episode ended are reset by a boolean mask: their next program is a gather from the
``ProgramTable`` built once at construction (the generator's pool, generated on the device and
compiled by the batched compiler; or the suite), and their tests are a counter-based draw.
"""
from __future__ import annotations

import os
from typing import Any

import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..compilers import evaluation, hashing
from ..compilers.evaluation import Comparison
from ..compilers.isa import MAX_NEST, MAX_PARAMS
from ..compilers.programs.generator import GenConfig
from ..compilers.tokens import NUM_LITS
from ..compilers.vocab import TARGET_VOCAB_SIZE
from . import programs
from .compile_env import EnvParams, check_params, observation_space
from .lanes import LaneState, TokenTables, lane_mask, token_tables, transition
from .reward import INVALID_ACTION, RUNNING, CandidateCheck, Candidates, check_by_tests, score


def check_device(device: torch.device | str) -> torch.device:
    """``device`` as a torch.device that this torch can use, else ValueError."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or a torch.device, got "
                         f"{device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} asked for, but this torch sees no CUDA device "
                         f"(CPU-only build or no GPU): use device='cpu'")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"the vector env runs on 'cpu' or 'cuda', got {device}")
    return device


def lane_bytes(params: EnvParams) -> int:
    """An upper estimate of the memory one lane needs on the device, in bytes: its state and
    observation, and its share of a step's verification (candidate and oracle code, inputs
    and results of both runs)."""
    code_width = max(params.max_len, programs.MAX_ORACLE_CODE)
    state = 8 * (params.max_len + MAX_NEST + 8) + 2 * TARGET_VOCAB_SIZE
    observation = 4 * (params.max_source_len + NUM_LITS + params.max_len + 8)
    verification = 2 * (8 * code_width + params.num_tests * (4 * MAX_PARAMS + 12))
    return 2 * (state + observation + verification)  # twice: temporaries of the step


def _free_bytes(device: torch.device) -> int:
    """Memory that allocations on ``device`` can still get (page cache counts as free)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # no such counter here: no limit known
        return 2**63


def check_memory(num_envs: int, params: EnvParams, device: torch.device) -> None:
    """ValueError, before anything is allocated, if ``num_envs`` lanes cannot fit."""
    need, free = num_envs * lane_bytes(params), _free_bytes(device)
    if need > free:
        raise ValueError(f"{num_envs} lanes need about {need / 2**30:.1f} GiB on {device}, "
                         f"but only {free / 2**30:.1f} GiB is free: use at most "
                         f"{max(1, free // lane_bytes(params))} lanes (or a shorter max_len)")


def decode(target: torch.Tensor, lits: torch.Tensor, tables: TokenTables) -> torch.Tensor:
    """Bytecode ``[B, L, 2]`` int32 of token rows ``[B, L]`` (``lit k`` resolved per lane);
    positions at and after ``eos`` hold junk that the lengths exclude."""
    token = target.to(torch.int64)
    lit = tables.lit[token].to(torch.int64)
    value = lits.gather(1, lit.clamp(min=0))
    arg = torch.where(lit >= 0, value, tables.arg[token])
    return torch.stack([tables.op[token], arg], dim=-1)


def observe(s: LaneState, table: programs.ProgramTable) -> dict[str, torch.Tensor]:
    """The lanes' observations: int32 tensors laid out as ``observation_space``."""

    def column(x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.int32)[:, None]

    top = s.kinds.gather(1, (s.nest - 1).clamp(min=0)[:, None])[:, 0]
    return {"source": table.source[s.program], "lits": table.lits[s.program],
            "nlits": column(table.nlits[s.program]), "nparams": column(table.nparams[s.program]),
            "target": s.target, "length": column(s.length), "height": column(s.height),
            "nest": column(s.nest), "top_kind": column(torch.where(s.nest > 0, top, -1))}


def tests_to_run(s: LaneState, stepped: LaneState, eos: torch.Tensor,
                 table: programs.ProgramTable, t: TokenTables, params: EnvParams) -> Candidates:
    """What the check compares: every lane, with length 0 unless it ended by eos."""
    return Candidates(decode(stepped.target, table.lits[s.program], t),
            torch.where(eos, stepped.length - 1, 0).to(torch.int32),
            table.oracle[s.program], torch.where(eos, table.oracle_len[s.program], 0),
            table.nparams[s.program],
            evaluation.test_inputs(s.key_lo, s.key_hi, s.episode, params.num_tests))


def reset_lanes(s: LaneState, done: torch.Tensor, table: programs.ProgramTable, t: TokenTables,
                params: EnvParams) -> LaneState:
    """Lanes in ``done`` start their next episode (a fresh program draw, an empty target);
    the others keep their state. Either way the mask is recomputed."""
    episode = s.episode + done.to(torch.int64)
    drawn = hashing.draw(s.key_lo, s.key_hi, episode, hashing.PROGRAM) % table.nlits.shape[0]
    keep = ~done
    row = keep[:, None]
    state = LaneState(s.key_lo, s.key_hi, episode, torch.where(done, drawn, s.program),
                      s.target * row, s.length * keep, s.height * keep, s.nest * keep,
                      torch.where(row, s.kinds, -1), s.mask)
    return LaneState(*state[:-1], lane_mask(state, table.nlits[state.program], params, t))


def finish(s: LaneState, stepped: LaneState, valid: torch.Tensor, eos: torch.Tensor,
           comparison: Comparison, table: programs.ProgramTable, t: TokenTables,
           params: EnvParams, max_episode_steps: int | None) -> tuple[Any, ...]:
    """Score the step, end and reset lanes: ``(state, obs, reward, terminated, truncated,
    info)``, ``info`` holding every key but ``action_mask``/``program_index`` (the state's)."""
    verdict = score(comparison, params)
    reward = torch.where(eos, verdict.reward,
                         torch.where(valid, 0.0, params.invalid_action_penalty)
                         .to(torch.float32))
    outcome = torch.where(eos, verdict.outcome, torch.where(valid, RUNNING, INVALID_ACTION))
    terminated = ~valid | eos
    if max_episode_steps is None:
        truncated = torch.zeros_like(terminated)
    else:  # TimeLimit's rule: the step count reaches the limit, even on a terminal step
        truncated = s.length + 1 >= max_episode_steps
    done = terminated | truncated
    state = reset_lanes(stepped, done, table, t, params)
    info = {"outcome": outcome, "final_obs": observe(stepped, table), "_final_obs": done}
    for name in ("pass_fraction", "candidate_cost", "oracle_cost", "speedup"):
        info[name] = torch.where(eos, getattr(verdict, name), 0.0)
    return state, observe(state, table), reward, terminated, truncated, info


class CompileVectorEnv(VectorEnv):
    """``num_envs`` compile episodes (``kiln/Compile-v0``) stepped together on ``device``.

    Same rules, spaces, rewards and arguments as ``CompileEnv`` (its manual applies), plus
    ``num_envs``, ``device``, ``max_episode_steps`` (the ``TimeLimit`` of the single env:
    ``truncated`` when a lane's episode reaches that many steps, even on its terminal step, as
    ``TimeLimit`` does; None: never) and ``fuse`` (run the step's tensor arithmetic through
    ``torch.compile``: slower to start, much faster per step on CUDA). Differences:

    - Observations, rewards (float32), dones, masks and infos are torch tensors on ``device``;
      observations are a dict of int32 ``[num_envs, ...]`` tensors laid out as
      ``single_observation_space``. Actions are a ``[num_envs]`` integer tensor (or anything
      ``torch.as_tensor`` takes): out-of-range or masked entries are invalid actions for their
      lane, a non-integer dtype raises TypeError and a wrong shape ValueError.
    - Autoreset is ``SAME_STEP``: a lane whose episode ended is reset within the same ``step``;
      the returned observation starts its next episode, and ``info["final_obs"]`` (all lanes,
      ``info["_final_obs"]`` marks the ended ones) holds the last observation of the ended one.
    - ``info["outcome"]`` is a tensor of int64 codes (``reward.Outcome``, as the single env's
      ``info["outcome"]``; ``reward.OUTCOMES[code]`` is the name) for the step
      just taken, as are ``pass_fraction``, ``candidate_cost``, ``oracle_cost`` and
      ``speedup`` (0 where no program ended); ``action_mask`` and ``program_index`` describe the
      returned observation.
    - Seeding: ``reset(seed=s)`` gives lane ``i`` the key ``s + i``: lane ``i`` then replays
      ``CompileEnv`` reset with seed ``s + i`` (and ``reset()`` without a seed starts the next
      episode of every lane, as the single env's ``reset()`` does). Reset options: ``"source"``.
    - The oracle is the batched compiler's code (bit-identical to ``kiln.compile`` at
      every ``oracle_opt``).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 1, params: EnvParams | None = None, *,
                 device: torch.device | str = "cpu", source: str = "generator",
                 generator: GenConfig | None = None, pool_size: int = 4096, pool_seed: int = 0,
                 suite: tuple[str, ...] | list[str] | None = None,
                 max_episode_steps: int | None = None, fuse: bool = False,
                 check: CandidateCheck = check_by_tests):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.num_envs = num_envs
        self.params = check_params(params)
        self.device = check_device(device)
        if max_episode_steps is not None and (isinstance(max_episode_steps, bool) or not
                                              isinstance(max_episode_steps, int)
                                              or max_episode_steps < 1):
            raise ValueError(f"max_episode_steps must be None or a positive int, got "
                             f"{max_episode_steps!r}")
        check_memory(num_envs, self.params, self.device)
        self.max_episode_steps = max_episode_steps
        self.check = check
        self.render_mode = None
        self.sources = programs.ProgramSources(generator, pool_size, pool_seed, suite)
        self._tables = token_tables(self.device)
        self._program_tables: dict[str, programs.ProgramTable] = {}
        self.source = programs.check_source(source)
        # Build the first table now, so that bad arguments fail here rather than at reset.
        _ = self.program_table
        self.single_observation_space = observation_space(self.params)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.single_action_space = spaces.Discrete(TARGET_VOCAB_SIZE)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.state: LaneState | None = None
        # The step's tensor arithmetic is hundreds of small elementwise ops: torch.compile fuses
        # them into a few kernels (the VM launch between them stays as it is).
        fused = (lambda f: torch.compile(f, dynamic=False)) if fuse else (lambda f: f)
        self._transition = fused(transition)
        self._tests_to_run = fused(tests_to_run)
        self._finish = fused(finish)

    @property
    def program_table(self) -> programs.ProgramTable:
        """The current program source as tensors on the device (built on first use)."""
        if self.source not in self._program_tables:
            p = self.params
            program_source = self.sources.get(self.source)
            self._program_tables[self.source] = programs.program_table(
                program_source.tokens(self.device), p.oracle_opt, p.max_source_len,
                programs.MAX_ORACLE_CODE, self.source, p.fuel, p.num_tests)
        return self._program_tables[self.source]

    def regenerate(self, pool_seed: int) -> None:
        """Replace the generator's pool by its programs at ``pool_seed`` (a fresh set, built on
        the device when next used). Lanes' episodes in progress refer to the old pool: call
        ``reset`` before the next ``step``."""
        old = self.sources
        self.sources = programs.ProgramSources(old.generator.config, old.generator.pool_size,
                                               pool_seed, old.suite_names)
        self._program_tables.pop("generator", None)
        self.state = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        super().reset(seed=seed)
        if options is not None and not isinstance(options, dict):
            raise TypeError(f"options must be a dict or None, got {type(options).__name__}")
        options = dict(options or {})
        unknown = sorted(set(options) - {"source"})
        if unknown:
            raise ValueError(f"unknown reset options {unknown}; accepted: 'source' (the vector "
                             f"env draws every lane's program)")
        if "source" in options:
            self.source = programs.check_source(options["source"])
        lanes, device = self.num_envs, self.device
        if seed is not None or self.state is None:
            start = seed if seed is not None else int(self.np_random.integers(2**63))
            key_lo, key_hi = hashing.split_key(start, lanes, device)
            episode = torch.full((lanes,), -1, dtype=torch.int64, device=device)
        else:
            key_lo, key_hi, episode = self.state.key_lo, self.state.key_hi, self.state.episode
        # Every lane "ends" a blank episode and starts the next (episode 0 after a seed).
        zeros = torch.zeros(lanes, dtype=torch.int64, device=device)
        blank = LaneState(key_lo, key_hi, episode, zeros,
                          torch.zeros((lanes, self.params.max_len), dtype=torch.int32,
                                      device=device),
                          zeros, zeros, zeros,
                          torch.full((lanes, MAX_NEST), -1, dtype=torch.int64, device=device),
                          torch.zeros((lanes, TARGET_VOCAB_SIZE), dtype=torch.bool, device=device))
        table = self.program_table
        self.state = reset_lanes(blank, torch.ones(lanes, dtype=torch.bool, device=device),
                                 table, self._tables, self.params)
        zero = torch.zeros(lanes, dtype=torch.float32, device=device)
        info = {"action_mask": self.state.mask, "outcome": torch.full_like(zeros, RUNNING),
                "pass_fraction": zero, "candidate_cost": zero, "oracle_cost": zero,
                "speedup": zero, "program_index": table.index[self.state.program]}
        return observe(self.state, table), info

    def step(self, actions: Any) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor,
                                         torch.Tensor, dict[str, Any]]:
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        s, p, t, table = self.state, self.params, self._tables, self.program_table
        stepped, valid, eos = self._transition(s, self._actions(actions), t, p)
        comparison = self.check(self._tests_to_run(s, stepped, eos, table, t, p), p.fuel)
        self.state, obs, reward, terminated, truncated, info = self._finish(
            s, stepped, valid, eos, comparison, table, t, p, self.max_episode_steps)
        info["action_mask"] = self.state.mask
        info["program_index"] = table.index[self.state.program]
        return obs, reward, terminated, truncated, info

    def action_masks(self) -> torch.Tensor:
        """Bool ``[num_envs, 265]``: the tokens allowed next in each lane."""
        if self.state is None:
            raise RuntimeError("call reset() before action_masks()")
        return self.state.mask

    def _actions(self, actions: Any) -> torch.Tensor:
        actions = torch.as_tensor(actions, device=self.device)
        if actions.dtype == torch.bool or actions.is_floating_point() or actions.is_complex():
            raise TypeError(f"actions must be integer token ids in 0..{TARGET_VOCAB_SIZE - 1}, got "
                            f"dtype {actions.dtype}")
        if tuple(actions.shape) != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), one token per lane, "
                             f"got {tuple(actions.shape)}")
        return actions.to(torch.int64)
