def log2_floor(x):
    """Index of the highest set bit of a positive x; -1 otherwise."""
    if x <= 0:
        return -1
    n = 0
    while x > 1:
        x >>= 1
        n += 1
    return n
