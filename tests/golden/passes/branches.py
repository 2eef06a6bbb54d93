def branches(a, b):
    if 0:
        a = 1
    else:
        b = 2
    if 1 + 1:
        a = a + 1
    while True:
        a += 1
        if a > b:
            break
    while 0:
        a = 9
    return a
