def count_divisors(n):
    """Number of positive divisors of n for 1 <= n <= 10000; 0 otherwise."""
    if n < 1 or n > 10000:
        return 0
    count = 0
    i = 1
    while i * i <= n:
        if n % i == 0:
            count += 1 if i * i == n else 2
        i += 1
    return count
