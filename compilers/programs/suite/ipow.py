def ipow(base, exp):
    """base ** exp modulo 2**32 by squaring; 0 for a negative exponent."""
    if exp < 0:
        return 0
    result = 1
    while exp > 0:
        if exp & 1:
            result *= base
        base *= base
        exp >>= 1
    return result
