def max_of_three(a, b, c):
    """The largest of three, with branches only."""
    m = a
    if b > m:
        m = b
    if c > m:
        m = c
    return m
