def rotate_left(x, n):
    """Rotate x left by n mod 32 bits."""
    n &= 31
    return (x << n) | lshr(x, 32 - n)
