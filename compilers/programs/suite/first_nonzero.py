def first_nonzero(a, b, c):
    """The first nonzero argument, else 0 (Python's `or` on values)."""
    return a or b or c
