"""The text area people write feedback in (the feedback editor and the annotation queue).

A ``TextArea`` with two habits of other editors: ``ctrl+a`` selects everything (Textual
binds it to the start of the line, as Emacs does) and ``load`` puts the cursor after
the prefilled text, so typing adds to it. ``changed`` says whether the text differs
from what was loaded: leaving with such text asks first.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import TextArea


class FeedbackArea(TextArea):
    """An editor for a feedback text; knows what it was loaded with."""

    BINDINGS = [
        Binding("ctrl+a", "select_all", "Select all", id="editor.select_all", show=False,
                tooltip="Select the whole text"),
    ]

    def __init__(self, text: str = "", *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(text, soft_wrap=True, id=id)
        self.loaded = text

    def on_mount(self) -> None:
        self.move_cursor(self.document.end)

    def load(self, text: str) -> None:
        """Replace the text, remember it as the saved state, and put the cursor at its end."""
        self.loaded = text
        self.text = text
        self.move_cursor(self.document.end)

    @property
    def changed(self) -> bool:
        """True when the text holds something typed since ``load`` (blank counts as nothing)."""
        return bool(self.text.strip()) and self.text != self.loaded
