def fibonacci(n):
    """The n-th Fibonacci number (n clamped to 0..200, wrapping)."""
    n = min(max(n, 0), 200)
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
