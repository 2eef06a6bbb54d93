def digital_root(n):
    """Repeated digit sum of |n| down to one digit."""
    n = abs(n)
    while ugt(n, 9):
        s = 0
        while n != 0:
            s += urem(n, 10)
            n = udiv(n, 10)
        n = s
    return n
