"""kiln's benchmarks (``kiln bench``)."""
