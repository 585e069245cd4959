"""The Run screen's estimator: one thread at a time, the last request never lost.

``estimate_grid`` is replaced in the screen's module by a gate around the real one: it
counts the calls running at once and holds each call until the test opens the gate,
so requests pile up behind a running estimate exactly as they do while a run writes.
Every wait is on a condition (an event, the workers' completion), never on a clock.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from repair_tui.core.store.store import Store
from repair_tui.tui.app import RepairApp
from repair_tui.tui.messages import DataChanged
from repair_tui.tui.screens import run as run_module
from repair_tui.tui.screens.run import RunScreen
from repair_tui.tui.widgets.chart import PassChart
from test_app_data import Writer, make_db
from test_run_screen import SIZE, open_run
from textual.pilot import Pilot

if TYPE_CHECKING:
    from repair_tui.core.estimate.exact import FrozenTask
    from repair_tui.core.estimate.grid import Grid
    from repair_tui.core.store.records import RunConfig

WAIT = 60.0  # seconds a blocked thread waits before the test fails (never reached when it passes)


class Gate:
    """``estimate_grid`` behind a gate, recording each call's mode and task count, what
    it returned, and the most calls that ever ran at once."""

    def __init__(self, real: Callable[[list[FrozenTask], RunConfig, str], Grid | None]) -> None:
        self.real = real
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls: list[tuple[str, int]] = []
        self.results: list[Grid | None] = []
        self.opened = threading.Event()
        self.opened.set()
        self.entered = threading.Event()  # a call has arrived at the gate
        self.fail: Exception | None = None  # raised by the next call, once

    def __call__(self, tasks: list[FrozenTask], config: RunConfig, mode: str) -> Grid | None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.calls.append((mode, len(tasks)))
            fail, self.fail = self.fail, None
        self.entered.set()
        try:
            if not self.opened.wait(WAIT):
                raise RuntimeError("the test never opened the gate")
            if fail is not None:
                raise fail
            grid = self.real(tasks, config, mode)
            with self.lock:
                self.results.append(grid)
            return grid
        finally:
            with self.lock:
                self.running -= 1

    def close(self) -> None:
        """Hold the next calls; ``entered`` tells when one arrives."""
        self.opened.clear()
        self.entered.clear()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Gate:
    gate = Gate(run_module.estimate_grid)
    monkeypatch.setattr(run_module, "estimate_grid", gate)
    return gate


async def arrived(gate: Gate) -> None:
    """Until a call is held at the gate (waited for in a thread, not by polling)."""
    assert await asyncio.to_thread(gate.entered.wait, WAIT)


async def settled(pilot: Pilot[None], screen: RunScreen) -> None:
    """Until no estimate runs or waits: each round waits for the workers to finish."""
    for _ in range(20):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not screen._estimating and not screen._estimate_pending:
            return
    raise AssertionError("estimates kept running")


def estimate_threads(pilot: Pilot[None]) -> int:
    return sum(1 for w in pilot.app.workers if w.group == "estimate" and not w.is_finished)


def record_shown(screen: RunScreen) -> list[Grid | None]:
    """Every grid the chart is given from now on."""
    chart = screen.query_one(PassChart)
    drawn: list[Grid | None] = []
    show = chart.show

    def recording(grid: Grid | None) -> None:
        drawn.append(grid)
        show(grid)

    chart.show = recording  # type: ignore[method-assign]
    return drawn


async def test_requests_during_an_estimate_wait_as_one_and_the_last_wins(
        tmp_path: Path, gate: Gate) -> None:
    """Many updates and a mode switch while an estimate runs: still one thread at a time,
    the superseded mode's result is dropped, and the chart ends on the final data in the
    mode now selected."""
    db = make_db(tmp_path / "demo.db")
    app = RepairApp(db, load_samples=False, poll_interval=60)  # polled by hand below
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        await settled(pilot, screen)
        assert gate.calls == [("batch", 4)]
        drawn = record_shown(screen)
        gate.close()
        screen.start_estimate()
        await arrived(gate)
        with Store.open(db) as writer:  # the run's last write, made while it computes
            Writer(writer, 1).program("apps/test/0005", 0, True)
        assert app.poll_data()
        for _ in range(30):
            screen.post_message(DataChanged())
            screen.start_estimate()
        await pilot.press("m")  # batch -> dfs, as the notice says
        for _ in range(30):
            screen.start_estimate()
        await pilot.pause()
        assert estimate_threads(pilot) == 1 and len(gate.calls) == 2
        assert screen._estimate_pending
        assert "pass@t estimated in dfs mode" in app.action_log[-1].text
        gate.opened.set()
        await settled(pilot, screen)
        assert gate.most == 1
        assert gate.calls == [("batch", 4), ("batch", 4), ("dfs", 5)]  # three, not sixty
        last = gate.results[-1]
        assert last is not None and last.mode == "dfs" and last.n_tasks == 5
        assert drawn == [last]  # the batch result that came back after the switch: dropped
        assert screen.grid is last and screen.query_one(PassChart).grid is last
        assert "(dfs)" in str(screen.query_one(PassChart).render())


async def test_an_estimate_that_raises_frees_the_next_one(tmp_path: Path, gate: Gate) -> None:
    """An unexpected exception in the estimator is a notice; the request waiting behind
    it runs, and so do later ones."""
    db = make_db(tmp_path / "demo.db")
    app = RepairApp(db, load_samples=False, poll_interval=60)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        await settled(pilot, screen)
        first = screen.grid
        assert first is not None
        gate.close()
        gate.fail = RuntimeError("boom")
        screen.start_estimate()
        await arrived(gate)
        screen.start_estimate()  # waits behind the failing one
        gate.opened.set()
        await settled(pilot, screen)
        assert "pass@t not estimated: RuntimeError: boom" in [e.text for e in app.action_log]
        assert len(gate.calls) == 3 and len(gate.results) == 2
        assert screen.grid is gate.results[-1] and screen.grid is not first
        screen.start_estimate()
        await settled(pilot, screen)
        assert len(gate.calls) == 4 and screen.grid is gate.results[-1]
        assert gate.most == 1


async def test_a_request_pending_while_a_task_is_open_starts_on_return(
        tmp_path: Path, gate: Gate) -> None:
    """The pending estimate does not start behind the Task screen (it would slow the
    tree's opening); it starts when the Run screen is shown again."""
    db = make_db(tmp_path / "demo.db")
    app = RepairApp(db, load_samples=False, poll_interval=60)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        await settled(pilot, screen)
        gate.close()
        screen.start_estimate()
        await arrived(gate)
        screen.start_estimate()
        await pilot.press("enter")  # the Task screen on top
        await pilot.pause()
        assert app.screen is not screen
        gate.opened.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(gate.calls) == 2 and screen._estimate_pending and not screen._estimating
        await pilot.press("escape")
        assert app.screen is screen
        await settled(pilot, screen)
        assert len(gate.calls) == 3 and screen.grid is gate.results[-1]
        assert gate.most == 1
