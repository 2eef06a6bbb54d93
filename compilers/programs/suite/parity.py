def parity(x):
    """1 if x has an odd number of set bits, else 0."""
    x ^= lshr(x, 16)
    x ^= lshr(x, 8)
    x ^= lshr(x, 4)
    x ^= lshr(x, 2)
    x ^= lshr(x, 1)
    return x & 1
