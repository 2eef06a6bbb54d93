def sum_multiples_3_or_5(n):
    """Sum of the multiples of 3 or 5 below n (n clamped to 0..1000)."""
    n = min(max(n, 0), 1000)
    total = 0
    for i in range(n):
        if i % 3 == 0 or i % 5 == 0:
            total += i
    return total
