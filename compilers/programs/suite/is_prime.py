def is_prime(n):
    """1 if n is prime, by trial division; -1 above the bound of one million."""
    if n > 1000000:
        return -1
    if n < 2:
        return 0
    if n < 4:
        return 1
    if n % 2 == 0:
        return 0
    d = 3
    while d * d <= n:
        if n % d == 0:
            return 0
        d += 2
    return 1
