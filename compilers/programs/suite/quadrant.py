def quadrant(x, y):
    """Quadrant 1..4 of a point, 0 on an axis."""
    if x == 0 or y == 0:
        return 0
    if x > 0:
        return 1 if y > 0 else 4
    return 2 if y > 0 else 3
