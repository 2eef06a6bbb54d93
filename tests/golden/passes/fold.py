def fold(a):
    x = (3 + 4) * a
    y = -5 // 2
    z = 1 < 2 < 3
    w = a + (2 << 1 if False else 7 - 7)
    return x + y + z + w
