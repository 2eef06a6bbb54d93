def popcount(x):
    """Number of set bits, counted in parallel (SWAR)."""
    x = x - (lshr(x, 1) & 0x55555555)
    x = (x & 0x33333333) + (lshr(x, 2) & 0x33333333)
    x = (x + lshr(x, 4)) & 0x0F0F0F0F
    return lshr(x * 0x01010101, 24)
