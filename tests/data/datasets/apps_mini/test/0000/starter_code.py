def inc(n):
    