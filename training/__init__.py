"""kiln.training: training and evaluation runs of the learned compilers."""
