"""The Runs screen: its columns, live updates from another connection, opening a run."""

from __future__ import annotations

from pathlib import Path

from repair_tui.core.store.store import Store
from repair_tui.tui.app import RepairApp
from repair_tui.tui.messages import DataChanged
from repair_tui.tui.screens.run import RunScreen
from repair_tui.tui.screens.runs import COLUMNS, RunsScreen, RunTable
from test_app_data import Writer, build_run, make_db

SIZE = (120, 40)


def cell(table: RunTable, run_id: int, column: str) -> str:
    return str(table.get_cell(str(run_id), column))


async def test_runs_table_shows_every_column(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "demo.db", "demo", "other"), load_samples=False)
    async with app.run_test(size=SIZE):
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        table = screen.query_one(RunTable)
        assert table.row_count == 2
        labels = [str(c.label) for c in table.columns.values()]
        assert labels == [label for _, label, _ in COLUMNS]
        row = {key: cell(table, 1, key) for key, _, _ in COLUMNS}
        assert row == {
            "name": "demo", "dataset": "apps", "model": "sim", "feedback": "sim-strong",
            "policy": "3/1 separate", "tasks": "5", "solved": "2/4 (50%)", "programs": "12",
            "repairs": "8", "tokens": "2,160", "executor": "local", "isolation": "namespaces+rlimits",
            "status": "finished", "created": "2025-03-01 10:22",
        }
        assert screen.sub_title == "Runs in demo.db"


async def test_runs_table_follows_another_writer(tmp_path: Path) -> None:
    db = make_db(tmp_path / "demo.db")
    app = RepairApp(db, load_samples=False, poll_interval=60)  # polled by hand below
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RunTable)
        table.move_cursor(row=0)
        assert not app.poll_data()  # nothing changed yet
        with Store.open(db) as writer:
            run = build_run(writer, "live", status="running")
            assert app.poll_data()
            await pilot.pause()
            assert table.row_count == 2 and cell(table, run.id, "status") == "running"
            assert cell(table, run.id, "programs") == "12"
            Writer(writer, run.id).program("apps/test/0005", 0, True)
            writer.set_run_status(run.id, "finished")
        assert app.poll_data()
        await pilot.pause()
        assert cell(table, run.id, "programs") == "13"
        assert cell(table, run.id, "solved") == "3/5 (60%)"
        assert cell(table, run.id, "status") == "finished"
        assert table.cursor_row == 0  # an update keeps the user's place
        with Store.open(db) as writer:
            writer.delete_run(run.id)
        app.poll_data()
        await pilot.pause()
        assert table.row_count == 1


async def test_the_interval_poll_posts_data_changed(tmp_path: Path) -> None:
    db = make_db(tmp_path / "demo.db")
    seen: list[object] = []
    app = RepairApp(db, load_samples=False, poll_interval=0.05)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        with Store.open(db) as writer:
            build_run(writer, "second")
        for _ in range(40):  # a few polls; the interval is short
            await pilot.pause(0.05)
            if app.screen.query_one(RunTable).row_count == 2:
                break
        assert app.screen.query_one(RunTable).row_count == 2
        assert any(isinstance(m, DataChanged) for m in seen)


async def test_enter_opens_the_run_and_escape_comes_back(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "demo.db", "first", "second"), load_samples=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "enter")
        screen = app.screen
        assert isinstance(screen, RunScreen) and screen.run_id == 2
        assert screen.sub_title == "Run second"
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)
        assert app.screen.selected_run_id() == 2


async def test_changes_made_under_another_screen_show_on_return(tmp_path: Path) -> None:
    db = make_db(tmp_path / "demo.db")
    app = RepairApp(db, load_samples=False, poll_interval=60)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        with Store.open(db) as writer:
            build_run(writer, "meanwhile")
        app.poll_data()  # goes to the Run screen, which ignores other runs
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.query_one(RunTable).row_count == 2


async def test_delete_and_rename_a_run_with_confirmation(tmp_path: Path) -> None:
    from repair_tui.tui.modals import ConfirmModal, RenameModal
    from textual.widgets import Input

    app = RepairApp(make_db(tmp_path / "demo.db", "demo", "other"), load_samples=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        table = screen.query_one(RunTable)
        await pilot.press("delete")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")  # keep it
        assert app.store.run_names() == ["demo", "other"]
        await pilot.press("delete", "y")
        await pilot.pause()
        assert app.store.run_names() == ["other"] and table.row_count == 1
        await pilot.press("n")
        assert isinstance(app.screen, RenameModal)
        app.screen.query_one(Input).value = "demo"  # free again
        await pilot.press("enter")
        await pilot.pause()
        assert app.store.run_names() == ["demo"]
        assert cell(table, 2, "name") == "demo"
        await pilot.press("n")
        app.screen.query_one(Input).value = " "
        await pilot.press("enter")
        await pilot.pause()
        assert any("must be non-empty" in m for m in
                   [n.message for n in app._notifications])  # refused, named
        assert app.store.run_names() == ["demo"]


async def test_status_first_details_and_sorting(tmp_path: Path) -> None:
    """At 80 columns the name, status and solved share are in view; the line under the
    table has the full isolation; s sorts by created, name and solved share."""
    from repair_tui.tui.screens.runs import COLUMNS

    db = make_db(tmp_path / "demo.db", "zeta", "alpha")
    with Store.open(db) as writer:
        Writer(writer, 2).program("apps/test/0005", 0, True)  # alpha solves one more
    app = RepairApp(db, load_samples=False, poll_interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        table = screen.query_one(RunTable)
        keys = [k for k, _, _ in COLUMNS]
        assert keys[:3] == ["name", "status", "solved"]
        first = sum(c.get_render_width(table) for c in table.ordered_columns[:3])
        assert first <= 80  # name, status and solved are in view
        details = screen.query_one("#runs-detail").content.plain  # type: ignore[attr-defined]
        assert "zeta" in details and "isolation namespaces+rlimits" in details
        order = lambda: [table.get_row_at(i)[0].plain for i in range(table.row_count)]  # noqa: E731
        assert order() == ["zeta", "alpha"]  # added
        await pilot.press("s")
        assert order() == ["zeta", "alpha"]  # created (the same moment here, then added)
        await pilot.press("s")
        assert order() == ["alpha", "zeta"]  # name
        await pilot.press("s")
        assert order() == ["alpha", "zeta"]  # solved share: alpha 3/5 before zeta 2/4
        await pilot.press("j")
        assert "zeta" in screen.query_one("#runs-detail").content.plain  # type: ignore[attr-defined]
        await pilot.press("s")
        assert order() == ["zeta", "alpha"] and table.cursor_row == 0  # the cursor follows
