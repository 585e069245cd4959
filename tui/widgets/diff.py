"""The diff between a repair and the program it repairs: a unified diff as styled text.

``diff_text`` is pure (difflib + rich ``Text``), so the detail pane and the tests share
it; ``DiffView`` is the widget that shows it.
"""

from __future__ import annotations

import difflib

from repair_tui.tui.untrusted import visible
from rich.text import Text
from textual.widgets import Static

# Styles per diff line kind; chosen to read on both dark and light themes.
_STYLES = {"+": "green", "-": "red", "@": "bold cyan"}


def unified_lines(old: str, new: str, *, context: int = 3) -> list[str]:
    """The unified diff of two programs, without the ``---``/``+++`` file header.

    Empty when they are identical.
    """
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), lineterm="", n=context
    )
    return [ln for ln in lines if not ln.startswith(("---", "+++"))]


def diff_text(old: str, new: str, *, context: int = 3) -> Text:
    """The diff as rich Text: additions green, removals red, hunk headers cyan."""
    lines = unified_lines(old, new, context=context)
    if not lines:
        return Text("(no change: the repair is identical to the program it repairs)",
                    style="italic")
    out = Text()
    for i, line in enumerate(lines):
        if i:
            out.append("\n")
        out.append(visible(line, keep_newlines=False), style=_STYLES.get(line[:1], ""))
    return out


def diff_stats(old: str, new: str) -> tuple[int, int]:
    """Lines added and removed between two programs."""
    added = removed = 0
    for line in unified_lines(old, new, context=0):
        if line.startswith("+"):
            added += 1
        elif line.startswith("-"):
            removed += 1
    return added, removed


class DiffView(Static):
    """A unified diff of a repair against its parent program."""

    DEFAULT_CSS = """
    DiffView {
        height: auto;
        padding: 0 1;
    }
    """

    def show(self, old: str, new: str) -> None:
        """Show the diff from ``old`` to ``new``."""
        self.update(diff_text(old, new))
