from typing import List


class Solution:
    def secondLargest(self, nums: List[int]) -> int:
        