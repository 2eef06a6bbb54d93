def average(a, b):
    """floor((a + b) / 2) without overflow."""
    return (a & b) + ((a ^ b) >> 1)
