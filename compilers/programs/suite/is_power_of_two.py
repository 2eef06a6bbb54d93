def is_power_of_two(x):
    """1 if x is a positive power of two."""
    return x > 0 and (x & (x - 1)) == 0
