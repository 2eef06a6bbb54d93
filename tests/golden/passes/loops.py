def loops(n, m):
    t = 0
    for i in range(n, 0, -3):
        for j in range(m):
            if j == i:
                continue
            t ^= i * j
    return t
