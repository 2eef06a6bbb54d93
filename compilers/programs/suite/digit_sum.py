def digit_sum(n):
    """Sum of the decimal digits of |n|; unsigned division handles INT_MIN."""
    n = abs(n)
    s = 0
    while n != 0:
        s += urem(n, 10)
        n = udiv(n, 10)
    return s
