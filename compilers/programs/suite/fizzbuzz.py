def fizzbuzz(n):
    """3 for multiples of 15, 2 for 5, 1 for 3, else 0."""
    if n % 15 == 0:
        return 3
    elif n % 5 == 0:
        return 2
    elif n % 3 == 0:
        return 1
    else:
        return 0
