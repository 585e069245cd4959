"""Keys across the app: the help lists the app's own keys first, the command palette
finds every action that applies to the selected node, j/k move, the Task footer shows
the less used keys where there is room; and the action log (`l`), re-execution's
verdict change and the missing-key message."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from harness import HarnessApp, fixed_run
from repair_tui.core.errors import MissingAPIKeyError
from repair_tui.core.store.records import Node
from repair_tui.core.store.store import Store
from repair_tui.tui.app import RepairApp, key_help
from repair_tui.tui.screens.action_log import ActionLogScreen
from repair_tui.tui.screens.task import TaskScreen, failure_text, verdict_change
from repair_tui.tui.widgets.tree import RepairTree
from test_app_data import make_db
from textual.command import Matcher
from textual.widgets import DataTable, Input

TASK = "HumanEval/2"


def fixed_app(tmp_path: Path) -> RepairApp:
    db = tmp_path / "r.db"
    fixed_run(db)
    return RepairApp(db, load_samples=False, poll_interval=60)


async def open_fixed_task(app: RepairApp, pilot: object) -> TaskScreen:
    await pilot.press("enter")  # type: ignore[attr-defined]
    await app.workers.wait_for_complete()
    await pilot.press("enter")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert isinstance(app.screen, TaskScreen)
    return app.screen


def titles_matching(app: RepairApp, query: str) -> list[str]:
    matcher = Matcher(query)
    return [c.title for c in app.get_system_commands(app.screen) if matcher.match(c.title) > 0]


async def test_help_lists_the_apps_keys_before_the_widgets(tmp_path: Path) -> None:
    app = fixed_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_fixed_task(app, pilot)
        rows = list(key_help(screen))
        descriptions = [d for _, d, _ in rows]
        ours = descriptions.index("Next fail")
        assert descriptions.index("Toggle") > descriptions.index("Back") > ours
        assert {"Help", "Quit", "Log"} <= set(descriptions[:descriptions.index("Toggle")])
        assert ours == 0


async def test_palette_finds_every_action_of_the_node_kind(tmp_path: Path) -> None:
    app = fixed_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_fixed_task(app, pilot)
        await pilot.press("down")  # p0, a failing program
        found = titles_matching(app, "repair")
        assert any(t.startswith("Rerun branch") for t in found)
        assert not any(t.startswith("Repair:") for t in found)  # needs a feedback
        assert any(t.startswith("Re-execute") for t in titles_matching(app, "tests"))
        assert any(t.startswith("Edit feedback") for t in titles_matching(app, "feedback"))
        await pilot.press("down")  # its feedback f0
        assert any(t.startswith("Repair: sample repairs") for t in titles_matching(app, "repair"))


async def test_j_and_k_move_in_tables_and_the_tree(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "d.db", "one", "two"), load_samples=False,
                    poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        runs = app.screen.query_one(DataTable)
        await pilot.press("j")
        assert runs.cursor_row == 1
        await pilot.press("k", "enter")
        await app.workers.wait_for_complete()
        tasks = app.screen.query_one("#run-tasks", DataTable)
        await pilot.press("j", "j")
        assert tasks.cursor_row == 2
        await pilot.press("k", "enter")
        await pilot.pause()
        tree = app.screen.query_one(RepairTree)
        await pilot.press("j")
        assert tree.cursor_line == 1
        await pilot.press("j", "k")
        assert tree.cursor_line == 1


async def test_task_footer_shows_the_less_used_keys_where_there_is_room(tmp_path: Path) -> None:
    app = fixed_app(tmp_path)
    async with app.run_test(size=(200, 40)) as pilot:
        screen = await open_fixed_task(app, pilot)
        shown = {b.binding.key for b in screen.active_bindings.values() if b.binding.show}
        assert {"p", "o", "c", "escape"} <= shown


async def test_action_log_keeps_actions_and_their_outcome(tmp_path: Path) -> None:
    app = fixed_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_fixed_task(app, pilot)
        await pilot.press("n", "x")  # re-execute p0
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("l")
        assert isinstance(app.screen, ActionLogScreen)
        texts = [(e.severity, e.text) for e in app.action_log]
        assert ("started", "started: re-execute p0") in texts
        assert any(t.startswith("re-execute p0: ") and "fail" in t for _, t in texts)
        assert "started: re-execute p0" in "".join(
            strip.text for strip in app.screen.query_one("#log-entries").render_lines(
                app.screen.query_one("#log-entries").region.reset_offset))
        await pilot.press("escape")
        assert isinstance(app.screen, TaskScreen)


def node(passed: bool | None, fault: str | None = None) -> Node:
    return Node(id=1, run_id=1, task_id=TASK, parent_id=None, key=f"{TASK}|p0",
                kind="program", origin="model", model="sim", text="", code="", tokens=1,
                passed=passed, fault=fault, error_message=None, isolation=None, depth=0,
                sample_index=0, call_id=None, created_utc="2025-01-01T00:00:00.000+00:00")


def test_reexecution_says_whether_the_verdict_changed() -> None:
    wrong = node(False, "wrong_answer on test 0")
    assert verdict_change(wrong, node(True)) == \
        "verdict changed: failed (wrong_answer on test 0) → passed"
    assert verdict_change(wrong, wrong) == "verdict unchanged: failed (wrong_answer on test 0)"
    assert verdict_change(wrong, node(False, "timeout on test 1")).startswith(
        "same verdict, other fault")
    assert verdict_change(node(None), node(True)) == "first verdict: passed"


async def test_missing_key_message_says_what_to_do_in_the_app(tmp_path: Path) -> None:
    assert "--base-url" not in failure_text(MissingAPIKeyError("x", "gpt-4o"))
    db = tmp_path / "r.db"
    fixed_run(db)
    with Store.open(db) as store:  # a run of a hosted model, no key in the environment
        run = store.get_run_by_id(1)
        store.update_run(1, config=replace(run.config, model="gpt-4o-mini"))
    app = HarnessApp(db, lambda: TaskScreen(1, TASK))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("down", "down", "r")
        app.screen.query_one("#repair-model", Input).value = "gpt-4o-mini"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        (error,) = [m for sev, m in app.notices if sev == "error"]
        assert "'gpt-4o-mini' needs an API key" in error and "sim-strong" in error
        assert "OPENAI_API_KEY" in error and "--base-url" not in error
