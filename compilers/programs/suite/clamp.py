def clamp(x, lo, hi):
    """x limited to [lo, hi] (the bounds swapped if out of order)."""
    if lo > hi:
        lo, hi = hi, lo
    return min(max(x, lo), hi)
