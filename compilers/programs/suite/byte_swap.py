def byte_swap(x):
    """Reverse the byte order of a 32-bit word."""
    return ((x & 0xFF) << 24) | ((x & 0xFF00) << 8) | (lshr(x, 8) & 0xFF00) | lshr(x, 24)
