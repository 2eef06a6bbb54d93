def isqrt(n):
    """Integer square root by binary search; 0 for n <= 0."""
    if n <= 0:
        return 0
    lo = 0
    hi = 46341
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mid * mid <= n:
            lo = mid
        else:
            hi = mid
    return lo
