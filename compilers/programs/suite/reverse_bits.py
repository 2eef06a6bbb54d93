def reverse_bits(x):
    """The 32 bits of x in reverse order."""
    r = 0
    for i in range(32):
        r = (r << 1) | (x & 1)
        x = lshr(x, 1)
    return r
