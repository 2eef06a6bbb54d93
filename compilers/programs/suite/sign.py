def sign(x):
    """-1, 0 or 1, from two comparisons."""
    return (x > 0) - (x < 0)
