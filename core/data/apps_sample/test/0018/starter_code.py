from typing import List


class Solution:
    def maxSumOneSkip(self, arr: List[int]) -> int:
        