def triangle_type(a, b, c):
    """0 not a triangle, 1 equilateral, 2 isosceles, 3 scalene."""
    if a > b:
        a, b = b, a
    if b > c:
        b, c = c, b
    if a > b:
        a, b = b, a
    if a <= 0 or a <= c - b:
        return 0
    if a == c:
        return 1
    if a == b or b == c:
        return 2
    return 3
