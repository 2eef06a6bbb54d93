def next_power_of_two(x):
    """The smallest power of two >= x (1 for x <= 1; wraps above 2**30)."""
    if x <= 1:
        return 1
    x -= 1
    x |= lshr(x, 1)
    x |= lshr(x, 2)
    x |= lshr(x, 4)
    x |= lshr(x, 8)
    x |= lshr(x, 16)
    return x + 1
