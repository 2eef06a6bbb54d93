def unreachable(n):
    s = 0
    for i in range(n):
        if i > 5:
            break
            s = s + 100
        s += i
        continue
        s = -1
    if 1:
        return s
    return 99
