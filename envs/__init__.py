"""kiln.envs: Gymnasium environments for compiling kiln programs.

Importing this package registers ``kiln/Compile-v0`` (``compile_env.CompileEnv``; its vector
entry point is ``vector_env.CompileVectorEnv``). Entry points are strings, so the envs' modules
(and torch) load only when an env is made.
"""
from gymnasium.envs.registration import register

register(
    id="kiln/Compile-v0",
    entry_point="kiln.envs.compile_env:CompileEnv",
    vector_entry_point="kiln.envs.vector_env:CompileVectorEnv",
    max_episode_steps=128,
    reward_threshold=1.0,
)
