def next_palindrome(n):
    