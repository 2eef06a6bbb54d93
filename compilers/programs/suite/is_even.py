def is_even(x):
    """1 if x is even."""
    return not (x & 1)
