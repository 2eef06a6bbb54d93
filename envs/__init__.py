"""kiln.envs: Gymnasium environments for compiling kiln programs."""
