"""The help screen: every key of the screen it was opened from, with what it does."""

from __future__ import annotations

from collections.abc import Sequence

from repair_tui.tui.widgets.footer import QuietFooter
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

INTRO = (
    "Keys of the screen below (also in the footer and in the command palette, ctrl+p). "
    "The app re-reads the database every half second, so counts, the chart and the "
    "task table follow a run written by another process."
)


class HelpScreen(Screen[None]):
    """Lists (keys, action, detail) rows given by the app; escape closes it."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close", id="help.close",
                tooltip="Back to the previous screen"),
    ]

    def __init__(self, keys: Sequence[tuple[str, str, str]]) -> None:
        super().__init__()
        self.keys = list(keys)

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="help-body"):
            yield Static(INTRO, id="help-intro")
            yield DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
        yield QuietFooter()

    def on_mount(self) -> None:
        self.sub_title = "Help"
        table = self.query_one("#help-keys", DataTable)
        table.add_columns("Keys", "Action", "What it does")
        for keys, description, tooltip in self.keys:
            table.add_row(keys, description, tooltip)

    def action_close(self) -> None:
        """Back to the screen the help was opened from."""
        self.dismiss()
