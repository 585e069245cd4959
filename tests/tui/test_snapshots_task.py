"""Snapshots of the Task screen, its dialogs and the annotation queue at 120 x 40.

The database is harness.fixed_run: hand-made verdicts and fixed texts, so the pictures
change only when the screens do (not with the simulated model or the machine's
sandbox). Read the report before `pytest --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import HarnessApp, fixed_run, settle
from repair_tui.tui.screens.annotate import AnnotationScreen
from repair_tui.tui.screens.task import TaskScreen
from textual.pilot import Pilot

SIZE = (120, 40)
TASK = "HumanEval/2"


def task_app(tmp_path: Path) -> HarnessApp:
    db = tmp_path / "r.db"
    fixed_run(db)
    return HarnessApp(db, lambda: TaskScreen(1, TASK))


def pressing(*keys: str) -> Callable[[Pilot[Any]], Any]:
    """Settle, press the keys one at a time (each settling), settle: one state only."""

    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return before


def test_task_screen_program(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    """Left: the tree (spec; p0 failing with f0 and its passing repair; p1 failing with a
    failing repair; p2 passing), marks, tokens and faults. Right: p0 failed with
    wrong answer on test 1, 31 tokens, its code with line numbers, and the failing-test
    table (input, expected 0.5, got 3.0, AssertionError line 9). Footer: the main keys."""
    assert snap_compare(task_app(tmp_path), terminal_size=SIZE, run_before=pressing("down"))


def test_task_screen_feedback(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    """p0's feedback f0 selected: origin model, 28 tokens, model sim, explains p0 with its
    fault, and the feedback text rendered as Markdown."""
    assert snap_compare(task_app(tmp_path), terminal_size=SIZE,
                        run_before=pressing("down", "down"))


def test_task_screen_repair_diff(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    """The passing repair r0 of p0 selected: passed, 33 tokens, from feedback f0 (model),
    a +1 -1 diff replacing `number // 1.0` with `number % 1.0` (red and green), and
    'the test passed'."""
    assert snap_compare(task_app(tmp_path), terminal_size=SIZE,
                        run_before=pressing("down", "down", "down"))


def test_repair_dialog(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    """The repair dialog over the Task screen, titled 'Repair from f0', with the run's
    defaults: 1 repair, model sim, temperature 0.8, and Cancel / Repair buttons."""
    assert snap_compare(task_app(tmp_path), terminal_size=SIZE,
                        run_before=pressing("down", "down", "r"))


def test_feedback_editor(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    """The feedback editor over the Task screen, titled 'Feedback on p0 (edited from f0)',
    prefilled with f0's text, with the note that saving keeps the original."""
    assert snap_compare(task_app(tmp_path), terminal_size=SIZE,
                        run_before=pressing("down", "down", "e"))


def test_annotation_queue(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    """The annotation queue on p0: title with 3 left, 0 saved, 0 skipped; the header
    (HumanEval/2, program p0, the fault, 31 tokens), the spec, the code and the failing
    test on the left; the empty editor and the key hints on the right."""
    db = tmp_path / "r.db"
    fixed_run(db)
    app = HarnessApp(db, lambda: AnnotationScreen(1))
    assert snap_compare(app, terminal_size=SIZE, run_before=pressing())
