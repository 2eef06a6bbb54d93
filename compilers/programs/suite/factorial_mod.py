def factorial_mod(n, m):
    """n! mod m for n clamped to 0..1000 and m to 2..1000003; 0 when m < 2."""
    if m < 2:
        return 0
    m = min(m, 1000003)
    n = min(max(n, 0), 1000)
    r = 1 % m
    for i in range(2, n + 1):
        r = r * i % m
    return r
