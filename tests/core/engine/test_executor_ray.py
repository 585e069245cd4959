"""The ray executor on one local Ray instance (shared by the session): the same run
gives the same trees and verdicts as with the local executor, no more programs are in
flight than the sandboxes' slots, and a dead actor's programs run again elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray")  # the ray extra is optional: without it, skip

from executor_support import comparable_export  # noqa: E402
from repair_tui.core.engine.executors import LocalExecutor  # noqa: E402
from repair_tui.core.engine.executors.cluster import RayExecutor  # noqa: E402
from repair_tui.core.engine.run import run_repair  # noqa: E402
from repair_tui.core.store.records import RunConfig  # noqa: E402
from repair_tui.core.store.store import Store  # noqa: E402
from repair_tui.sandbox.runner import Sandbox  # noqa: E402
from test_engine_support import HE_IDS  # noqa: E402

CONFIG = RunConfig(dataset="humaneval", model="sim", np=4, nfr=2, task_ids=HE_IDS, seed=3)
STDIO = {"style": "stdio", "cases": [{"input": "2\n", "output": "4\n"}]}


@pytest.fixture
def executor(ray_instance: Any) -> Iterator[RayExecutor]:
    """A ray executor with two slots on the session's one node."""
    with RayExecutor(workers_per_node=2, poll_seconds=0.2) as made:
        yield made


async def test_a_run_on_ray_stores_what_a_local_run_stores(tmp_path: Path, ray_instance: Any) -> None:
    with Store.open(tmp_path / "r.db") as store:
        with Sandbox(workers=4) as box:
            local = await run_repair(store, "local", CONFIG, executor=LocalExecutor(box))
        with RayExecutor() as on_ray:
            nodes = on_ray.nodes()
            remote = await run_repair(store, "ray", CONFIG, executor=on_ray)
        assert local.status == remote.status == "finished"
        assert comparable_export(store, "local") == comparable_export(store, "ray")
        # Not vacuous: programs both passed and failed, and repairs ran.
        programs = [n for n in store.iter_nodes(remote.id) if n.kind == "program"]
        assert {n.passed for n in programs} == {True, False} and any(n.depth for n in programs)
        # Each execution names the node that ran it and the isolation in force there.
        (node,) = nodes
        assert node["workers"] >= 16  # sized to the node's CPUs, as the local sandbox is
        for n in programs:
            assert n.exec_extra["ray_node"] == node["node"] and n.isolation == node["isolation"]
        assert remote.config.executor == "ray" and local.config.executor == "local"
        rows = {s.name: s.executor for s in store.list_runs()}
        assert rows == {"local": "local", "ray": "ray"}


async def test_no_more_programs_in_flight_than_slots(executor: RayExecutor) -> None:
    programs = [f"import time\ntime.sleep(0.05)\nprint(int(input()) * {k})" for k in (2, 3) * 6]
    verdicts = await asyncio.gather(*(executor.execute(p, STDIO) for p in programs))
    assert [v.passed for v in verdicts] == [True, False] * 6
    assert executor.slots == 2 and 1 <= executor.peak_in_flight <= 2
    assert executor.in_flight == 0


async def test_a_dead_actors_programs_run_again(executor: RayExecutor, ray_instance: Any) -> None:
    program = "import time\ntime.sleep(1)\nprint(int(input()) * 2)"
    jobs = [asyncio.create_task(executor.execute(program, STDIO)) for _ in range(5)]
    while executor.in_flight < 2:  # both slots busy: kill the actor under them
        await asyncio.sleep(0.02)
    (holder,) = executor._holders.values()
    ray_instance.kill(holder.actor, no_restart=True)
    verdicts = await asyncio.gather(*jobs)
    assert all(v.passed for v in verdicts) and len(verdicts) == 5
    assert executor.resent >= 2  # the two killed mid-program were sent again
    (replacement,) = executor._holders.values()
    assert replacement is not holder and executor.slots == 2


def test_run_many_keeps_the_order_and_the_local_verdicts(executor: RayExecutor) -> None:
    items = [(f"print(int(input()) * {k})", STDIO) for k in (2, 5, 2)]
    with Sandbox(workers=2) as box:
        expected = box.run_many(items)
    got = executor.run_many(items)
    def statuses(verdicts: list[Any]) -> list[Any]:
        return [[(r.status, r.input, r.expected, r.got) for r in v.results] for v in verdicts]

    assert statuses(got) == statuses(expected)
    assert [v.fault for v in got] == [v.fault for v in expected]
    assert [v.passed for v in got] == [True, False, True]
