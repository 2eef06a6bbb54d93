def sum_of_squares(n):
    """1*1 + 2*2 + ... + n*n (n clamped to 0..1000)."""
    n = min(max(n, 0), 1000)
    s = 0
    for i in range(1, n + 1):
        s += i * i
    return s
