"""The Runs screen: a live table of every run in the database; Enter opens one.

The columns come most important first (name, status, solved), so a narrow terminal
cuts the least useful; the line under the table holds the selected run's full
details (the sandbox's whole isolation text among them). ``s`` sorts by when runs
were added, created, name or solved share.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair_tui.core.errors import UserError
from repair_tui.tui.cli.runs_cmd import short_isolation
from repair_tui.tui.messages import DataChanged, SamplesLoading
from repair_tui.tui.untrusted import PlainNotifications, visible
from repair_tui.tui.widgets.footer import QuietFooter
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, ProgressBar, Static

if TYPE_CHECKING:
    from repair_tui.core.store.views import RunSummary
    from repair_tui.tui.app import RepairApp

# (column key, label, right-aligned), most important first: at 80 columns the name,
# status, solved share, tasks and models are in view.
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("name", "Name", False), ("status", "Status", False), ("solved", "Solved/att.", True),
    ("tasks", "Tasks", True), ("dataset", "Dataset", False), ("model", "Code model", False),
    ("feedback", "Feedback model", False), ("policy", "np/nfr mode", False),
    ("tokens", "Tokens", True), ("programs", "Programs", True), ("repairs", "Repairs", True),
    ("created", "Created", False), ("executor", "Executor", False),
    ("isolation", "Isolation", False),
)

# Sort orders the s key cycles through: name shown, and the key of a summary.
SORTS: dict[str, str] = {"added": "the order they were added", "created": "created",
                         "name": "name", "solved": "solved share"}

STATUS_STYLE = {
    "running": "bold yellow", "finished": "green", "interrupted": "magenta", "failed": "red",
    "imported": "cyan",
}

EMPTY = (
    "No runs in this database yet. Start one with `repair-tui run`, or load a file with "
    "`repair-tui import`; this table fills in as soon as a run writes."
)


def sort_key(order: str, s: RunSummary) -> tuple[Any, ...]:
    """Where a run goes in ``order``: added to this database, created (an import keeps
    its original time; oldest first), name, or solved share (best first)."""
    if order == "added":
        return (s.id,)
    if order == "name":
        return (s.name.casefold(), s.id)
    if order == "solved":
        share = s.solved / s.attempted if s.attempted else -1.0
        return (-share, -s.solved, s.id)
    return (s.created_utc, s.id)


def run_details(s: RunSummary) -> Text:
    """The selected run in full: what the table shortens or leaves out at this width."""
    models = s.model + (f" (feedback: {s.feedback_model})" if s.feedback_model else "")
    share = f" ({100 * s.solved / s.attempted:.1f}%)" if s.attempted else ""
    text = Text()
    text.append(visible(s.name, keep_newlines=False), "bold")
    text.append(visible(f" · {s.status} · {s.dataset} · {models} · np {s.np} nfr {s.nfr} "
                        f"{s.mode} depth {s.depth} · solved {s.solved} of {s.attempted} "
                        f"attempted{share}, {s.tasks} tasks · {s.programs:,} programs, "
                        f"{s.repairs:,} repairs, {s.tokens:,} tokens", keep_newlines=False))
    text.append("\n" + visible(f"isolation {s.isolation} · executor {s.executor} · created "
                               f"{s.created_utc.replace('T', ' ')}", keep_newlines=False), "dim")
    return text


def run_cells(s: RunSummary) -> dict[str, Text]:
    """The table cells of one run, by column key."""
    share = f" ({100 * s.solved / s.attempted:.0f}%)" if s.attempted else ""
    text = {
        "name": s.name, "dataset": s.dataset, "model": s.model + (" (sim)" if s.simulated and not s.model.startswith("sim") else ""),
        "feedback": s.feedback_model or "= code model", "policy": f"{s.np}/{s.nfr} {s.mode}",
        "tasks": f"{s.tasks:,}", "solved": f"{s.solved:,}/{s.attempted:,}{share}",
        "programs": f"{s.programs:,}", "repairs": f"{s.repairs:,}", "tokens": f"{s.tokens:,}",
        "executor": s.executor, "isolation": short_isolation(s.isolation), "status": s.status,
        "created": s.created_utc[:16].replace("T", " "),
    }
    right = {key for key, _, r in COLUMNS if r}
    cells = {k: Text(visible(v, keep_newlines=False), justify="right" if k in right else "left")
             for k, v in text.items()}
    cells["status"].stylize(STATUS_STYLE.get(s.status, ""))
    if s.feedback_model is None:
        cells["feedback"].stylize("dim")
    return cells


class RunTable(DataTable[Text]):
    """The runs, one row each, keyed by run id."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down",
                tooltip="Move the cursor down (as the down arrow)"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up",
                tooltip="Move the cursor up (as the up arrow)"),
        Binding("enter", "select_cursor", "Open run", id="runs.open",
                tooltip="Open the selected run: tallies, pass@t chart and tasks"),
    ]


class RunsScreen(PlainNotifications, Screen[None]):
    """Every run in the database, updated while runs write."""

    BINDINGS = [
        Binding("r", "reload", "Reload", id="runs.reload", show=False,
                tooltip="Read the runs again now (it happens by itself every half second)"),
        Binding("s", "cycle_sort", "Sort", id="runs.sort",
                tooltip="Sort the runs by when they were added, created, name or solved share"),
        Binding("space", "toggle_mark", "Mark", id="runs.mark",
                tooltip="Mark or unmark the selected run for comparing"),
        Binding("c", "compare", "Compare", id="runs.compare",
                tooltip="Compare the marked runs (two or more) on the tasks they share"),
        Binding("delete", "delete_run", "Delete", id="runs.delete", show=False,
                tooltip="Delete the selected run and everything in it (asks first)"),
        Binding("n", "rename_run", "Rename", id="runs.rename", show=False,
                tooltip="Give the selected run a new name"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.summaries: dict[int, RunSummary] = {}
        self.marked: list[int] = []  # run ids marked for comparing, in marking order
        self.sort_by = "added"

    @property
    def repair_app(self) -> RepairApp:
        return self.app  # type: ignore[return-value,unused-ignore]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(EMPTY, id="runs-empty")
        yield ProgressBar(id="runs-loading", show_eta=False)
        yield RunTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="runs-detail")
        yield QuietFooter()

    def on_mount(self) -> None:
        # The file name only: the full path is in `repair-tui runs`, and it keeps
        # screenshots of the same database alike wherever it lives.
        self.sub_title = f"Runs in {Path(self.repair_app.store.label).name}"
        self.show_loading(SamplesLoading(getattr(self.repair_app, "sample_progress", None)))
        table = self.query_one(RunTable)
        for key, label, right in COLUMNS:
            table.add_column(Text(label, justify="right" if right else "left"), key=key)
        self.refresh_runs()
        table.focus()

    def on_screen_resume(self) -> None:
        # Changes made while another screen was on top were posted there.
        self.refresh_runs()

    @on(DataChanged)
    def refresh_on_change(self) -> None:
        self.refresh_runs()

    @on(SamplesLoading)
    def show_loading(self, message: SamplesLoading) -> None:
        """While the sample runs import into an empty database, say so with a bar."""
        bar = self.query_one("#runs-loading", ProgressBar)
        bar.display = message.progress is not None
        empty = self.query_one("#runs-empty", Static)
        if message.progress is None:
            empty.update(EMPTY)
            return
        done, total, name = message.progress
        if total:
            bar.update(total=total, progress=done)
        step = f" ({done + 1} of {total}: {visible(name, keep_newlines=False)})" if name else ""
        empty.update(f"Importing the bundled sample runs into this empty database{step}. "
                     "They appear here as each one is stored.")

    def refresh_runs(self) -> None:
        """Re-read the runs; update only the cells that changed, unless the order moved."""
        table = self.query_one(RunTable)
        fresh = {s.id: s for s in self.repair_app.store.list_runs()}
        self.marked = [m for m in self.marked if m in fresh]
        order = [str(s.id) for s in sorted(fresh.values(), key=lambda s: sort_key(self.sort_by, s))]
        if [row.key.value for row in table.ordered_rows] != order:
            self._rebuild(fresh, order)
        else:
            for run_id, summary in fresh.items():
                old = self.summaries.get(run_id)
                if old == summary:
                    continue
                cells, before = self._cells(summary), self._cells(old) if old else {}
                for key, _, _ in COLUMNS:
                    if cells[key] != before.get(key):
                        table.update_cell(str(run_id), key, cells[key], update_width=True)
        self.summaries = fresh
        self.query_one("#runs-empty").display = not fresh
        table.display = bool(fresh)
        self.query_one("#runs-detail").display = bool(fresh)
        self.show_details()

    def _cells(self, summary: RunSummary) -> dict[str, Text]:
        cells = run_cells(summary)
        cells["name"] = self._name_cell(summary)
        return cells

    def _rebuild(self, fresh: dict[int, RunSummary], order: list[str]) -> None:
        table = self.query_one(RunTable)
        keep = self.selected_run_id()
        table.clear()
        for key in order:
            cells = self._cells(fresh[int(key)])
            table.add_row(*(cells[k] for k, _, _ in COLUMNS), key=key)
        if keep is not None and str(keep) in order:
            table.move_cursor(row=order.index(str(keep)), animate=False)

    @on(DataTable.RowHighlighted, "#runs-table")
    def show_details(self) -> None:
        """The selected run's full details under the table."""
        run_id = self.selected_run_id()
        summary = self.summaries.get(run_id) if run_id is not None else None
        self.query_one("#runs-detail", Static).update(
            run_details(summary) if summary is not None else "")

    def action_cycle_sort(self) -> None:
        """Sort by the next order: added, created, name, solved share."""
        orders = list(SORTS)
        self.sort_by = orders[(orders.index(self.sort_by) + 1) % len(orders)]
        self.notify(f"runs sorted by {SORTS[self.sort_by]}", timeout=2)
        self.refresh_runs()

    def action_toggle_mark(self) -> None:
        """Mark or unmark the run under the cursor for comparing (a ✓ before its name)."""
        run_id = self.selected_run_id()
        if run_id is None:
            return
        if run_id in self.marked:
            self.marked.remove(run_id)
        else:
            self.marked.append(run_id)
        summary = self.summaries[run_id]
        self.query_one(RunTable).update_cell(str(run_id), "name", self._name_cell(summary), update_width=True)
        self.refresh_bindings()

    def _name_cell(self, summary: RunSummary) -> Text:
        cell = run_cells(summary)["name"]
        if summary.id in self.marked:
            return Text.assemble(("✓ ", "bold green"), cell)
        return cell

    def action_compare(self) -> None:
        """Open the Compare screen on the marked runs."""
        if len(self.marked) < 2:
            self.notify("Mark two runs or more with space, then press c.", severity="warning")
            return
        from repair_tui.tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(list(self.marked)))

    def action_reload(self) -> None:
        """Read the runs again now."""
        self.refresh_runs()

    def action_delete_run(self) -> None:
        """Delete the selected run, after a confirmation naming what goes with it."""
        run_id = self.selected_run_id()
        if run_id is None:
            return
        s = self.summaries[run_id]
        from repair_tui.tui.modals import ConfirmModal

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.repair_app.store.delete_run(run_id)
            except UserError as exc:
                self.notify(visible(str(exc), keep_newlines=False), title="Run not deleted",
                            severity="error")
                return
            self.notify(visible(f"deleted run {s.name}", keep_newlines=False))
            self.refresh_runs()

        self.app.push_screen(ConfirmModal(
            visible(f"Delete run {s.name!r} with its {s.tasks} tasks, {s.programs + s.repairs:,} "
                    "programs and all its explorations? This cannot be undone.",
                    keep_newlines=False), yes="Delete", no="Keep"), answered)

    def action_rename_run(self) -> None:
        """Rename the selected run."""
        run_id = self.selected_run_id()
        if run_id is None:
            return
        old = self.summaries[run_id].name
        from repair_tui.tui.modals import RenameModal

        def chosen(name: str | None) -> None:
            if name is None or name == old:
                return
            try:
                self.repair_app.store.rename_run(run_id, name)
            except UserError as exc:
                self.notify(visible(str(exc), keep_newlines=False), title="Run not renamed",
                            severity="error")
                return
            self.notify(visible(f"renamed run {old} to {name}", keep_newlines=False))
            self.refresh_runs()

        self.app.push_screen(RenameModal(old, title=visible(f"New name for run {old}",
                                                             keep_newlines=False)), chosen)

    @on(RunTable.RowSelected)
    def open_run(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.repair_app.open_screen("run", "RunScreen", int(event.row_key.value))

    def selected_run_id(self) -> int | None:
        """The id of the run under the cursor (None when the table is empty)."""
        table = self.query_one(RunTable)
        if not table.row_count:
            return None
        key: Any = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key)
