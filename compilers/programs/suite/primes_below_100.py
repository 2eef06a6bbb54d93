def primes_below_100():
    """Sum of the primes below 100, by nested loops with break."""
    total = 0
    for n in range(2, 100):
        prime = 1
        for d in range(2, n):
            if d * d > n:
                break
            if n % d == 0:
                prime = 0
                break
        if prime:
            total += n
    return total
