def interleave_bits(x, y):
    """Morton code: the low 16 bits of x in the even bits, of y in the odd bits."""
    z = 0
    for i in range(16):
        z |= ((x >> i) & 1) << (2 * i)
        z |= ((y >> i) & 1) << (2 * i + 1)
    return z
