def longest_distinct(s):
    