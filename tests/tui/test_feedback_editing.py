"""Writing feedback: the editor shows the program and its failing test beside it, starts
with the cursor after the prefilled text, selects all with ctrl+a, and asks before
throwing typed text away; the annotation queue goes back with ctrl+b, asks before a
skip or a leave loses text, and can be scoped to the Run screen's filter."""

from __future__ import annotations

from pathlib import Path

from harness import FEEDBACK, HarnessApp, fixed_run
from repair_tui.tui.app import RepairApp
from repair_tui.tui.modals import ConfirmModal, FeedbackEditorModal
from repair_tui.tui.screens.annotate import AnnotationScreen
from repair_tui.tui.screens.task import TaskScreen
from repair_tui.tui.widgets.detail import CodeView, FailingTestsView
from repair_tui.tui.widgets.editor import FeedbackArea
from test_app_data import make_db
from textual.widgets import Static

TASK = "HumanEval/2"


def task_app(tmp_path: Path) -> HarnessApp:
    db = tmp_path / "r.db"
    fixed_run(db)
    return HarnessApp(db, lambda: TaskScreen(1, TASK))


async def test_editor_shows_program_and_test_beside_it(tmp_path: Path) -> None:
    app = task_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "down", "e")  # p0's feedback f0
        modal = app.screen
        assert isinstance(modal, FeedbackEditorModal)
        editor = modal.query_one(FeedbackArea)
        code = modal.query_one(CodeView)
        tests = modal.query_one(FailingTestsView)
        assert "number // 1.0" in str(code.content.code)  # type: ignore[union-attr]
        assert "failing" in str(tests.content.title)  # type: ignore[union-attr]
        # Beside, not under: the code's column ends where the editor's begins, same rows.
        assert code.region.right <= editor.region.x
        assert code.region.y < editor.region.bottom and editor.region.y < code.region.bottom
        # The cursor waits after the prefilled text; ctrl+a selects all of it.
        assert editor.text == FEEDBACK
        assert editor.cursor_location == editor.document.end
        await pilot.press("ctrl+a")
        assert editor.selected_text == FEEDBACK


async def test_editor_asks_before_discarding_typed_text(tmp_path: Path) -> None:
    app = task_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("down", "down", "e", "escape")  # nothing typed: closes at once
        assert isinstance(app.screen, TaskScreen)
        await pilot.press("e")
        editor = app.screen.query_one(FeedbackArea)
        await pilot.press("space", "A", "n", "d")
        assert editor.text == FEEDBACK + " And"
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")  # keep editing: the text is all there
        assert isinstance(app.screen, FeedbackEditorModal)
        assert app.screen.query_one(FeedbackArea).text == FEEDBACK + " And"
        await pilot.press("escape", "y")
        assert isinstance(app.screen, TaskScreen)
        assert app.store.human_feedback(1) == []


def queue_app(tmp_path: Path, *args: object) -> HarnessApp:
    db = tmp_path / "r.db"
    fixed_run(db)
    return HarnessApp(db, lambda: AnnotationScreen(1, *args))  # type: ignore[arg-type]


def title(screen: AnnotationScreen) -> str:
    return str(screen.query_one("#annotate-title", Static).content)


async def test_queue_goes_back_and_asks_before_losing_text(tmp_path: Path) -> None:
    app = queue_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, AnnotationScreen)
        assert len(app.store.annotation_queue(1)) >= 2
        first = screen.current
        assert first is not None and screen.check_action("previous", ()) is None
        await pilot.press("ctrl+n")  # skip the first, nothing typed: no question
        second = screen.current
        assert second is not None and second.id != first.id
        editor = screen.query_one(FeedbackArea)
        editor.insert("It floors.")
        await pilot.press("ctrl+n")  # typed text: asks
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        assert screen.current.id == second.id and editor.text == "It floors."
        await pilot.press("ctrl+b")  # previous also asks; yes goes back to the first
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        assert screen.current.id == first.id and editor.text == ""
        assert "0 skipped" in title(screen)  # going back un-skips it
        editor.insert("Use the remainder, not floor division.")
        await pilot.press("ctrl+s")
        assert screen.current.id == second.id
        await pilot.press("ctrl+b")  # back to the one just saved: its text, and a warning
        assert screen.current.id == first.id
        assert editor.text == "Use the remainder, not floor division."
        assert "annotated already" in title(screen)
        await pilot.press("escape")  # the text is what was saved: leaves without asking
        assert not isinstance(app.screen, ConfirmModal)


async def test_queue_scoped_to_some_tasks(tmp_path: Path) -> None:
    app = queue_app(tmp_path, ["HumanEval/999"], "unsolved: 1 task(s)")
    async with app.run_test(size=(120, 40)):
        screen = app.screen
        assert isinstance(screen, AnnotationScreen)
        assert screen.current is None  # no failing program in that task
        assert "unsolved: 1 task(s)" in title(screen) and "0 left" in title(screen)


async def test_run_screen_annotates_the_tasks_its_filter_shows(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "d.db"), load_samples=False, poll_interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.press("f", "f")  # unsolved
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        queue = app.screen
        assert isinstance(queue, AnnotationScreen)
        unsolved = [r.task_id for r in app.store.task_rows(1) if not r.solved]
        assert queue.task_ids == unsolved
        assert queue.current is None or queue.current.task_id in unsolved
        assert "unsolved" in title(queue)
        await pilot.press("escape")
        await pilot.press("f", "f", "a")  # all tasks again: the whole run
        await pilot.pause()
        assert isinstance(app.screen, AnnotationScreen) and app.screen.task_ids is None
