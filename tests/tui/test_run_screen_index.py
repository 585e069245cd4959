"""The Run screen indexes a run's pending nodes for search in a thread (on opening, and
when the search box gets focus), so the first keystroke never waits for a whole run."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from repair_tui.core.store.store import Store
from repair_tui.tui.app import RepairApp
from test_app_data import make_db
from test_run_screen import open_run, shown
from textual.widgets import Input

SIZE = (120, 40)


def pending(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM nodes_fts_pending").fetchone()[0])
    finally:
        conn.close()


def add_feedback(path: Path, task_id: str, text: str) -> None:
    """A feedback on the task's first program, written by another connection."""
    with Store.open(path) as store:
        run = store.get_run("demo")
        program = next(n for n in store.iter_nodes(run.id) if n.task_id == task_id and n.kind == "program")
        store.add_feedback(program.id, text)


async def test_opening_a_run_and_focusing_the_search_index_its_pending_nodes(tmp_path: Path) -> None:
    db = make_db(tmp_path / "demo.db")
    assert pending(db) > 20  # the whole run waits: nothing searched it yet
    app = RepairApp(db, load_samples=False, poll_interval=60)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        assert pending(db) == 0 and screen.query_text == ""  # the thread did it, unasked
        add_feedback(db, "apps/test/0002", "Osprey: the loop stops early.")
        assert pending(db) == 1
        await pilot.press("slash")  # focus alone starts the thread again
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert pending(db) == 0 and screen.query_text == ""
        await pilot.press(*"osprey")
        assert shown(screen) == ["apps/test/0002"]
        add_feedback(db, "apps/test/0003", "Heron: wrong base case.")
        await pilot.press("escape", "slash", "ctrl+u", *"heron")  # a keystroke indexes it too
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert shown(screen) == ["apps/test/0003"] and pending(db) == 0
        assert not [n for n in app._notifications if n.severity == "warning"]


@pytest.fixture
def read_only_db(tmp_path: Path, unwritable: Callable[[Path], None]) -> Path:
    """The demo run with one node still pending, in a file made unwritable."""
    db = make_db(tmp_path / "demo.db")
    with Store.open(db) as store:
        store.search(store.get_run("demo").id, "anything")  # index the run...
    add_feedback(db, "apps/test/0002", "Osprey: the loop stops early.")  # ...but this one
    with Store.open(db) as store:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    unwritable(db)
    return db


async def test_a_read_only_database_searches_what_is_indexed_and_says_so_once(read_only_db: Path) -> None:
    app = RepairApp(read_only_db, load_samples=False, poll_interval=60)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)

        def warnings() -> list[str]:
            return [str(n.message) for n in app._notifications if n.severity == "warning"]

        assert warnings() == []  # not before the user searches
        await pilot.press("slash")
        await pilot.pause()
        (note,) = warnings()
        assert "search sees only the nodes indexed before" in note and "read-only" in note
        await pilot.press(*"osprey")
        assert shown(screen) == []  # the pending feedback is not indexed
        screen.query_one(Input).value = "bfs from"  # an indexed exploration's feedback
        await pilot.pause()
        assert shown(screen) == ["apps/test/0004"]
        await pilot.press("escape", "slash")
        await pilot.pause()
        assert len(warnings()) == 1
    assert pending(read_only_db) == 1
