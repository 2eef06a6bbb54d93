def gray_decode(g):
    """Inverse of the Gray code: prefix xor of the bits, by doubling shifts."""
    x = g
    shift = 1
    while shift < 32:
        x ^= lshr(x, shift)
        shift <<= 1
    return x
