def reverse_digits(n):
    """The decimal digits of n reversed, keeping the sign (wraps on overflow)."""
    negative = n < 0
    n = abs(n)
    r = 0
    while n != 0:
        r = r * 10 + urem(n, 10)
        n = udiv(n, 10)
    return -r if negative else r
