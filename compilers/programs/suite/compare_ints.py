def compare_ints(a, b):
    """-1, 0 or 1 as a compares to b, with nested conditional expressions."""
    return -1 if a < b else 1 if a > b else 0
