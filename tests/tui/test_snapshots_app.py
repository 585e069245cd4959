"""Snapshots of the app's Runs, Run and Help screens on a fixed database at 120 x 40.

The database (test_app_data.build_run) has fixed timestamps and verdicts, and the
estimator runs without bootstrap, so the pictures only change when the screens do.
Read the report before `pytest --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import settle as settle_app
from repair_tui.core.estimate.costs import Price, PriceTable
from repair_tui.tui.app import RepairApp
from test_app_data import make_db
from textual.pilot import Pilot

SIZE = (120, 40)


# Fixed prices, so the pictures do not move with the bundled table.
PRICES = PriceTable({"sim": Price(0.5, 1.5), "sim-strong": Price(2.5, 10)}, ("test prices",))


def app_on(tmp_path: Path) -> RepairApp:
    return RepairApp(make_db(tmp_path / "demo.db", "demo", "second"), load_samples=False,
                     poll_interval=60, prices=PRICES)


async def settle(pilot: Pilot[None]) -> None:
    """Wait for the estimator worker, the footer's settling timer and the repaint."""
    await settle_app(pilot)


def test_runs_screen(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    """Two runs in the table with every column: name, dataset, models, np/nfr mode, tasks,
    solved with share, programs, repairs, tokens, executor (local), isolation, status
    (coloured), created;
    the footer shows Open run, Help and Quit."""
    assert snap_compare(app_on(tmp_path), terminal_size=SIZE, run_before=settle)


def test_run_screen(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    """Run "demo": tallies (solved 2/4 of 5 tasks; a cost line: 2,160 tokens completion +
    5,000 prompt, $0.0057 at the test prices), the braille baseline with nfr=1 markers
    for np 1-3, the heat map (3 x 1), model and human feedback side by side, the filter
    bar and all five tasks with their status."""

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(app_on(tmp_path), terminal_size=SIZE, run_before=before)


def test_run_screen_filtered(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    """The Run screen filtered to interview tasks that are unsolved: only apps/test/0003,
    with the table title naming the filter and the Selects showing it."""

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("f", "f", "d", "d")
        await settle(pilot)

    assert snap_compare(app_on(tmp_path), terminal_size=SIZE, run_before=before)


def test_help_screen(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    """Help over the Run screen: every key with its action and tooltip."""

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(app_on(tmp_path), terminal_size=SIZE, run_before=before)
