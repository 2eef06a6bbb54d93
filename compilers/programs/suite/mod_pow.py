def mod_pow(base, exp, m):
    """base ** exp mod m, with m clamped to at most 46340 so products fit; 0 if m < 1."""
    if m < 1 or exp < 0:
        return 0
    m = min(m, 46340)
    base %= m
    result = 1 % m
    while exp:
        if exp & 1:
            result = result * base % m
        base = base * base % m
        exp >>= 1
    return result
