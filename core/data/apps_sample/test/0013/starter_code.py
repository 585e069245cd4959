from typing import List


class Solution:
    def mergeBookings(self, intervals: List[List[int]]) -> List[List[int]]:
        