"""What a node shows: the call behind it (v), the tests at a failing assertion (t), the
repair's model and the feedback's first words in the tree, the failing tests in blocks
when narrow, and APPS starter code with its indentation."""

from __future__ import annotations

from pathlib import Path

from harness import FEEDBACK, HarnessApp, fixed_run, sim_run
from repair_tui.core.datasets.apps import make_spec
from repair_tui.core.datasets.task import Task
from repair_tui.sandbox.result import Status
from repair_tui.sandbox.result import TestResult as Outcome
from repair_tui.tui.screens.task import TaskScreen
from repair_tui.tui.widgets import detail
from repair_tui.tui.widgets.detail import CodeView, FailingTests, spec_markdown
from repair_tui.tui.widgets.tree import RepairTree, node_label
from rich.console import Console
from textual.widgets import Static

TASK = "HumanEval/2"


def shown(widget: Static) -> str:
    return str(widget.content) if not hasattr(widget.content, "plain") else \
        widget.content.plain  # type: ignore[union-attr]


async def test_v_shows_the_prompt_and_raw_completion_of_the_call(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    await sim_run(db, task_ids=("HumanEval/2",), np=1, nfr=1)
    app = HarnessApp(db, lambda: TaskScreen(1, TASK))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, TaskScreen)
        await pilot.press("down", "v")
        program = screen.selected
        assert program is not None and program.kind == "program"
        call = app.store.get_call(program.call_id)
        raw = shown(screen.query_one("#detail-raw", Static))
        header = shown(screen.query_one("#detail-header", Static))
        assert f"the call that made {program.key.rsplit('|', 1)[-1]}" in header
        assert f"model {call.model}" in header and "generate" in header
        assert "── user ──" in raw and "completion (raw" in raw
        assert str(call.messages[-1]["content"]).strip().splitlines()[0] in raw
        assert (program.text or "").strip().splitlines()[0] in raw
        await pilot.press("v")  # again: back to the program
        assert screen.detail.mode == "node"
        assert screen.query_one("#detail-raw").display is False


async def test_v_on_human_feedback_says_no_call(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = HarnessApp(db, lambda: TaskScreen(1, TASK))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, TaskScreen)
        screen.save_feedback(screen.tree.stored_nodes()[0].id, "Use the remainder.")
        await pilot.pause()
        await pilot.press("v")
        assert "no model call: made by human" in shown(screen.query_one("#detail-header",
                                                                       Static))


async def test_t_leads_to_the_failing_assertion_line(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = HarnessApp(db, lambda: TaskScreen(1, TASK))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, TaskScreen)
        await pilot.press("down")  # p0: its stored assertion failed at line 9 of the tests
        result = app.store.test_results(screen.selected.id)[0]  # type: ignore[union-attr]
        assert result.error_type == "AssertionError" and result.line == 9
        await pilot.press("t")
        await pilot.pause()
        code = screen.query_one(CodeView).content
        assert code.highlight_lines == {9}  # type: ignore[union-attr]
        assert "def check(candidate)" in code.code.splitlines()[8]  # type: ignore[union-attr]
        assert "line 9 is the failing assertion" in shown(
            screen.query_one("#detail-header", Static))
        view = screen.query_one(CodeView)
        line_y = view.virtual_region.y + 8  # the marked line is in view
        assert screen.detail.scroll_y <= line_y < screen.detail.scroll_y + screen.detail.size.height
        await pilot.press("t")
        assert screen.detail.mode == "node"


def test_an_assertion_line_is_said_to_be_the_tests() -> None:
    failing = Outcome(0, Status.WRONG_ANSWER, "assert f(1) == 2", "2", "3",
                         "AssertionError", None, 10)
    crash = Outcome(0, Status.RUNTIME_ERROR, "1", None, None, "ZeroDivisionError",
                       "division by zero", 3)
    assert FailingTests([failing]).rows()[0][4] == \
        "AssertionError at line 10 of the tests (t shows them)"
    assert FailingTests([crash]).rows()[0][4] == "ZeroDivisionError division by zero at line 3"


def test_a_programs_output_is_text_not_markup() -> None:
    # What a program prints is drawn as it is: "[/oops]" made rich raise (the app went
    # down on that node), and a [link=...] tag forged a hyperlink in the table.
    got = "[/oops] [bold green]PASSED[/] [link=https://evil.example]x[/link]"
    out = Outcome(0, Status.WRONG_ANSWER, "[i]1", "2", got, None, None, None)
    console = Console(width=160, record=True, force_terminal=True)
    console.print(FailingTests([out]).table())
    text, ansi = console.export_text(), console.export_text(styles=True)
    assert "[/oops] [bold green]PASSED[/] [link=https://evil.example]x[/link]" in text
    assert "[i]1" in text and "evil.example" not in ansi.replace(got, "")


def rendered(renderable: object, width: int) -> str:
    console = Console(width=width, record=True)
    console.print(renderable)
    return console.export_text()


def test_failing_tests_fit_a_narrow_pane() -> None:
    long_got = "x" * 70
    result = Outcome(1, Status.WRONG_ANSWER, "1 2 3", "6", long_got, None, None, None)
    table = detail.tests_table([Outcome(0, Status.PASSED), result])
    narrow = rendered(table, 44)
    assert "test 2 wrong_answer" in narrow
    assert "got" in narrow and "x" * 30 in narrow  # every field is there, folded
    assert all(len(line) <= 44 for line in narrow.splitlines())
    wide = rendered(table, 140)
    assert "┃ test" in wide and "expected" in wide  # a table when it fits


def test_tree_shows_the_repair_model_and_a_feedback_preview(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    from repair_tui.core.store.store import Store

    with Store.open(db) as store:
        nodes = store.task_nodes(1, TASK)
    feedback = next(n for n in nodes if n.kind == "feedback")
    repair = next(n for n in nodes if n.kind == "program" and n.parent_id is not None)
    assert FEEDBACK[:20] in node_label(feedback).plain
    assert "repair r0 (sim)" in node_label(repair).plain
    assert "(sim)" not in node_label(nodes[0]).plain.split("·")[0]  # first programs: run's model


def test_apps_starter_code_keeps_its_indentation() -> None:
    starter = "class Solution:\n    def solve(self, n: int) -> int:\n        "
    task = Task(id="test/0001", source="apps", tests={}, starter_code=starter,
                spec=make_spec("Add one.\n  (two spaces)\n-----Input-----\n3", starter,
                               call_based=True))
    md = spec_markdown(task)
    assert "```python\nclass Solution:\n    def solve(self, n: int) -> int:\n```" in md
    assert "\u00a0\u00a0(two spaces)" in md
    assert "#### Input" in md


async def test_tree_labels_reach_the_screen(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = HarnessApp(db, lambda: TaskScreen(1, TASK))
    async with app.run_test(size=(120, 40)):
        tree = app.screen.query_one(RepairTree)
        labels = [str(t.label) for t in tree.walk()]
        assert any("feedback f0 (sim)" in s and "The program returns" in s for s in labels)
