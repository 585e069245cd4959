def vowel_bookends(words):
    