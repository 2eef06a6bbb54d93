def hash_mix(a, b, c):
    """FNV-1a hash of the twelve bytes of a, b and c."""
    h = 0x811C9DC5
    for i in range(3):
        x = a if i == 0 else b if i == 1 else c
        for _ in range(4):
            h ^= x & 0xFF
            h *= 16777619
            x = lshr(x, 8)
    return h
