def nested_pairs(n, k):
    """Pairs i < j below n (clamped to 0..30) whose sum is a multiple of k (k of 0: 1)."""
    n = min(max(n, 0), 30)
    if k == 0:
        k = 1
    count = 0
    for i in range(n):
        for j in range(i + 1, n):
            if (i + j) % k == 0:
                count += 1
    return count
