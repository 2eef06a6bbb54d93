def xorshift(x, rounds):
    """Marsaglia's xorshift32 applied rounds times (clamped to 0..64)."""
    rounds = min(max(rounds, 0), 64)
    for _ in range(rounds):
        x ^= x << 13
        x ^= lshr(x, 17)
        x ^= x << 5
    return x
