def sum_range(a, b):
    """Sum of a..b-1 with both bounds clamped to [-1000, 1000]."""
    a = min(max(a, -1000), 1000)
    b = min(max(b, -1000), 1000)
    s = 0
    for i in range(a, b):
        s += i
    return s
