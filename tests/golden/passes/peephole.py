def peephole(a, b):
    x = a * b
    y = x + 1
    if not (a < b):
        y = 0
    while not not a:
        a = a - 1
    return y if x != y else -y
