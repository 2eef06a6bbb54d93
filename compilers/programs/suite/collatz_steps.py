def collatz_steps(n):
    """Steps of the Collatz map from n to 1, at most 1000; -1 for n <= 0."""
    if n <= 0:
        return -1
    steps = 0
    while n != 1 and steps < 1000:
        if n % 2 == 0:
            n //= 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps
