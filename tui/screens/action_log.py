"""The action log: every action started and every notice shown since the app started.

Toasts vanish after a few seconds; this keeps them, newest at the bottom. The app
records the entries (``RepairApp.record``); this screen only shows a copy of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from repair_tui.tui.widgets.footer import QuietFooter
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

if TYPE_CHECKING:
    from repair_tui.tui.app import LogEntry

STYLES = {"error": "bold red", "warning": "yellow", "started": "cyan", "information": "green"}
LABELS = {"information": "done", "started": "started", "warning": "warning", "error": "error"}


def log_table(entries: Sequence[LogEntry]) -> Table | Text:
    """The entries as a table (time, kind, text), text wrapping at the screen's width."""
    if not entries:
        return Text("Nothing done yet: actions and their results appear here.", style="dim")
    table = Table(expand=True, show_edge=False, pad_edge=False, box=None)
    table.add_column("time", no_wrap=True, style="dim")
    table.add_column("kind", no_wrap=True)
    table.add_column("what", ratio=1, overflow="fold")
    for entry in entries:
        table.add_row(entry.time, Text(LABELS.get(entry.severity, entry.severity),
                                       STYLES.get(entry.severity, "")), Text(entry.text))
    return table


class ActionLogScreen(Screen[None]):
    """The app's actions and notices so far, newest last; escape closes it."""

    BINDINGS = [
        Binding("escape,l,q", "close", "Close", id="log.close",
                tooltip="Back to the previous screen"),
    ]

    def __init__(self, entries: Sequence[LogEntry]) -> None:
        super().__init__()
        self.entries = list(entries)

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="log-body"):
            yield Static(log_table(self.entries), id="log-entries")
        yield QuietFooter()

    def on_mount(self) -> None:
        self.sub_title = f"Action log: {len(self.entries)} entries since the app started"
        self.query_one("#log-body", VerticalScroll).scroll_end(animate=False)

    def action_close(self) -> None:
        """Back to the screen the log was opened from."""
        self.dismiss()
