def abs_diff(a, b):
    """|a - b| computed as the difference of the larger and the smaller."""
    if a > b:
        return a - b
    return b - a
