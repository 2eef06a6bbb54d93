def count_digits(n):
    """Number of decimal digits of n (1 for zero)."""
    n = abs(n)
    count = 1
    while ugt(n, 9):
        n = udiv(n, 10)
        count += 1
    return count
