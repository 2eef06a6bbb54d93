"""kiln.training: benchmarks, training and evaluation."""
