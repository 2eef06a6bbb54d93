"""kiln.agents: policies that emit target code."""
