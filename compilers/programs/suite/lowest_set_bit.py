def lowest_set_bit(x):
    """Isolate the lowest set bit."""
    return x & -x
