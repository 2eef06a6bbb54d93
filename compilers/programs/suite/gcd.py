def gcd(a, b):
    """Greatest common divisor by Euclid's algorithm."""
    a = abs(a)
    b = abs(b)
    while b != 0:
        a, b = b, a % b
    return a
