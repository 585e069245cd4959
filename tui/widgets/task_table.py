"""The Run screen's task table, its filters and search.

``filter_rows`` is pure: status filter, difficulty and a search over id, title and
(when given) the spec text. ``TaskTable.show`` updates only the cells that changed
when the same tasks are listed, so a live run does not reset the cursor or scroll.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from repair_tui.tui.untrusted import visible
from rich.text import Text
from textual.binding import Binding
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

    def on_mount(self) -> None:
        for key, label, right in COLUMNS:
            self.add_column(Text(label, justify="right" if right else "left"), key=key)

    def show(self, rows: Sequence[TaskRow]) -> None:
        """List these rows: cell updates if the same tasks are listed, else a rebuild."""
        fresh = {r.task_id: r for r in rows}
        if list(fresh) == list(self.rows_shown):
            for task_id, row in fresh.items():
                old = self.rows_shown[task_id]
                if row == old:
                    continue
                new_cells, old_cells = task_cells(row), task_cells(old)
                for key, _, _ in COLUMNS:
                    if new_cells[key] != old_cells[key]:
                        self.update_cell(task_id, key, new_cells[key])
            self.rows_shown = fresh
            return
        keep = self.selected_task_id()
        self.clear()
        for task_id, row in fresh.items():
            cells = task_cells(row)
            self.add_row(*(cells[k] for k, _, _ in COLUMNS), key=task_id)
        self.rows_shown = fresh
        if keep is not None and keep in fresh:
            self.move_cursor(row=self.get_row_index(keep), scroll=True)

    def selected_task_id(self) -> str | None:
        """The task under the cursor (None when the table is empty)."""
        if not self.row_count:
            return None
        value = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if value is None else str(value)
