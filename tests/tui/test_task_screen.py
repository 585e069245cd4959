"""Pilot tests of the Task screen: the tree, the detail per node kind, navigation, live updates.

The actions that call the engine are in test_task_screen_actions.py.
"""

from __future__ import annotations

from pathlib import Path

from harness import FEEDBACK, FIXED, HarnessApp, fixed_run
from repair_tui.core.store.store import Store
from repair_tui.tui.messages import DataChanged
from repair_tui.tui.screens.task import TaskScreen
from repair_tui.tui.widgets.detail import CodeView, FailingTestsView, NodeDetail
from repair_tui.tui.widgets.diff import DiffView
from repair_tui.tui.widgets.tree import RepairTree
from textual.widgets import Markdown, Static

TASK = "HumanEval/2"


def open_task(db: Path, task_id: str = TASK, run_id: int = 1) -> HarnessApp:
    return HarnessApp(db, lambda: TaskScreen(run_id, task_id))


def labels(tree: RepairTree) -> list[str]:
    return [str(t.label) for t in tree.walk()]


def shown(detail: NodeDetail) -> set[str]:
    return {c.id or "" for c in detail.children if c.display}


def rendered(widget: Static) -> str:
    return str(widget.content)


async def test_tree_shape_and_labels(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)):
        tree = app.screen.query_one(RepairTree)
        assert labels(tree) == [
            "spec HumanEval/2 · Given a positive floating point…",
            "✗ program p0 · 31 tok · wrong answer on test 1",
            "» feedback f0 (sim) · 28 tok · The program returns the integer part (`…",
            "✓ repair r0 (sim) · 33 tok",
            "✗ program p1 · 30 tok · wrong answer on test 1",
            "» feedback f0 (sim) · 28 tok · The program returns the integer part (`…",
            "✗ repair r0 (sim) · 33 tok · wrong answer on test 1",
            "✓ program p2 · 22 tok",
        ]
        # Shape: root -> 3 programs; p0 -> f0 -> r0; p2 is a leaf so far.
        root = tree.root
        assert [c.data.key for c in root.children] == [f"{TASK}|p0", f"{TASK}|p1", f"{TASK}|p2"]
        assert root.children[0].children[0].children[0].data.key == f"{TASK}|p0|f0|r0"
        assert tree.cursor_node is root


async def test_detail_for_each_kind(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        detail = screen.query_one(NodeDetail)
        # The spec at the root, as Markdown with the HumanEval prompt in a Python fence.
        assert shown(detail) == {"detail-header", "detail-text"}
        assert "def truncate_number" in detail.query_one(Markdown).source
        # A failing program: code with line numbers, failing test table, tokens.
        await pilot.press("down")
        assert shown(detail) == {"detail-header", "detail-code", "detail-tests"}
        header = rendered(detail.query_one("#detail-header", Static))
        assert "program p0" in header and "31 tokens" in header
        assert "failed: wrong answer on test 1" in header
        code = detail.query_one(CodeView).content
        assert "number // 1.0" in str(code.code)  # type: ignore[attr-defined]
        assert code.line_numbers  # type: ignore[attr-defined]
        table = detail.query_one(FailingTestsView).content
        cells = [c for row in table.rows() for c in row]  # type: ignore[attr-defined]
        assert {"1 wrong_answer", "assert candidate(3.5) == 0.5", "0.5", "3.0"} <= set(cells)
        assert "failed its only test" in str(table.title)  # type: ignore[attr-defined]
        # A feedback: model, origin, tokens and its text.
        await pilot.press("down")
        assert shown(detail) == {"detail-header", "detail-text"}
        header = rendered(detail.query_one("#detail-header", Static))
        assert "origin model" in header and "model sim" in header and "28 tokens" in header
        assert detail.query_one(Markdown).source == FEEDBACK
        # A repair: a diff against the program it repairs, and 'd' toggles to its code.
        await pilot.press("down")
        assert shown(detail) == {"detail-header", "detail-note", "detail-diff", "detail-tests"}
        diff = str(detail.query_one(DiffView).content)
        assert "-    return number // 1.0" in diff and "+    return number % 1.0" in diff
        assert "from feedback f0 (model)" in rendered(detail.query_one("#detail-header", Static))
        await pilot.press("d")
        assert shown(detail) == {"detail-header", "detail-note", "detail-code", "detail-tests"}
        assert str(detail.query_one(CodeView).content.code) == FIXED.rstrip()  # type: ignore[attr-defined]
        await pilot.press("d")
        assert "detail-diff" in shown(detail)


async def test_next_failing_previous_failing_and_solved(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one(RepairTree)

        async def keys_visited(*keys: str) -> list[str]:
            out = []
            for key in keys:
                await pilot.press(key)
                out.append(tree.selected.key.removeprefix(f"{TASK}|"))  # type: ignore[union-attr]
            return out

        assert await keys_visited("n", "n", "n", "n") == ["p0", "p1", "p1|f0|r0", "p0"]
        assert await keys_visited("p", "p") == ["p1|f0|r0", "p1"]
        await pilot.press("o")
        assert tree.selected is None
        assert await keys_visited("s", "s", "s") == ["p0|f0|r0", "p2", "p0|f0|r0"]
        assert any("solved path: p0 → f0 → r0" in m for _, m in app.notices)
        # A folded branch is unfolded to show the solved path.
        tree.root.children[0].collapse()
        await pilot.press("o", "s")
        assert tree.selected.key == f"{TASK}|p0|f0|r0"  # type: ignore[union-attr]
        assert tree.root.children[0].is_expanded


async def test_unavailable_actions_are_greyed(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen

        def enabled() -> set[str]:
            names = ("edit_feedback", "repair_feedback", "rerun_branch", "reexecute",
                     "copy_code", "toggle_diff", "cancel_actions", "next_failing")
            return {a for a in names if screen.check_action(a, ()) is True}

        assert enabled() == {"next_failing"}  # the spec
        await pilot.press("down")  # failing program p0
        assert enabled() == {"next_failing", "edit_feedback", "rerun_branch", "reexecute",
                             "copy_code"}
        await pilot.press("down")  # feedback
        assert enabled() == {"next_failing", "edit_feedback", "repair_feedback"}
        await pilot.press("down")  # passing repair
        assert enabled() == {"next_failing", "reexecute", "copy_code", "toggle_diff"}
        # Greyed actions do nothing when pressed anyway.
        await pilot.press("r")
        assert isinstance(app.screen, TaskScreen)
        # Bindings carry ids and descriptions (footer, help, palette).
        ids = {b.id for b in TaskScreen.BINDINGS if hasattr(b, "id")}  # type: ignore[union-attr]
        assert {"task.edit_feedback", "task.repair_feedback", "task.cancel_actions"} <= ids


async def test_copy_code(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("down", "down", "down", "c")
        assert app.clipboard == FIXED


async def test_update_from_another_writer_adds_only_new_nodes(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        tree = screen.query_one(RepairTree)
        before = {t.data.id: t for t in tree.walk() if t.data is not None}
        await pilot.press("down", "down")  # p0's feedback
        with Store.open(db) as other:  # another connection, as another process would
            p1 = other.get_node_by_key(1, f"{TASK}|p1")
            human = other.add_feedback(p1.id, "Another person's explanation.")
        screen.post_message(DataChanged())
        await pilot.pause()
        after = {t.data.id: t for t in tree.walk() if t.data is not None}
        assert set(after) - set(before) == {human.id}
        assert all(after[i] is before[i] for i in before)  # the same tree nodes: no rebuild
        assert str(after[human.id].label) == \
            "» feedback h0 (human) · 0 tok · Another person's explanation."
        assert after[human.id].parent is before[p1.id]
        assert tree.selected.key == f"{TASK}|p0|f0"  # type: ignore[union-attr]


async def test_in_the_real_app_with_its_polling_and_help(tmp_path: Path) -> None:
    from repair_tui.tui.app import RepairApp, key_help

    db = tmp_path / "r.db"
    fixed_run(db)
    app = RepairApp(db, load_samples=False, poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.open_screen("task", "TaskScreen", 1, TASK)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TaskScreen)
        tree = screen.query_one(RepairTree)
        assert len(list(tree.walk())) == 8
        # Another connection writes; the app's poll brings the new node into the tree.
        with Store.open(db) as other:
            p2 = other.get_node_by_key(1, f"{TASK}|p2")
            other.add_feedback(p2.id, "Fine as it is.")
        for _ in range(40):
            await pilot.pause(0.05)
            if len(list(tree.walk())) == 9:
                break
        assert [str(t.label) for t in tree.walk()][-1] == \
            "» feedback h0 (human) · 0 tok · Fine as it is."
        # The help lists the screen's keys with their descriptions.
        described = {desc for _, desc, _ in key_help(screen)}
        assert {"Next fail", "Edit feedback", "Repair", "Rerun branch", "Cancel"} <= described
        await pilot.press("escape")
        assert not isinstance(app.screen, TaskScreen)


async def test_deeper_levels_and_brackets_in_texts(tmp_path: Path) -> None:
    from repair_tui.core.store.records import NewNode
    from repair_tui.sandbox.result import Status, TestResult, Verdict

    db = tmp_path / "r.db"
    fixed_run(db)
    with Store.open(db) as store:  # a repair of the failing repair p1|f0|r0 (depth 2)
        r0 = store.get_node_by_key(1, f"{TASK}|p1|f0|r0")
        fb = store.add_feedback(r0.id, "Still [bold]wrong[/]: use %.", origin="model",
                                model="sim", tokens=9)
        code = "def truncate_number(number):\n    return number % 1.0\n"
        (deep,) = store.add_nodes(1, [NewNode(TASK, f"{fb.key}|r0", "program",
                                              parent_key=fb.key, model="sim", text=code,
                                              code=code, tokens=12)])
        store.record_verdict(deep.id, Verdict(False, [TestResult(
            0, Status.RUNTIME_ERROR, "[1, 2]", None, None, "IndexError", "[x] out of range", 2)],
            "fixed", fault="IndexError [x] on test 0"))
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one(RepairTree)
        assert labels(tree)[7:9] == ["» feedback f0 (sim) · 9 tok · Still [bold]wrong[/]: use %.",
                                     "✗ repair r0 (sim) · 12 tok · IndexError [x] on test 0"]
        assert tree.tree_node(deep.id).parent.parent.data.key == r0.key  # type: ignore[union-attr]
        await pilot.press("n", "n", "n", "n")  # p0, p1, p1|f0|r0, then the depth-2 repair
        assert tree.selected.id == deep.id  # type: ignore[union-attr]
        detail = app.screen.query_one(NodeDetail)
        diff = str(detail.query_one(DiffView).content)
        assert "+    return number % 1.0" in diff and "-    return number // 1.0" in diff
        await pilot.press("up")  # the feedback with bracketed text renders as Markdown
        assert detail.query_one(Markdown).source == "Still [bold]wrong[/]: use %."
        app.screen.notify("server said: [bold] [/x] nonsense")  # no markup error
        await pilot.pause()
        assert app.is_running


async def test_label_widths_match_the_drawn_labels_and_a_resize_relays_out(
        tmp_path: Path) -> None:
    """RepairTree measures a label without building it: the width must be what Tree's
    own measure (which renders the label) gives, folded or not; and a real terminal
    resize still lays the screen out again (only the first layout's echo is skipped)."""
    from textual.widgets import Tree

    db = tmp_path / "r.db"
    fixed_run(db)
    app = open_task(db)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one(RepairTree)
        nodes = list(tree.walk())
        assert any(n.allow_expand for n in nodes) and any(not n.allow_expand for n in nodes)
        for _ in ("unfolded", "a branch folded"):
            for node in nodes:
                assert tree.get_label_width(node) == Tree.get_label_width(tree, node)
            tree.root.children[0].collapse()
            await pilot.pause()
        await pilot.resize_terminal(90, 30)
        await pilot.pause()
        assert app.screen.size == (90, 30)
        assert tree.size.height < 30 and tree.region.right <= 90


async def test_opening_a_task_parses_no_stylesheet_and_keeps_the_collector_as_found(
        tmp_path: Path) -> None:
    """Right after start the app parses the Task screen's widget styles, so opening a
    task re-parses no stylesheet; the garbage collector's settings the app changed at
    start are back as they were once it ends."""
    import gc

    from repair_tui.tui.app import RepairApp
    from textual.css.stylesheet import Stylesheet

    db = tmp_path / "r.db"
    fixed_run(db)
    thresholds = gc.get_threshold()
    app = RepairApp(db, load_samples=False, poll_interval=60)
    parsed: list[int] = []
    parse = Stylesheet.parse

    def counted(self: Stylesheet) -> None:
        parsed.append(1)
        parse(self)

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert gc.get_threshold() != thresholds and gc.get_freeze_count() > 0
        Stylesheet.parse = counted  # type: ignore[method-assign]
        try:
            assert app.open_screen("task", "TaskScreen", 1, TASK)
            await pilot.pause()
            await pilot.press("down", "down", "down")  # a feedback, then a repair's diff
            await pilot.pause()
        finally:
            Stylesheet.parse = parse  # type: ignore[method-assign]
        assert isinstance(app.screen, TaskScreen) and parsed == []
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0


def test_spec_markdown_keeps_code_and_line_breaks() -> None:
    from repair_tui.core.datasets.load import load_dataset
    from repair_tui.sandbox.result import Status, TestResult
    from repair_tui.tui.widgets.detail import spec_markdown, tests_table
    from repair_tui.tui.widgets.diff import diff_stats, diff_text

    humaneval = load_dataset("humaneval", ids=["HumanEval/2"])[0]
    assert spec_markdown(humaneval) == f"```python\n{humaneval.spec.rstrip()}\n```"
    apps = load_dataset("apps-sample", limit=1)[0]
    text = spec_markdown(apps)
    assert "#### Input" in text and "-----Input-----" not in text
    assert "Input  \n6  \n3 5 5 6 8 2  \n" in text  # example lines stay lines
    # Notes for programs without a table, and the diff helpers.
    assert str(tests_table([], executed=False)) == "not executed yet"
    assert "imported" in str(tests_table([], executed=True))
    assert str(tests_table([TestResult(0, Status.PASSED)])) == "the test passed"
    assert diff_stats("a\nb\n", "a\nc\nd\n") == (2, 1)
    assert "no change" in str(diff_text("x = 1\n", "x = 1\n"))
