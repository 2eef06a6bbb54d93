def count_bits_loop(x):
    """Number of set bits, clearing the lowest one each turn (Kernighan)."""
    n = 0
    while x != 0:
        x &= x - 1
        n += 1
    return n
