def triangular(n):
    """1 + 2 + ... + n by a while loop (n clamped to 0..1000)."""
    n = min(max(n, 0), 1000)
    total = 0
    i = 1
    while i <= n:
        total += i
        i += 1
    return total
