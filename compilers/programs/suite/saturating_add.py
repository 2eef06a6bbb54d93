def saturating_add(a, b):
    """a + b, clamped to the int32 range instead of wrapping."""
    s = a + b
    if a > 0 and b > 0 and s < 0:
        return 2147483647
    if a < 0 and b < 0 and s >= 0:
        return -2147483648
    return s
