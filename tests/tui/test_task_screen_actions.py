"""Pilot tests of the Task screen's actions through the real engine, sim model and sandbox:
edit feedback, repair from feedback, rerun branch, re-execute, cancel, and failures."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

from harness import FEEDBACK, HarnessApp, fixed_run
from repair_tui.core.store.store import Store
from repair_tui.tui.modals import FeedbackEditorModal, RepairDialogModal
from repair_tui.tui.screens.task import TaskScreen
from repair_tui.tui.widgets.tree import RepairTree
from textual.widgets import Input, TextArea

TASK = "HumanEval/2"


def open_task(db: Path) -> HarnessApp:
    return HarnessApp(db, lambda: TaskScreen(1, TASK))


def set_config(db: Path, **changes: object) -> None:
    with Store.open(db) as store:
        run = store.get_run_by_id(1)
        store.update_run(1, config=replace(run.config, **changes))


def keys_under(tree: RepairTree, key: str) -> list[str]:
    node = next(t for t in tree.walk() if t.data is not None and t.data.key == key)
    return [c.data.key.removeprefix(f"{key}|") for c in node.children]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_edit_feedback_adds_a_human_node_and_keeps_the_model_one(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one(RepairTree)
        await pilot.press("down", "down", "e")  # p0's model feedback
        assert isinstance(app.screen, FeedbackEditorModal)
        editor = app.screen.query_one(TextArea)
        assert editor.text == FEEDBACK
        editor.insert(" Negative numbers need care too.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, TaskScreen)
        # A person's feedback is an exploration (x1): beside the run's sample, never in it.
        assert keys_under(tree, f"{TASK}|p0") == ["f0", "x1h0"]
        human = tree.selected
        assert human is not None and human.key == f"{TASK}|p0|x1h0" and human.origin == "human"
        assert human.exploration_id == 1
        assert human.text == FEEDBACK + " Negative numbers need care too."
        store = app.store
        assert store.get_node_by_key(1, f"{TASK}|p0|f0").text == FEEDBACK  # unchanged
        # Cancelling the editor stores nothing; saving again adds another exploration.
        await pilot.press("e", "escape")
        assert len(store.human_feedback(1)) == 1
        await pilot.press("e", "ctrl+s")
        await pilot.pause()
        assert keys_under(tree, f"{TASK}|p0") == ["f0", "x1h0", "x2h0"]


async def test_edit_feedback_on_a_failing_program_starts_empty(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "e")  # p1
        editor = app.screen.query_one(TextArea)
        assert editor.text == ""
        await pilot.press("ctrl+s")  # empty: refused, the editor stays
        assert isinstance(app.screen, FeedbackEditorModal)
        editor.insert("It floors instead of taking the fraction.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        tree = app.screen.query_one(RepairTree)
        assert keys_under(tree, f"{TASK}|p1") == ["f0", "x1h0"]


async def test_repair_from_human_feedback_with_the_sim_model(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        tree = screen.query_one(RepairTree)
        await pilot.press("n", "n", "e")  # p1, a new human feedback
        app.screen.query_one(TextArea).insert("Use number % 1.0 to keep the fraction.")
        await pilot.press("ctrl+s", "r")
        assert isinstance(app.screen, RepairDialogModal)
        dialog = app.screen
        assert dialog.query_one("#repair-n", Input).value == "1"  # the run's nfr
        assert dialog.query_one("#repair-model", Input).value == "sim"
        dialog.query_one("#repair-n", Input).value = "2"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert keys_under(tree, f"{TASK}|p1|x1h0") == ["x2r0", "x2r1"]
        repairs = [app.store.get_node_by_key(1, f"{TASK}|p1|x1h0|x2r{i}") for i in range(2)]
        assert all(r.passed is not None for r in repairs)  # executed in the sandbox
        shown = [t.data for t in tree.walk() if t.data is not None and t.data.key.endswith("h0|x2r0")]
        assert shown[0].passed == repairs[0].passed  # the tree shows the verdict
        assert tree.selected.key == f"{TASK}|p1|x1h0|x2r0"  # the cursor goes to the first repair
        assert any(m.startswith("repair from x1h0: 2 program(s)") for _, m in app.notices)
        assert any(type(e).__name__ == "ProgramExecuted" for e in app.events)
        # The explorations' origin statistics count it as human feedback; the sample's do not.
        assert app.store.origin_stats(1, scope="explorations")["human"].repairs == 2
        assert "human" not in app.store.origin_stats(1)


async def test_rerun_branch_and_reexecute(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one(RepairTree)
        await pilot.press("n", "n", "b")  # rerun p1's branch (joint mode, nfr 1)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert keys_under(tree, f"{TASK}|p1") == ["f0", "x1f0"]
        assert keys_under(tree, f"{TASK}|p1|x1f0") == ["x1r0"]
        assert app.store.get_node_by_key(1, f"{TASK}|p1|x1f0|x1r0").passed is not None
        # Re-execute p0: the sandbox's verdict is kept beside the hand-made first one.
        await pilot.press("o", "n", "x")
        await app.workers.wait_for_complete()
        await pilot.pause()
        p0 = app.store.get_node_by_key(1, f"{TASK}|p0")
        assert p0.isolation == "fixed"  # the first verdict stays, for the sample's numbers
        (again,) = app.store.executions(p0.id)
        assert again.isolation != "fixed" and again.passed is False
        # It was failing and still fails: the message says so, with the sandbox's fault.
        assert any(m.startswith("re-execute p0: ") and ("verdict unchanged: failed" in m or
                                                        "same verdict, other fault" in m)
                   for _, m in app.notices)


async def test_unreachable_server_shows_a_notification(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    set_config(db, base_url=f"http://127.0.0.1:{closed_port()}/v1")
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        before = len(app.store.task_nodes(1, TASK))
        await pilot.press("down", "down", "r")
        app.screen.query_one("#repair-model", Input).value = "some-model"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        errors = [m for sev, m in app.notices if sev == "error"]
        assert len(errors) == 1 and "connection refused" in errors[0]
        assert "\n" not in errors[0] and "Traceback" not in errors[0]
        assert isinstance(app.screen, TaskScreen) and app.is_running
        assert len(app.store.task_nodes(1, TASK)) == before


async def test_repair_dialog_rejects_bad_values(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("down", "down", "r")
        dialog = app.screen
        dialog.query_one("#repair-temperature", Input).value = "7"
        await pilot.press("enter")
        assert app.screen is dialog
        assert "temperature must be between 0 and 2" in str(
            dialog.query_one("#repair-error").content)  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert isinstance(app.screen, TaskScreen)
        assert not list(app.workers)


async def test_a_running_action_can_be_cancelled(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    set_config(db, sim_latency=60.0)  # the simulated model answers after a minute
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await pilot.press("n", "n", "b")
        await pilot.pause()
        assert screen.running_actions == 1
        assert screen.check_action("cancel_actions", ()) is True
        assert "1 action(s) running" in str(screen.query_one("#task-status").content)
        await pilot.press("ctrl+x")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.running_actions == 0
        assert any(m == "rerun branch p1 cancelled" for _, m in app.notices)
        assert screen.check_action("cancel_actions", ()) is None


async def test_a_locked_database_keeps_the_feedback_text_in_the_editor(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        app.store.db.execute("PRAGMA busy_timeout = 50")  # fail fast instead of waiting 30 s
        other = sqlite3.connect(db)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        await pilot.press("n", "n", "e")
        app.screen.query_one(TextArea).insert("It floors instead of taking the fraction.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        errors = [m for sev, m in app.notices if sev == "error"]
        assert len(errors) == 1 and "locked by another process" in errors[0]
        assert isinstance(app.screen, FeedbackEditorModal)  # open again, the text kept
        assert app.screen.query_one(TextArea).text == "It floors instead of taking the fraction."
        other.rollback()
        other.close()
        await pilot.press("ctrl+s")  # the lock is gone: now it is stored
        await pilot.pause()
        assert isinstance(app.screen, TaskScreen)
        (human,) = app.store.human_feedback(1)
        assert human.text == "It floors instead of taking the fraction."
