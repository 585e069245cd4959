"""The store's writer thread: batched transactions on a real SQLite file, each write
whole or absent, answers only after the commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from repair_tui.core.datasets.task import Task
from repair_tui.core.store.records import NewCall, NewNode, RunConfig, call_key, program_key
from repair_tui.core.store.store import Store
from repair_tui.core.store.writer import StoreWriter

T = "HumanEval/7"


def new_run(store: Store) -> int:
    run = store.create_run("r", RunConfig(dataset="humaneval", model="sim"), isolation="",
                           simulated=True)
    store.add_tasks(run.id, [Task(id=T, source="humaneval", spec="def f(): ...", tests={})])
    return run.id


def call(i: int) -> NewCall:
    return NewCall(task_id=T, key=call_key(T, "generate", None, i), role="generate", model="sim")


def program(i: int, parent: str | None = None) -> NewNode:
    return NewNode(task_id=T, key=program_key(T, i), kind="program", text=f"raw {i}",
                   code=f"code {i}", tokens=3, sample_index=i, model="sim", parent_key=parent)


def test_in_memory_databases_get_no_writer() -> None:
    assert StoreWriter.for_store(Store.open(":memory:")) is None


async def test_writes_queued_together_commit_together_and_a_bad_one_alone_fails(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.db"
    store = Store.open(path)
    run_id = new_run(store)
    writer = StoreWriter.for_store(store)
    assert writer is not None
    try:
        good = [writer.write("add_call", run_id, call(i), [program(i)]) for i in (0, 1, 2)]
        # A repair whose parent is not stored: its call and node must both be absent.
        bad = writer.write("add_call", run_id, call(9), [program(9, parent="nowhere")])
        results = await asyncio.gather(*good, bad, return_exceptions=True)
        assert isinstance(results[3], ValueError) and "not stored" in str(results[3])
        stored = [nodes[0] for _, nodes in results[:3]]  # type: ignore[misc]
        assert [n.key for n in stored] == [program_key(T, i) for i in (0, 1, 2)]
        # Answered after the commit: another connection already sees them.
        with Store.open(path) as other:
            assert other.get_node(stored[2].id).key == program_key(T, 2)
            assert other.get_call_by_key(run_id, call(9).key) is None
            assert other.get_node_by_key(run_id, program_key(T, 9)) is None
        assert writer.stats.writes == 4 and writer.stats.transactions <= 4
    finally:
        writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        await writer.write("add_call", run_id, call(5))
    store.close()


async def test_closing_commits_what_is_queued(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "w.db")
    run_id = new_run(store)
    writer = StoreWriter(tmp_path / "w.db", batch=2)
    pending = [asyncio.ensure_future(writer.write("add_call", run_id, call(i), [program(i)]))
               for i in range(5)]
    await asyncio.sleep(0)  # queued
    await asyncio.to_thread(writer.close)
    await asyncio.gather(*pending)
    assert len(store.nodes_by_key(run_id)) == 5
    assert writer.stats.transactions >= 3  # at most 2 writes per transaction
    store.close()


async def test_writes_that_come_in_together_wait_for_each_other_and_lone_ones_never_wait(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "w.db")
    run_id = new_run(store)
    # A linger far longer than the test may take: only a full batch ends it.
    writer = StoreWriter(tmp_path / "w.db", batch=3, linger=3600.0)
    try:
        # One at a time, as the app's single steps or a run at concurrency 1 write: no
        # write waits for company (a wait would hit the 60 s bound, not the hour).
        for i in range(3):
            await asyncio.wait_for(writer.write("add_call", run_id, call(i), [program(i)]), 60)
        assert writer.stats.transactions == 3
        # Two queued at once usually share a transaction (the writer may take the first
        # before the second is queued: then try again). From then on writes come in
        # together, so a write waits for two more to fill its batch of three.
        i = 3
        while writer.stats.writes == writer.stats.transactions:
            assert i < 200, "two writes queued together never shared a transaction"
            await asyncio.gather(*(writer.write("add_call", run_id, call(j), [program(j)])
                                   for j in (i, i + 1)))
            i += 2
        before = writer.stats.transactions
        first = asyncio.ensure_future(writer.write("add_call", run_id, call(i), [program(i)]))
        await asyncio.sleep(0)
        rest = [writer.write("add_call", run_id, call(j), [program(j)]) for j in (i + 1, i + 2)]
        await asyncio.wait_for(asyncio.gather(first, *rest), 60)
        assert writer.stats.transactions == before + 1
        assert len(store.nodes_by_key(run_id)) == i + 3
    finally:
        await asyncio.to_thread(writer.close)
        store.close()
