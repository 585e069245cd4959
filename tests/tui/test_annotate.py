"""Pilot tests of the annotation queue: annotate, skip, repair every annotated program."""

from __future__ import annotations

from pathlib import Path

from harness import HarnessApp, fixed_run, sim_run
from repair_tui.core.store.store import Store
from repair_tui.tui.modals import ConfirmModal, RepairDialogModal
from repair_tui.tui.screens.annotate import AnnotationScreen
from repair_tui.tui.widgets.detail import CodeView, FailingTestsView
from textual.widgets import Markdown, Static, TextArea


def open_queue(db: Path) -> HarnessApp:
    return HarnessApp(db, lambda: AnnotationScreen(1))


def text(widget: Static) -> str:
    return str(widget.content)


async def test_annotate_skip_and_repair_all_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    await sim_run(db, task_ids=("HumanEval/1", "HumanEval/2"), np=2, nfr=1)
    with Store.open(db) as store:
        queue = store.annotation_queue(1)
        model_feedback_before = {n.id: n.text for n in store.iter_nodes(1)
                                 if n.kind == "feedback"}
    assert len(queue) >= 3  # the sim model fails some programs and some repairs
    app = open_queue(db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, AnnotationScreen)
        # The first failing program, in task order: spec, code, failing test, editor.
        first = queue[0]
        assert screen.current is not None and screen.current.id == first.id
        assert first.task_id in text(screen.query_one("#annotate-header", Static))
        assert "def " in screen.query_one("#annotate-spec", Markdown).source
        assert str(screen.query_one(CodeView).content.code) == first.code.rstrip("\n")  # type: ignore[union-attr]
        assert "failing" in str(screen.query_one(FailingTestsView).content.title)  # type: ignore[union-attr]
        assert f"{len(queue)} left" in text(screen.query_one("#annotate-title", Static))
        # Save an explanation: it is stored as human feedback and the next program shows.
        editor = screen.query_one(TextArea)
        assert app.focused is editor
        editor.insert("The loop never closes a group; track the depth.")
        await pilot.press("ctrl+s")
        assert screen.current is not None and screen.current.id == queue[1].id
        assert editor.text == ""
        # Saving an empty explanation is refused; skipping stores nothing.
        await pilot.press("ctrl+s")
        assert screen.current.id == queue[1].id
        assert any(sev == "error" and "empty" in m for sev, m in app.notices)
        await pilot.press("ctrl+n")
        assert screen.current is not None and screen.current.id == queue[2].id
        editor.insert("Off by one in the slice.")
        await pilot.press("ctrl+s")
        title = text(screen.query_one("#annotate-title", Static))
        assert "2 saved · 1 skipped" in title
        human = app.store.human_feedback(1)
        assert [h.parent_id for h in human] == [queue[0].id, queue[2].id]
        # Repair every annotated program: the dialog, then live progress to the end.
        await pilot.press("ctrl+r")
        assert isinstance(app.screen, RepairDialogModal)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        repairs = [r for h in human for r in app.store.children(h.id)]
        assert len(repairs) == 2 and all(r.passed is not None for r in repairs)
        progress = text(screen.query_one("#annotate-progress-text", Static))
        passing = sum(1 for r in repairs if r.passed)
        assert f"2 of 2 repairs executed, {passing} pass" in progress
        assert "human feedback:" in progress and "model feedback:" in progress
        assert any(m.startswith("repaired annotated programs: 2 program(s)")
                   for _, m in app.notices)
        # The annotation queue's work is an exploration: the run's sample has no human feedback.
        assert "human" not in app.store.origin_stats(1)
        stats = app.store.origin_stats(1, scope="explorations")
        assert stats["human"].repairs == 2 and stats["human"].repairs_executed == 2
        # Nothing is left to repair; the model's feedback was never touched.
        await pilot.press("ctrl+r")
        assert not isinstance(app.screen, RepairDialogModal)
        assert any("no human feedback waits" in m for _, m in app.notices)
        assert {n.id: n.text for n in app.store.iter_nodes(1)
                if n.kind == "feedback" and n.origin == "model"} == model_feedback_before


async def test_empty_queue_and_leaving_with_unsaved_text(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)  # three failing programs: p0, p1 and p1's repair
    app = open_queue(db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        for _ in range(3):
            await pilot.press("ctrl+n")
        assert screen.current is None
        assert "queue is empty" in text(screen.query_one("#annotate-header", Static))
        assert screen.check_action("save", ()) is None
        assert screen.check_action("repair_all", ()) is True
        assert screen.check_action("cancel_repairs", ()) is None
        # Unsaved text: leaving asks first; "Stay" keeps the screen.
        screen.query_one(TextArea).insert("half a thought")
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        assert app.screen is screen
        await pilot.press("escape", "y")
        await pilot.pause()
        assert not isinstance(app.screen, AnnotationScreen | ConfirmModal)
