def count_trailing_zeros(x):
    """Zero bits below the lowest set bit; 32 for zero."""
    if x == 0:
        return 32
    n = 0
    while (x & 1) == 0:
        x >>= 1
        n += 1
    return n
