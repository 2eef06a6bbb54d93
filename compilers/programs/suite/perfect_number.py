def perfect_number(n):
    """1 if n (1..100000) equals the sum of its proper divisors, else 0."""
    if n < 2 or n > 100000:
        return 0
    total = 1
    d = 2
    while d * d <= n:
        if n % d == 0:
            total += d
            if d * d != n:
                total += n // d
        d += 1
    return total == n
