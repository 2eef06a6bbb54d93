def binomial(n, k):
    """n choose k for n clamped to 0..28; 0 when k is out of range."""
    n = min(max(n, 0), 28)
    if k < 0 or k > n:
        return 0
    k = min(k, n - k)
    r = 1
    for i in range(k):
        r = r * (n - i) // (i + 1)
    return r
