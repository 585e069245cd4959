def is_balanced(n):
    