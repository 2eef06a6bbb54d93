def sum_skip_sevens(n):
    """Sum of the odd numbers below n (0..1000) that are not multiples of 7."""
    n = min(max(n, 0), 1000)
    total = 0
    for i in range(1, n, 2):
        if i % 7 == 0:
            continue
        total += i
    return total
