def isqrt_newton(n):
    """Integer square root by Newton's method; halving with lshr avoids overflow."""
    if n <= 0:
        return 0
    x = n
    y = lshr(x + 1, 1)
    while y < x:
        x = y
        y = lshr(x + n // x, 1)
    return x
