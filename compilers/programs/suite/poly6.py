def poly6(x, a, b, c, d, e):
    """a*x**4 + b*x**3 + c*x**2 + d*x + e by Horner's rule (wrapping)."""
    return (((a * x + b) * x + c) * x + d) * x + e
