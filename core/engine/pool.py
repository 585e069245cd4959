"""A bounded pool for model calls that serves the oldest task's work first.

All calls of a run share one pool. Waiters are served by priority (the task's
position in the run, then arrival), so once a task's programs come back its repair
calls overtake the generation calls of later tasks: tasks finish in order, progress
is steady, and the pool stays full.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class PriorityPool:
    """An asyncio semaphore of `size` slots whose waiters are ordered by priority."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self.size = size
        self._free = size
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrival = itertools.count()

    @property
    def in_use(self) -> int:
        return self.size - self._free

    async def acquire(self, priority: int = 0) -> None:
        """Wait for a slot; lower `priority` values are served first."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._arrival), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # the slot was handed to us just as we were cancelled
            raise

    def release(self) -> None:
        """Give a slot back, handing it straight to the best waiter if any."""
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)
                return
        self._free += 1

    @asynccontextmanager
    async def slot(self, priority: int = 0) -> AsyncIterator[None]:
        """``async with pool.slot(priority):`` holds one slot for the block."""
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()
