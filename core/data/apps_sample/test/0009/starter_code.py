from typing import List


class Solution:
    def fewestCoins(self, coins: List[int], amount: int) -> int:
        