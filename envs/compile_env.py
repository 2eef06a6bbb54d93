"""``kiln/Compile-v0``: compile one kiln function, one target token per step.

The state of an episode (``CompileState``) and the env's parameters (``EnvParams``) are plain
immutable records, and ``reset_env``/``step_env`` are pure functions of them (gymnax's layout);
``CompileEnv`` is the Gymnasium shell around them. The vector env (``vector_env``) runs the same
rules on tensors, drawing programs and tests with the same counter-based functions
(``compilers.hashing``, ``compilers.evaluation``), so both give the same trajectories for the
same seed and actions.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from ..compilers import evaluation, hashing, vocab
from ..compilers.batch import OPT_LEVELS as BATCH_OPT_LEVELS
from ..compilers.isa import INT32_MAX, INT32_MIN, MAX_NEST, MAX_PARAMS, MAX_STACK
from ..compilers.tokens import NUM_LITS, SOURCE_VOCAB_SIZE
from ..compilers.validate import K_ELSE
from ..compilers.vm.shapes import check_fuel
from ..compilers.vocab import TARGET_VOCAB_SIZE
from . import programs
from .lanes import LaneState, TokenTables, token_tables, transition
from .reward import (INVALID_ACTION, OUTCOMES, RUNNING, CandidateCheck, Candidates, Outcome,
                     Score, check_by_tests, score)

@dataclass(frozen=True)
class EnvParams:
    """Limits and reward weights of the compile env (shared by the single and the vector env).

    The reward at the end of an episode is documented in ``CompileEnv``; ``reward.score``
    computes it.
    """

    max_len: int = 128
    """Target tokens per program, ``eos`` included (the length of observation["target"])."""
    max_source_len: int = 192
    """Source tokens an observation holds (longer programs are refused)."""
    num_tests: int = evaluation.NUM_TESTS
    """Test inputs per episode: 8 edge-case rows, the rest random (see
    ``evaluation.test_inputs``)."""
    fuel: int = evaluation.FUEL
    """Instructions one run of candidate or oracle may execute before it is out of fuel (the
    suite's slowest programs need about 60,000 on the edge-case inputs)."""
    oracle_opt: int = 1
    """Optimisation level of the traditional compiler whose code is the oracle (0, 1 or 2)."""
    correct_reward: float = 1.0
    """Reward of a correct program exactly as fast as the oracle."""
    speed_weight: float = 1.0
    """Reward per unit of speedup (oracle cycles / candidate cycles) above or below 1."""
    max_speedup: float = 4.0
    """Speedups above this count as this much."""
    partial_credit: float = 0.5
    """A wrong program earns ``wrong_penalty + partial_credit * pass_fraction``."""
    wrong_penalty: float = -1.0
    """Reward of a program that disagrees with the oracle on a test."""
    fuel_penalty: float = -1.0
    """Reward of a program that runs out of fuel on a test (where the oracle does not)."""
    invalid_action_penalty: float = -1.0
    """Reward of an action that the mask forbids (out of range, or breaks validity)."""

    def __post_init__(self) -> None:
        for name in ("max_len", "max_source_len", "num_tests"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"EnvParams.{name} must be a positive int, got {value!r}")
        check_fuel(self.fuel)
        if isinstance(self.oracle_opt, bool) or self.oracle_opt not in BATCH_OPT_LEVELS:
            raise ValueError(f"EnvParams.oracle_opt must be one of {BATCH_OPT_LEVELS} (the "
                             f"levels at which the batched compiler matches kiln.compile), got "
                             f"{self.oracle_opt!r}")
        for name in ("correct_reward", "speed_weight", "max_speedup", "partial_credit",
                     "wrong_penalty", "fuel_penalty", "invalid_action_penalty"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                                  np.floating)) \
                    or not math.isfinite(value):
                raise ValueError(f"EnvParams.{name} must be a finite number, got {value!r}")
        if not self.max_speedup >= 1.0:
            raise ValueError(f"EnvParams.max_speedup must be >= 1, got {self.max_speedup!r}")

    def replace(self, **changes: Any) -> EnvParams:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def check_params(params: EnvParams | None) -> EnvParams:
    """``params``, or the defaults for None; TypeError for anything but an EnvParams."""
    if params is None:
        return EnvParams()
    if not isinstance(params, EnvParams):
        raise TypeError(f"params must be an EnvParams or None, got {type(params).__name__}")
    return params


def observation_space(params: EnvParams) -> spaces.Dict:
    """The observation space of one env (see ``CompileEnv``'s table)."""

    def box(low: int, high: int, size: int) -> spaces.Box:
        return spaces.Box(low, high, (size,), np.int32)

    return spaces.Dict({
        "source": box(0, SOURCE_VOCAB_SIZE - 1, params.max_source_len),
        "lits": box(INT32_MIN, INT32_MAX, NUM_LITS),
        "nlits": box(0, NUM_LITS, 1),
        "nparams": box(0, MAX_PARAMS, 1),
        "target": box(0, TARGET_VOCAB_SIZE - 1, params.max_len),
        "length": box(0, params.max_len, 1),
        "height": box(0, MAX_STACK, 1),
        "nest": box(0, MAX_NEST, 1),
        "top_kind": box(-1, K_ELSE, 1),
    })


@dataclass(frozen=True, eq=False)
class CompileState:
    """An episode in progress: which program, and the target tokens emitted so far."""

    key: int                   # the counter-based RNG's key (the reset seed)
    episode: int               # episodes since the key was set (draws depend on it)
    task: programs.Task
    program_index: int         # index in the program source (-1: given by reset options)
    tokens: tuple[int, ...] = ()   # target tokens so far (``eos`` last once emitted)
    height: int = 0            # operand stack height
    kinds: tuple[int, ...] = ()    # kinds of the open blocks, innermost last
    outcome: int = RUNNING     # an ``Outcome`` code

    @property
    def top_kind(self) -> int:
        return self.kinds[-1] if self.kinds else -1

    def action_mask(self, params: EnvParams) -> np.ndarray:
        """Tokens that keep the program valid and finishable (all False once it ended)."""
        if self.outcome != RUNNING:
            return np.zeros(TARGET_VOCAB_SIZE, dtype=bool)
        return vocab.action_mask(self.height, len(self.kinds), self.top_kind,
                                 len(self.task.lits), params.max_len - len(self.tokens))


def reset_env(key: int, episode: int, task: programs.Task, program_index: int) -> CompileState:
    """The first state of an episode compiling ``task``."""
    return CompileState(key, episode, task, program_index)


def verify(state: CompileState, params: EnvParams,
           check: CandidateCheck = check_by_tests) -> Score:
    """Check the finished program against the oracle on the episode's tests (batch of one,
    CPU) and score it."""
    code = torch.from_numpy(vocab.decode(state.tokens, state.task.lits))
    oracle = torch.from_numpy(state.task.oracle)
    key_lo, key_hi = hashing.split_key(state.key, 1)
    inputs = evaluation.test_inputs(key_lo, key_hi, torch.tensor([state.episode]),
                                    params.num_tests)

    def one(x: int) -> torch.Tensor:
        return torch.tensor([x], dtype=torch.int32)

    candidates = Candidates(code[None], one(len(code)), oracle[None], one(len(oracle)),
                            one(state.task.nparams), inputs)
    return score(check(candidates, params.fuel), params)


def step_env(state: CompileState, token: int, params: EnvParams,
             check: CandidateCheck = check_by_tests
             ) -> tuple[CompileState, float, Score | None]:
    """Emit ``token``: the next state, the reward, and the verdict when ``eos`` ended a program
    (``check`` compares it with the oracle).

    The step is the vector env's ``lanes.transition`` on a batch of one. A token the mask
    forbids (out of range included) ends the episode with outcome ``invalid_action`` and leaves
    the program as it was.
    """
    in_range = 0 <= token < TARGET_VOCAB_SIZE
    stepped, valid, eos = transition(_as_lane(state, params),
                                     torch.tensor([token if in_range else -1]),
                                     _cpu_tables(), params)
    if not valid[0]:
        return (dataclasses.replace(state, outcome=INVALID_ACTION),
                params.invalid_action_penalty, None)
    tokens = state.tokens + (token,)
    if eos[0]:
        verdict = verify(dataclasses.replace(state, tokens=tokens), params, check)
        return (dataclasses.replace(state, tokens=tokens, outcome=int(verdict.outcome[0])),
                float(verdict.reward[0]), verdict)
    nest = int(stepped.nest[0])
    return dataclasses.replace(state, tokens=tokens, height=int(stepped.height[0]),
                               kinds=tuple(stepped.kinds[0, :nest].tolist())), 0.0, None


@functools.cache
def _cpu_tables() -> TokenTables:
    return token_tables(torch.device("cpu"))


def _as_lane(state: CompileState, params: EnvParams) -> LaneState:
    """The state as a vector env lane (batch of one, CPU); the draw counters are not needed."""

    length, nest = len(state.tokens), len(state.kinds)
    counts = torch.tensor([[0], [length], [state.height], [nest]], dtype=torch.int64)
    target = torch.tensor([state.tokens + (0,) * (params.max_len - length)], dtype=torch.int32)
    kinds = torch.tensor([state.kinds + (-1,) * (MAX_NEST - nest)], dtype=torch.int64)
    zero, length_, height, nest_ = counts
    return LaneState(zero, zero, zero, zero, target, length_, height, nest_, kinds,
                     torch.from_numpy(state.action_mask(params))[None])


def token_id(action: Any) -> int:
    """The token id an action names: any integer scalar or one-element integer array.

    Raises TypeError for anything that is not an integer (floats, bools, strings) and
    ValueError for integer arrays of more than one element. Out-of-range integers are returned
    as they are: the env treats them as invalid actions.
    """
    if isinstance(action, (bool, np.bool_)):
        raise TypeError(f"action must be an integer token id in 0..{TARGET_VOCAB_SIZE - 1}, "
                        f"got the bool {action!r}")
    try:
        return operator.index(action)
    except TypeError:
        pass
    array = np.asarray(action.detach().cpu() if isinstance(action, torch.Tensor) else action)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"action must be an integer token id in 0..{TARGET_VOCAB_SIZE - 1} (an "
                        f"int, a numpy integer or a one-element integer array), got {action!r} "
                        f"of type {type(action).__name__}")
    if array.size != 1:
        raise ValueError(f"action must be one token id, got an integer array of shape "
                         f"{array.shape}")
    return int(array.reshape(()))


class CompileEnv(gym.Env[dict[str, np.ndarray], int]):
    """
    ## Description

    Compile one kiln function (a Python subset on int32) to kiln's stack bytecode, one
    instruction per step. The agent sees the function's canonical source tokens and emits
    target tokens; the episode ends at ``eos``, when the program is run against the oracle
    (the traditional compiler's code) on freshly drawn test inputs. Correct programs are
    rewarded, and more so when they take fewer cycles than the oracle's under the ISA's cost
    model.

    ## Action Space

    ``Discrete(265)``: a token of ``compilers.vocab``: ``eos`` (0), ``const k`` for
    ``k`` in -16..16, ``lit k`` (push the source's k-th literal value), ``get/set/tee s``,
    ``br/br_if d`` and the operand-free opcodes. ``action_masks()`` (the sb3-contrib
    ``MaskablePPO`` protocol) and ``info["action_mask"]`` give the tokens that keep the
    program valid *and* finishable within ``max_len`` tokens, so every masked episode ends in
    a valid program, by ``eos``.

    Actions are integer scalars (``int``, numpy integers, one-element integer arrays or
    tensors). An integer the mask forbids, in range or not, is an *invalid action*: the
    episode terminates with reward ``invalid_action_penalty`` and outcome ``invalid_action``,
    and the program is left as it was. Anything that is not an integer raises ``TypeError``
    and an integer array of several elements ``ValueError``; the episode is unchanged.

    ## Observation Space

    A ``Dict`` of int32 ``Box``es (S = ``max_source_len``, L = ``max_len``):

    | Key        | Shape  | Min     | Max     | Meaning                                      |
    |------------|--------|---------|---------|----------------------------------------------|
    | `source`   | `(S,)` | 0       | 159     | canonical source tokens, then PAD (0)        |
    | `lits`     | `(64,)`| INT_MIN | INT_MAX | the literal values ``lit k`` pushes, then 0  |
    | `nlits`    | `(1,)` | 0       | 64      | how many literals there are                  |
    | `nparams`  | `(1,)` | 0       | 6       | parameters (locals 0..nparams-1 on entry)    |
    | `target`   | `(L,)` | 0       | 264     | target tokens emitted so far, then 0         |
    | `length`   | `(1,)` | 0       | L       | how many target tokens were emitted          |
    | `height`   | `(1,)` | 0       | 64      | the validator's operand stack height         |
    | `nest`     | `(1,)` | 0       | 32      | open blocks                                  |
    | `top_kind` | `(1,)` | -1      | 3       | innermost block: block 0, loop 1, if 2, else |
    |            |        |         |         | 3; none -1                                   |

    ## Rewards

    0 on every step but the last. On ``eos`` the program and the oracle run on
    ``num_tests`` inputs (edge cases 0, ±1, INT_MIN, INT_MAX and powers of two, then random
    values; redrawn every episode) under ``fuel``, the evaluation protocol of
    ``kiln.compilers.evaluation``; a test passes when both finish and return the same value.
    With ``speedup`` = oracle cycles / program cycles over all tests (computed only when every
    run finished, else 0):

    - the oracle runs out of fuel on a test (``no_answer``): 0, whatever the program (the
      program source leaves out programs whose oracle runs out of fuel on a fixed probe of
      the tests, so this is rare; a program named in ``options`` can meet it);
    - all tests pass (outcome ``correct``): ``correct_reward + speed_weight *
      (min(speedup, max_speedup) - 1)``; replaying the oracle's code earns ``correct_reward``;
    - the program runs out of fuel on a test (``out_of_fuel``): ``fuel_penalty``;
    - otherwise (``wrong``): ``wrong_penalty + partial_credit * pass_fraction``;
    - an invalid action (``invalid_action``): ``invalid_action_penalty``.

    Defaults (``EnvParams``): 1, 1, 4, -1, -1, 0.5, -1. ``info`` carries ``outcome`` (an
    ``envs.reward.Outcome`` code: an int, ``OUTCOMES[code]`` its name), ``pass_fraction``,
    ``candidate_cost`` and ``oracle_cost`` (mean cycles per test), ``speedup``, ``program``
    (a name) and ``program_index`` on every step (zeros while the episode runs), and
    ``action_mask``.

    ## Starting State

    An empty program for a function drawn from the program source: the suite, or a pool of
    ``pool_size`` programs of the random generator (its indices 0..pool_size-1 at
    ``pool_seed``). The program and the tests are counter-based draws of (key, episode): the
    key is the last reset seed, the episode counts resets since then. Vector env lane ``i``
    reset with seed ``s`` draws as this env reset with seed ``s + i``.

    ## Episode End

    1. Termination: ``eos`` (the program is verified and scored), or an invalid action.
    2. Truncation: by ``gymnasium.make``'s ``TimeLimit`` at ``max_episode_steps`` (registered
       as 128, the default ``max_len``). The mask reserves room to finish, so a masked agent
       always terminates within ``max_len`` steps. An episode that takes exactly
       ``max_episode_steps`` steps ends with ``terminated=True`` *and* ``truncated=True``
       (``TimeLimit`` flags every episode that reaches the limit): the program was still
       verified and scored, so treat ``terminated`` as final (no bootstrapping) whenever it is
       set. Only a limit below ``max_len`` cuts episodes short.

    Stepping an ended episode raises ``RuntimeError``: call ``reset``.

    ## Arguments

    | Argument      | Default       | Meaning                                           |
    |---------------|---------------|---------------------------------------------------|
    | `params`      | `EnvParams()` | limits and reward weights                         |
    | `source`      | `"generator"` | `"generator"` or `"suite"`                        |
    | `generator`   | see below     | the generator's knobs (a `GenConfig`)             |
    | `pool_size`   | `4096`        | generated programs to draw from                   |
    | `pool_seed`   | `0`           | the generator's seed for the pool                 |
    | `suite`       | all           | names of the suite programs to draw from          |
    | `render_mode` | `None`        | `"ansi"`: ``render()`` returns source and target  |
    | `check`       | by tests      | how a finished program is compared with the oracle|
    |               |               | (a ``reward.CandidateCheck``)                     |

    The default generator config is ``programs.DEFAULT_GENERATOR``: a few statements, shallow
    nesting and short expressions, so sources fit 192 tokens and the oracle's code almost
    always fits ``max_len``.

    ``reset(options=...)`` takes ``"source"`` (switches the source from this reset on) and
    ``"program"`` (a suite name or kiln source text: this episode compiles exactly it).

    ```python
    >>> import gymnasium as gym
    >>> import kiln.envs
    >>> env = gym.make("kiln/Compile-v0", source="suite")
    >>> obs, info = env.reset(seed=0, options={"program": "sign"})
    >>> info["program"], int(obs["nparams"][0]), int(info["action_mask"].sum())
    ('sign', 1, 69)
    >>> from kiln.compilers.vocab import encode
    >>> program = env.unwrapped.state.task
    >>> for token in encode(program.oracle, program.lits):
    ...     obs, reward, terminated, truncated, info = env.step(token)
    >>> terminated, info["outcome"].name, reward
    (True, 'CORRECT', 1.0)

    ```
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, params: EnvParams | None = None, *, source: str = "generator",
                 generator: Any = None, pool_size: int = 4096, pool_seed: int = 0,
                 suite: Sequence[str] | None = None, render_mode: str | None = None,
                 check: CandidateCheck = check_by_tests):
        self.params = check_params(params)
        self.check = check
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of "
                             f"{self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.sources = programs.ProgramSources(generator, pool_size, pool_seed, suite)
        self.source = programs.check_source(source)
        self.observation_space = observation_space(self.params)
        self.action_space = spaces.Discrete(TARGET_VOCAB_SIZE)
        self.state: CompileState | None = None
        self._verdict: Score | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        if options is not None and not isinstance(options, dict):
            raise TypeError(f"options must be a dict or None, got {type(options).__name__}")
        options = dict(options or {})
        unknown = sorted(set(options) - {"source", "program"})
        if unknown:
            raise ValueError(f"unknown reset options {unknown}; accepted: 'source', 'program'")
        if "source" in options:
            self.source = programs.check_source(options["source"])
        if seed is not None:
            key, episode = seed, 0
        elif self.state is None:
            key, episode = int(self.np_random.integers(2**63)), 0
        else:
            key, episode = self.state.key, self.state.episode + 1
        if "program" in options:
            task, index = self.sources.named(options["program"], self.params.oracle_opt,
                                              self.params.max_source_len), -1
        else:
            key_lo, key_hi = hashing.split_key(key, 1)
            pick = hashing.draw(key_lo, key_hi, torch.tensor([episode]), hashing.PROGRAM)
            p = self.params
            answered = self.sources.answered(self.source, p.oracle_opt, p.max_source_len,
                                             programs.MAX_ORACLE_CODE, p.fuel, p.num_tests)
            index = int(answered[int(pick[0]) % len(answered)])
            task = self.sources.get(self.source).task(index, p.oracle_opt, p.max_source_len)
        self.state = reset_env(key, episode, task, index)
        self._verdict = None
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool,
                                         dict[str, Any]]:
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        if self.state.outcome != RUNNING:
            raise RuntimeError(f"the episode has ended (outcome "
                               f"{OUTCOMES[self.state.outcome]}): call reset()")
        self.state, reward, self._verdict = step_env(self.state, token_id(action), self.params,
                                                     self.check)
        terminated = self.state.outcome != RUNNING
        return self._observation(), reward, terminated, False, self._info()

    def action_masks(self) -> np.ndarray:
        """Boolean ``[265]``: the tokens allowed next (all False before reset and after the end)."""
        if self.state is None:
            return np.zeros(TARGET_VOCAB_SIZE, dtype=bool)
        return self.state.action_mask(self.params)

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self.state is None:
            return None
        s = self.state
        target = " ".join(vocab.target_token_name(t) for t in s.tokens) or "(none)"
        return (f"{s.task.name}: {OUTCOMES[s.outcome]}, {len(s.tokens)}/{self.params.max_len} "
                f"tokens\n{s.task.source.rstrip()}\n--\n{target}\n")

    def _observation(self) -> dict[str, np.ndarray]:
        s, p = self.state, self.params
        source = np.zeros(p.max_source_len, dtype=np.int32)
        source[:len(s.task.tokens)] = s.task.tokens
        lits = np.zeros(NUM_LITS, dtype=np.int32)
        lits[:len(s.task.lits)] = s.task.lits
        target = np.zeros(p.max_len, dtype=np.int32)
        target[:len(s.tokens)] = s.tokens

        def scalar(x: int) -> np.ndarray:
            return np.array([x], dtype=np.int32)

        return {"source": source, "lits": lits, "nlits": scalar(len(s.task.lits)),
                "nparams": scalar(s.task.nparams), "target": target,
                "length": scalar(len(s.tokens)), "height": scalar(s.height),
                "nest": scalar(len(s.kinds)), "top_kind": scalar(s.top_kind)}

    def _info(self) -> dict[str, Any]:
        s, v = self.state, self._verdict
        info: dict[str, Any] = {"action_mask": s.action_mask(self.params),
                                "outcome": Outcome(s.outcome), "program": s.task.name,
                                "program_index": s.program_index}
        for name in ("pass_fraction", "candidate_cost", "oracle_cost", "speedup"):
            info[name] = float(getattr(v, name)[0]) if v is not None else 0.0
        return info
