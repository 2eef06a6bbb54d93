"""``SB3VecEnv``: the vector env behind Stable-Baselines3's ``VecEnv`` contract.

SB3 speaks numpy and lists of per-env dicts, so this adapter is the one place where the
vector env's tensors come to the host: once per ``step_wait``, whatever the device. It follows
SB3's conventions: ``dones = terminated | truncated``; a lane that finished reports its last
observation in ``infos[i]["terminal_observation"]`` and ``infos[i]["TimeLimit.truncated"]``
(truncated and not terminated), and the returned observation already starts its next episode
(the vector env resets lanes in the same step). ``env_method("action_masks")`` returns one mask
per lane, so sb3-contrib's ``get_action_masks`` and ``MaskablePPO`` work unchanged::

    from sb3_contrib import MaskablePPO
    env = SB3VecEnv(CompileVectorEnv(64, source="suite"))
    MaskablePPO("MultiInputPolicy", env).learn(10_000)

Episode statistics (``ep_rew_mean``) come from SB3's ``VecMonitor`` wrapped around it.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices

from .vector_env import CompileVectorEnv
from .reward import Outcome

_VERDICT = ("pass_fraction", "candidate_cost", "oracle_cost", "speedup")


def _host(obs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {key: value.cpu().numpy() for key, value in obs.items()}


class SB3VecEnv(VecEnv):
    """A ``CompileVectorEnv`` as an SB3 ``VecEnv`` (numpy at the boundary).

    ``infos[i]`` holds ``outcome`` (an ``Outcome`` code, as the single env's), ``pass_fraction``, ``candidate_cost``,
    ``oracle_cost`` and ``speedup`` of the step, ``TimeLimit.truncated`` and, when lane ``i``
    finished, ``terminal_observation``. ``seed(s)`` makes the next ``reset`` give lane ``i`` the
    key ``s + i`` (as the vector env's ``reset(seed=s)``); ``set_options`` passes the first
    lane's options on (the lanes share one program source). Attributes and methods reach the
    vector env itself: ``get_attr``/``env_method`` return its value once per requested index,
    split per lane when it has a leading ``num_envs`` axis (``action_masks``).
    """

    def __init__(self, env: CompileVectorEnv):
        self.env = env
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: torch.Tensor | None = None

    def reset(self) -> dict[str, np.ndarray]:
        seed = self._seeds[0]
        options = self._options[0] or None
        obs, _ = self.env.reset(seed=seed, options=options)
        self._reset_seeds()
        self._reset_options()
        return _host(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = torch.as_tensor(np.asarray(actions).reshape(self.num_envs),
                                        device=self.env.device)

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict]]:
        if self._actions is None:
            raise RuntimeError("step_async() must come before step_wait()")
        obs, reward, terminated, truncated, info = self.env.step(self._actions)
        self._actions = None
        terminated, truncated = terminated.cpu().numpy(), truncated.cpu().numpy()
        dones = terminated | truncated
        outcome = info["outcome"].cpu().numpy()
        verdict = {name: info[name].cpu().numpy() for name in _VERDICT}
        infos: list[dict[str, Any]] = []
        for i in range(self.num_envs):
            lane = {"outcome": Outcome(int(outcome[i])),
                    "TimeLimit.truncated": bool(truncated[i] and not terminated[i])}
            lane.update((name, float(values[i])) for name, values in verdict.items())
            infos.append(lane)
        if dones.any():
            final = _host(info["final_obs"])
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = {key: value[i] for key, value in final.items()}
        return _host(obs), reward.cpu().numpy(), dones, infos

    def close(self) -> None:
        self.env.close()

    def _indices(self, indices: VecEnvIndices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return list(indices) if isinstance(indices, Iterable) else [indices]

    def _per_lane(self, value: Any, indices: VecEnvIndices) -> list[Any]:
        lanes = self._indices(indices)
        if isinstance(value, torch.Tensor):
            value = value.cpu().numpy()
        if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == self.num_envs:
            return [value[i] for i in lanes]
        return [value for _ in lanes]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return self._per_lane(getattr(self.env, attr_name), indices)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        result = getattr(self.env, method_name)(*method_args, **method_kwargs)
        return self._per_lane(result, indices)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper],
                       indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._indices(indices)]
