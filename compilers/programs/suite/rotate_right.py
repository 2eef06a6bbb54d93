def rotate_right(x, n):
    """Rotate x right by n mod 32 bits."""
    n = n & 31
    if n == 0:
        return x
    return lshr(x, n) | (x << (32 - n))
