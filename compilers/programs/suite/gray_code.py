def gray_code(x):
    """Binary-reflected Gray code of x."""
    return x ^ lshr(x, 1)
