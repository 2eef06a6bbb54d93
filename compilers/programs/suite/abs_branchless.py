def abs_branchless(x):
    """Absolute value without a branch (INT_MIN stays INT_MIN)."""
    mask = x >> 31
    return (x ^ mask) - mask
