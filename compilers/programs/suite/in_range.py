def in_range(x, lo, hi):
    """1 if lo <= x < hi, as one chained comparison."""
    return lo <= x < hi
