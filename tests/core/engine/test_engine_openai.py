"""Runs through the real OpenAI client against the simulated server on 127.0.0.1:
the same trees as in-process, with injected 429s, 500s, cut bodies and dropped
connections retried; a call that keeps failing is stored as an error and a resume
retries it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from repair_tui.core.engine import events as ev
from repair_tui.core.engine.run import run_repair
from repair_tui.core.llm.client import ChatModel, OpenAIModel
from repair_tui.core.sim import server as simserver
from repair_tui.core.sim.server import SimServerHandle, start_sim_server
from repair_tui.core.store.records import RunConfig, call_key
from repair_tui.core.store.store import Store
from repair_tui.sandbox.runner import Sandbox
from test_engine_support import (
    HE_IDS,
    Recorder,
    box,  # noqa: F401 -- fixture
    call_table,
    check_run,
    tree,
)

CONFIG = RunConfig(dataset="humaneval", model="sim", np=3, nfr=2, task_ids=HE_IDS, seed=4,
                   mode="separate", feedback_model="sim-strong", concurrency=4)


@pytest.fixture
def server() -> Iterator[SimServerHandle]:
    with start_sim_server(retry_after=0.05) as handle:
        yield handle


def clients(url: str, **kw: Any) -> dict[str, ChatModel]:
    """Real OpenAI clients for both models, with short backoffs so tests stay quick."""
    kw = {"backoff": 0.01, "max_backoff": 0.05, **kw}
    return {name: OpenAIModel(name, base_url=url, **kw) for name in ("sim", "sim-strong")}


def drop_connections(monkeypatch: pytest.MonkeyPatch, handle: SimServerHandle,
                     requests: set[int]) -> None:
    """Make the server hang up without an answer on these request numbers (0-based)."""
    pick = handle.server.pick_fault
    seen = iter(range(10**9))

    def pick_fault(body: bytes) -> str | None:
        fault = pick(body)
        return "drop" if next(seen) in requests else fault

    def answer(self: Any, request: dict[str, Any], fault: str | None) -> None:
        if fault == "drop":
            self.close_connection = True  # closes the socket with no response at all
            return
        original(self, request, fault)

    original = simserver._Handler._answer
    monkeypatch.setattr(handle.server, "pick_fault", pick_fault)
    monkeypatch.setattr(simserver._Handler, "_answer", answer)


async def test_the_http_path_gives_the_in_process_trees_despite_faults(
    tmp_path: Path, box: Sandbox, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    plan = ["429", "500", "ok", "malformed", "500", "429", "ok", "ok", "malformed"]
    with start_sim_server(fault_plan=plan, retry_after=0.05) as handle, \
            Store.open(tmp_path / "h.db") as store:
        drop_connections(monkeypatch, handle, {2, 11})
        reference = await run_repair(store, "in-process", CONFIG, sandbox=box)
        rec = Recorder()
        http = await run_repair(store, "http", replace(CONFIG, base_url=handle.base_url),
                                sandbox=box, sink=rec, models=clients(handle.base_url))
        assert http.status == "finished" and http.message is None and not http.simulated
        assert tree(store, http.id) == tree(store, reference.id)
        assert call_table(store, http.id) == call_table(store, reference.id)
        check_run(store, http)
        assert handle.faults == {"429": 2, "500": 2, "malformed": 2}
        retried = len(plan) - plan.count("ok") + 2  # plus two dropped connections
        assert handle.requests == len(store.calls(http.id)) + retried
        assert sum(c.requests for c in store.calls(http.id)) == len(store.calls(http.id))
        assert rec.of(ev.CallFailed) == []


async def test_a_failing_call_is_stored_and_a_resume_retries_it(
    tmp_path: Path, box: Sandbox  # noqa: F811
) -> None:
    config = replace(CONFIG, mode="joint", feedback_model=None, concurrency=1,
                     task_ids=HE_IDS[:2])
    # Two 500s: the first call (task 0's programs) fails its one retry.
    with start_sim_server(fault_plan=["500", "500"]) as handle, \
            Store.open(tmp_path / "f.db") as store:
        url = handle.base_url
        config = replace(config, base_url=url)
        rec = Recorder()
        run = await run_repair(store, "flaky", config, sandbox=box, sink=rec,
                               models=clients(url, max_retries=1))
        assert run.status == "finished"
        assert run.message and "1 model call(s) failed" in run.message and "again" in run.message
        first = HE_IDS[0]
        failed = store.get_call_by_key(run.id, call_key(first, "generate", None, 0))
        assert failed is not None and failed.status == "error" and "HTTP 500" in (failed.error or "")
        assert store.nodes_by_key(run.id, first) == {}
        assert store.run_totals(run.id).calls_failed == 1
        (event,) = rec.of(ev.CallFailed)
        assert (event.task_id, event.role) == (first, "generate")
        ok_before = {c.key: c for c in store.calls(run.id) if c.status == "ok"}

        resumed = await run_repair(store, "flaky", None, sandbox=box,
                                   models=clients(url, max_retries=1))
        assert resumed.status == "finished" and resumed.message is None
        retried = store.get_call(failed.id)  # the same row, now answered
        assert retried.key == failed.key and retried.status == "ok" and retried.error is None
        for key, call in ok_before.items():
            assert store.get_call_by_key(run.id, key) == call  # not made again
        check_run(store, resumed)
        reference = await run_repair(store, "reference", replace(config, base_url=None),
                                     sandbox=box)
        assert tree(store, run.id) == tree(store, reference.id)
