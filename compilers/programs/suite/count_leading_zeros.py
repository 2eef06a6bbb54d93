def count_leading_zeros(x):
    """Zero bits above the highest set bit, by binary search; 32 for zero."""
    if x == 0:
        return 32
    n = 0
    if lshr(x, 16) == 0:
        n += 16
        x <<= 16
    if lshr(x, 24) == 0:
        n += 8
        x <<= 8
    if lshr(x, 28) == 0:
        n += 4
        x <<= 4
    if lshr(x, 30) == 0:
        n += 2
        x <<= 2
    if lshr(x, 31) == 0:
        n += 1
    return n
