def first_square_above(n):
    """The smallest k >= 0 with k * k > n, for n clamped to at most 1000000."""
    n = min(n, 1000000)
    k = 0
    while True:
        if k * k > n:
            break
        k += 1
    return k
