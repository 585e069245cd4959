"""The call pool bounds concurrency and serves lower priorities first."""

from __future__ import annotations

import asyncio

import pytest
from repair_tui.core.engine.pool import PriorityPool


async def test_never_more_than_size_in_flight() -> None:
    pool = PriorityPool(3)
    active = 0
    peak = 0

    async def job() -> None:
        nonlocal active, peak
        async with pool.slot():
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.001)
            active -= 1

    await asyncio.gather(*(job() for _ in range(50)))
    assert peak == 3
    assert pool.in_use == 0


async def test_waiters_are_served_by_priority_then_arrival() -> None:
    pool = PriorityPool(1)
    order: list[str] = []
    await pool.acquire()

    async def job(name: str, priority: int) -> None:
        async with pool.slot(priority):
            order.append(name)

    tasks = [
        asyncio.create_task(job("late-task", 5)),
        asyncio.create_task(job("first-task-a", 0)),
        asyncio.create_task(job("mid-task", 2)),
        asyncio.create_task(job("first-task-b", 0)),
    ]
    await asyncio.sleep(0)
    pool.release()
    await asyncio.gather(*tasks)
    assert order == ["first-task-a", "first-task-b", "mid-task", "late-task"]


async def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    pool = PriorityPool(1)
    await pool.acquire()
    waiter = asyncio.create_task(pool.acquire(1))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    pool.release()
    assert pool.in_use == 0
    await asyncio.wait_for(pool.acquire(), timeout=1)
    assert pool.in_use == 1


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        PriorityPool(0)
