def multiplication_table(n, m):
    """Sum of i * j over a table counted down from n and up by twos to m (both 0..20)."""
    n = min(max(n, 0), 20)
    m = min(max(m, 0), 20)
    total = 0
    for i in range(n, 0, -1):
        for j in range(0, m, 2):
            total += i * j
    return total
