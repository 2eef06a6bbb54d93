def median_of_three(a, b, c):
    """The middle value of three."""
    return max(min(a, b), min(max(a, b), c))
