def grade(score):
    """Letter bucket of a 0..100 score: 4 (A) down to 0 (F); -1 if out of range."""
    if score < 0 or score > 100:
        return -1
    if score >= 90:
        g = 4
    elif score >= 80:
        g = 3
    elif score >= 70:
        g = 2
    elif score >= 60:
        g = 1
    else:
        g = 0
    return g
