def smallest_divisor(n):
    """The smallest divisor d in 2..999 of n, else n itself."""
    for d in range(2, 1000):
        if n % d == 0:
            return d
    return n
