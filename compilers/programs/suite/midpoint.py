def midpoint(lo, hi):
    """The midpoint of two ints, rounded towards the smaller, without overflow."""
    if lo > hi:
        lo, hi = hi, lo
    return lo + lshr(hi - lo, 1)
