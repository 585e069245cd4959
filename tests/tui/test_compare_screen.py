"""The Compare screen: marking runs, the comparison, trees side by side, the chart."""

from __future__ import annotations

from pathlib import Path

from harness import HarnessApp
from repair_tui.core.estimate.exact import FrozenTask, Sample
from repair_tui.core.estimate.grid import grid
from repair_tui.core.store.store import Store
from repair_tui.tui.screens.compare import CompareScreen, CompareTreesScreen
from repair_tui.tui.screens.runs import RunsScreen
from repair_tui.tui.widgets.compare_chart import draw_overlay
from repair_tui.tui.widgets.tree import RepairTree
from textual.widgets import DataTable


async def test_mark_compare_and_open_trees(samples_db: Path) -> None:
    app = HarnessApp(samples_db, RunsScreen)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await pilot.press("c")  # nothing marked yet
        assert isinstance(app.screen, RunsScreen) and "Mark two runs" in app.notices[-1][1]
        await pilot.press("down", "space", "down", "space", "space", "space")
        assert app.screen.marked == [2, 3]  # type: ignore[attr-defined]
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.comparison is not None
        best = screen.query_one("#compare-best", DataTable)
        assert best.row_count == len(screen.comparison.budgets) == 6
        tasks = screen.query_one("#compare-tasks", DataTable)
        assert tasks.row_count == 164
        # The tasks the runs disagree on come first.
        first = [str(tasks.coordinate_to_cell_key((r, 0)).row_key.value) for r in range(3)]
        assert sorted(first) == ["HumanEval/56", "HumanEval/64", "HumanEval/85"]
        await pilot.press("enter")
        await pilot.pause()
        trees = app.screen
        assert isinstance(trees, CompareTreesScreen) and trees.task_id == first[0]
        loaded = list(trees.query(RepairTree))
        assert len(loaded) == 2 and all(len(t.root.children) == 10 for t in loaded)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, RunsScreen)


async def test_runs_sharing_no_task_notify_and_stay(samples_db: Path) -> None:
    app = HarnessApp(samples_db, RunsScreen)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await pilot.press("space", "down", "space", "c")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        assert "share no task" in app.notices[-1][1]


def test_overlay_draws_every_run_in_its_own_marker_within_its_size() -> None:
    a = grid([FrozenTask(str(i), (Sample(10, i % 2 == 0, (Sample(15, True),)), Sample(12, False)))
              for i in range(8)], [1, 2], [1], bootstrap=0)
    b = grid([FrozenTask(str(i), (Sample(20, i % 3 == 0, (Sample(30, False),)), Sample(22, True)))
              for i in range(8)], [1, 2], [1], bootstrap=0)
    text = draw_overlay([("run-a", a), ("run\x1b[2Jb", b)], 60, 14)
    lines = text.plain.split("\n")
    assert len(lines) <= 14 and all(len(line) <= 60 for line in lines)
    assert "run-a" in lines[0] and "␛" in lines[1] and "\x1b" not in text.plain
    body = "\n".join(lines[2:])
    assert "●" in body and "▲" in body and "tokens" in lines[-1]
    assert "too small" in draw_overlay([("a", a)], 10, 4).plain


async def test_run_names_and_task_ids_are_text_not_markup(samples_db: Path) -> None:
    # DataTable parses plain strings as markup: "[/oops]" raised MarkupError, which took
    # the app down. Names and task ids are drawn as they are.
    with Store.open(samples_db) as store:
        for run_id, name in ((2, "[/oops]"), (3, "[link=https://evil.example]x[/link]")):
            store.rename_run(run_id, name)
    app = HarnessApp(samples_db, RunsScreen)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await pilot.press("down", "space", "down", "space", "c")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.comparison is not None
        labels = [str(c.label) for c in screen.query_one("#compare-tasks", DataTable).columns.values()]
        assert labels[1:] == ["[/oops]", "[link=https://"]

