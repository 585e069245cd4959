"""The Run screen's task table, its filters and search.

``filter_rows`` is pure: status filter, difficulty and a search over id, title and
(when given) the spec text. ``TaskTable.show`` updates only the cells that changed
when the same tasks are listed, so a live run does not reset the cursor or scroll.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from repair_tui.tui.untrusted import visible
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

if TYPE_CHECKING:
    from repair_tui.core.store.views import TaskRow

# Status filters: value -> label, in the order the filter key cycles through them.
STATUS_FILTERS: dict[str, str] = {
    "all": "all tasks",
    "solved": "solved",
    "unsolved": "unsolved",
    "repair": "solved only by repair",
}

# (column key, label, right-aligned)
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("task", "Task", False), ("difficulty", "Difficulty", False), ("status", "Status", False),
    ("programs", "Programs ok", True), ("repairs", "Repairs ok", True),
    ("feedback", "Feedback", True), ("tokens", "Tokens", True), ("title", "Spec", False),
)
TITLE_WIDTH = 60

# How each column sorts (the s key and a click on its header): a value per row.
SORT_KEYS: dict[str, Callable[[TaskRow], Any]] = {
    "task": lambda r: r.position,
    "difficulty": lambda r: (r.difficulty or "", r.position),
    "status": lambda r: (not r.solved, not r.solved_by_repair, not r.attempted, r.position),
    "programs": lambda r: (r.programs_passed, r.programs),
    "repairs": lambda r: (r.repairs_passed, r.repairs),
    "feedback": lambda r: (r.feedback, r.has_human_feedback),
    "tokens": lambda r: r.tokens,
    "title": lambda r: r.title.casefold(),
}


def sort_rows(rows: Sequence[TaskRow], column: str, reverse: bool = False) -> list[TaskRow]:
    """The rows ordered by one column (ties keep the run's task order)."""
    return sorted(rows, key=SORT_KEYS[column], reverse=reverse)


def shown_columns(rows: Sequence[TaskRow]) -> list[str]:
    """The column keys worth a column: Difficulty only when some task has one."""
    return [key for key, _, _ in COLUMNS
            if key != "difficulty" or any(r.difficulty for r in rows)]


def matches(row: TaskRow, status: str) -> bool:
    """Whether a task passes the status filter (all, solved, unsolved, repair)."""
    if status == "solved":
        return bool(row.solved)
    if status == "unsolved":
        return not row.solved and not row.in_progress
    if status == "repair":
        return bool(row.solved_by_repair)
    return True


def filter_rows(
    rows: Sequence[TaskRow],
    status: str = "all",
    difficulty: str | None = None,
    query: str = "",
    specs: Mapping[str, str] | None = None,
    found: Collection[str] = (),
) -> list[TaskRow]:
    """The rows that pass the status filter, the difficulty, and contain ``query``.

    The search is case-insensitive over the task id, the title and, when ``specs``
    maps task ids to spec texts, the whole spec; the tasks in ``found`` (those whose
    feedback or code the full-text index matched) match too.
    """
    needle = query.strip().lower()
    out = []
    for row in rows:
        if not matches(row, status) or (difficulty is not None and row.difficulty != difficulty):
            continue
        if needle:
            haystack = f"{row.task_id}\n{row.title}\n{(specs or {}).get(row.task_id, '')}"
            if needle not in haystack.lower() and row.task_id not in found:
                continue
        out.append(row)
    return out


def status_text(row: TaskRow) -> Text:
    """Solved (by a first program or only by repair), failing, pending or not started."""
    if row.solved_by_repair:
        return Text("✓ by repair", "bold cyan")
    if row.solved:
        return Text("✓ solved", "green")
    if row.in_progress:
        return Text("… in progress", "yellow")
    if row.attempted:
        text = Text("✗ unsolved", "red")
        if row.pending:
            text.append(" …", "yellow")
        return text
    if row.pending:
        return Text("… pending", "yellow")
    return Text("– not started", "dim")


def task_cells(row: TaskRow) -> dict[str, Text]:
    """One task's cells by column key."""
    title = visible(row.title, keep_newlines=False)
    title = title if len(title) <= TITLE_WIDTH else title[: TITLE_WIDTH - 1] + "…"
    feedback = f"{row.feedback}" + (" ★" if row.has_human_feedback else "")
    if row.explored:  # nodes explorations added, outside the counts
        feedback += f" +{row.explored}◇"
    return {
        "task": Text(visible(row.task_id), "bold"),
        "difficulty": Text(visible(row.difficulty or ""), "dim"),
        "status": status_text(row),
        "programs": Text(f"{row.programs_passed}/{row.programs}", justify="right"),
        "repairs": Text(f"{row.repairs_passed}/{row.repairs}", justify="right"),
        "feedback": Text(feedback, justify="right"),
        "tokens": Text(f"{row.tokens:,}", justify="right"),
        "title": Text(title),
    }


class TaskTable(DataTable[Text]):
    """A run's tasks with their counts; Enter opens the selected task's tree."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down",
                tooltip="Move the cursor down (as the down arrow)"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up",
                tooltip="Move the cursor up (as the up arrow)"),
        Binding("enter", "select_cursor", "Open task", id="run.open_task",
                tooltip="Open the selected task's repair tree"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.rows_shown: dict[str, TaskRow] = {}
        self.keys: list[str] = []  # the columns shown
        self.sort_column = "task"
        self.sort_reverse = False

    def _set_columns(self, keys: list[str]) -> None:
        self.clear(columns=True)
        self.rows_shown = {}
        labels = {key: (label, right) for key, label, right in COLUMNS}
        for key in keys:
            label, right = labels[key]
            mark = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_column else ""
            self.add_column(Text(label + mark, justify="right" if right else "left"), key=key)
        self.keys = keys

    def sort_by(self, column: str, rows: Sequence[TaskRow]) -> None:
        """Sort by ``column``; the same column again reverses the order."""
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, column in (
                "programs", "repairs", "feedback", "tokens")  # largest first
        self._set_columns(self.keys)
        self.show(rows)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.post_message(self.SortAsked(str(event.column_key.value)))

    class SortAsked(Message):
        """A click on a column header asked to sort by that column."""

        def __init__(self, column: str) -> None:
            super().__init__()
            self.column = column

    def show(self, rows: Sequence[TaskRow]) -> None:
        """List these rows: cell updates if the same tasks are listed, else a rebuild."""
        keys = shown_columns(rows) if rows else self.keys or [k for k, _, _ in COLUMNS]
        if keys != self.keys:
            self._set_columns(keys)
        rows = sort_rows(rows, self.sort_column, self.sort_reverse)
        fresh = {r.task_id: r for r in rows}
        if list(fresh) == list(self.rows_shown):
            for task_id, row in fresh.items():
                old = self.rows_shown[task_id]
                if row == old:
                    continue
                new_cells, old_cells = task_cells(row), task_cells(old)
                for key in self.keys:
                    if new_cells[key] != old_cells[key]:
                        self.update_cell(task_id, key, new_cells[key])
            self.rows_shown = fresh
            return
        keep = self.selected_task_id()
        self.clear()
        for task_id, row in fresh.items():
            cells = task_cells(row)
            self.add_row(*(cells[k] for k in self.keys), key=task_id)
        self.rows_shown = fresh
        if keep is not None and keep in fresh:
            self.move_cursor(row=self.get_row_index(keep), scroll=True)

    def selected_task_id(self) -> str | None:
        """The task under the cursor (None when the table is empty)."""
        if not self.row_count:
            return None
        value = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if value is None else str(value)
