"""The Compare screen: runs marked on the Runs screen, side by side on their shared tasks.

It shows the overlaid pass@t chart, each run's best policy at matched budgets with the
paired difference, and the shared tasks (those the runs disagree on first). ``enter``
on a task opens its trees from every run side by side (``CompareTreesScreen``). The
numbers come from ``tui/comparison.py``, as in ``repair-tui compare``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from repair_tui.tui.untrusted import PlainNotifications, visible
from repair_tui.tui.widgets.compare_chart import CompareChart, amount_label
from repair_tui.tui.widgets.footer import QuietFooter
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

if TYPE_CHECKING:
    from repair_tui.core.store.store import Store
    from repair_tui.tui.comparison import Comparison

APP_BOOTSTRAP = 200  # resamples for the screen's intervals (the CLI defaults to 1000)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


class CompareScreen(PlainNotifications, Screen[None]):
    """Two or more runs compared on the tasks they share."""

    CSS_PATH = "compare.tcss"

    BINDINGS = [
        Binding("escape", "back", "Back", id="compare.back", tooltip="Back to the runs"),
        Binding("enter", "open_task", "Trees side by side", id="compare.open", show=True,
                tooltip="Open the selected task's trees from every run side by side"),
    ]

    def __init__(self, run_ids: list[int]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.comparison: Comparison | None = None

    @property
    def store(self) -> Store:
        return self.app.store  # type: ignore[attr-defined,no-any-return]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="compare-head")
        yield CompareChart(id="compare-chart")
        with Horizontal(id="compare-bottom"):
            yield DataTable(id="compare-best", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="compare-tasks", cursor_type="row", zebra_stripes=True)
        yield QuietFooter()

    def on_mount(self) -> None:
        self.query_one("#compare-chart").border_title = "pass@t: pass rate vs tokens"
        self.query_one("#compare-best").border_title = "best policy at matched budgets"
        self.query_one("#compare-tasks").border_title = "shared tasks (enter: trees)"
        self.load()

    def load(self) -> None:
        """Compare the runs (samples only) and fill the chart and tables."""
        from repair_tui.core.errors import UserError
        from repair_tui.core.formats.prices import load_prices
        from repair_tui.tui.comparison import CompareOptions, compare_runs

        names = [self.store.get_run_by_id(i).name for i in self.run_ids]
        prices = getattr(self.app, "prices", None) or load_prices(None)
        try:
            result = compare_runs(self.store, names, CompareOptions(bootstrap=APP_BOOTSTRAP), prices)
        except UserError as exc:
            self.app.notify(str(exc), severity="warning", markup=False)
            self.app.pop_screen()
            return
        self.comparison = result
        self.sub_title = " vs ".join(visible(n, keep_newlines=False) for n in names)
        self.query_one(CompareChart).show([(s.name, s.grid) for s in result.runs])
        self._head(result)
        self._best(result)
        self._tasks(result)
        self.query_one("#compare-tasks", DataTable).focus()

    def _head(self, c: Comparison) -> None:
        from repair_tui.core.estimate.costs import format_dollars

        head = Text(f"{len(c.runs[0].tasks)} shared tasks · ")
        for i, s in enumerate(c.runs):
            cost = s.cost
            prompt = "?" if cost.prompt is None else f"{cost.prompt:,}"
            dollars = "" if cost.dollars is None else f" {format_dollars(cost.dollars)}"
            head.append(("  " if i else "") + visible(s.name, keep_newlines=False), "bold")
            head.append(f": prompt {prompt} + completion {cost.completion:,} tok{dollars}")
        for note in c.notes:
            head.append(f"\nnote: {note}", "yellow")
        self.query_one("#compare-head", Static).update(head)

    def _best(self, c: Comparison) -> None:
        table = self.query_one("#compare-best", DataTable)
        table.add_column("budget", key="budget")
        for i, s in enumerate(c.runs):
            table.add_column(Text(visible(s.name, keep_newlines=False)[:18]), key=f"run{i}")
        if len(c.runs) == 2:
            table.add_column("A − B (95% CI)", key="diff")
        for k, budget in enumerate(c.budgets):
            cells: list[Any] = [amount_label(budget, c.unit)]
            for s in c.runs:
                b = s.best[k]
                what = f"k={b.np}" if b.nfr == 0 else f"{b.np}/{b.nfr}"
                cells.append("–" if b.pass_rate is None else f"{_pct(b.pass_rate)} {what}")
            if len(c.runs) == 2:
                d = c.pairs[0].differences[k]
                ci = "" if d.ci_low is None else f" ({100 * d.ci_low:+.1f}, {100 * (d.ci_high or 0):+.1f})"
                cells.append("–" if d.estimate is None else f"{100 * d.estimate:+.1f}{ci}")
            table.add_row(*cells)

    def _tasks(self, c: Comparison) -> None:
        from repair_tui.core.estimate.compare import solved

        table = self.query_one("#compare-tasks", DataTable)
        table.add_column("task", key="task")
        for i, s in enumerate(c.runs):
            table.add_column(Text(visible(s.name, keep_newlines=False)[:14]), key=f"run{i}")
        rows = []
        for j, task in enumerate(c.runs[0].tasks):
            marks = [solved(s.tasks[j]) for s in c.runs]
            rows.append((all(marks) or not any(marks), task.task_id, marks))
        for _, task_id, marks in sorted(rows, key=lambda r: r[0]):  # disagreements first
            table.add_row(Text(visible(task_id, keep_newlines=False)),  # text, not markup
                          *(Text("solved", "green") if m else Text("unsolved", "red") for m in marks),
                          key=task_id)

    def action_open_task(self) -> None:
        """Open the selected task's trees from every run side by side."""
        table = self.query_one("#compare-tasks", DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key is not None:
            self.app.push_screen(CompareTreesScreen(self.run_ids, str(key)))

    @on(DataTable.RowSelected, "#compare-tasks")
    def task_selected(self) -> None:
        self.action_open_task()

    def action_back(self) -> None:
        self.app.pop_screen()


class CompareTreesScreen(Screen[None]):
    """One task's repair trees from several runs, side by side."""

    CSS_PATH = "compare.tcss"

    BINDINGS = [Binding("escape", "back", "Back", id="compare_trees.back", tooltip="Back to the comparison")]

    def __init__(self, run_ids: list[int], task_id: str) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.task_id = task_id

    def compose(self) -> ComposeResult:
        from repair_tui.tui.widgets.tree import RepairTree

        yield Header()
        with Horizontal(id="compare-trees"):
            for i in range(len(self.run_ids)):
                with Vertical(classes="compare-tree-column"):
                    yield Static("", classes="compare-tree-title", id=f"compare-title-{i}")
                    yield RepairTree(id=f"compare-tree-{i}")
        yield QuietFooter()

    def on_mount(self) -> None:
        from repair_tui.core.store.views import spec_title
        from repair_tui.tui.widgets.tree import RepairTree

        store: Store = self.app.store  # type: ignore[attr-defined]
        self.sub_title = visible(self.task_id, keep_newlines=False)
        for i, run_id in enumerate(self.run_ids):
            run = store.get_run_by_id(run_id)
            title = spec_title(store.get_task(run_id, self.task_id).spec)
            self.query_one(f"#compare-title-{i}", Static).update(
                Text(visible(run.name, keep_newlines=False), "bold"))
            tree = self.query_one(f"#compare-tree-{i}", RepairTree)
            tree.load(self.task_id, title, store.task_nodes(run_id, self.task_id))
            tree.root.expand_all()
        self.query_one("#compare-tree-0").focus()

    def action_back(self) -> None:
        self.app.pop_screen()
