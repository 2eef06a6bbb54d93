def gcd(a, b):
    """Greatest common divisor (Euclid)."""
    while b != 0:
        a, b = b, a % b
    return abs(a)
