def lcm(a, b):
    """Least common multiple of |a| and |b| (wraps when it does not fit)."""
    a = abs(a)
    b = abs(b)
    if a == 0 or b == 0:
        return 0
    x, y = a, b
    while y:
        x, y = y, x % y
    return a // x * b
