"""Search hits as one line of text each, for ``repair-tui search`` and the app.

Snippets are untrusted text (model output, a person's feedback): every part goes through
``visible`` before it is shown, and the matched words are made bold.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from repair_tui.tui.untrusted import visible

if TYPE_CHECKING:
    from repair_tui.core.store.search import SearchHit
    from rich.text import Text


def hit_text(hit: SearchHit) -> Text:
    """One line: kind, where (task or node key, origin), and the snippet with the match bold."""
    from rich.text import Text

    where = hit.key if hit.key is not None else hit.task_id
    marks = [m for m in (hit.origin if hit.origin != "model" else None,
                         "exploration" if hit.exploration else None) if m]
    origin = f" ({', '.join(marks)})" if marks else ""
    line = Text(f"{hit.kind:<8} ", style="cyan")
    line.append(visible(f"{where}{origin}", keep_newlines=False), "bold")
    line.append("  ")
    line.append_text(snippet_text(hit.snippet))
    return line


def snippet_text(snippet: str) -> Text:
    """The snippet on one line, untrusted parts made visible, matched words bold."""
    from repair_tui.core.store.search import MARK_END, MARK_START
    from rich.text import Text

    out = Text()
    for i, part in enumerate(snippet.replace(MARK_END, MARK_START).split(MARK_START)):
        shown = visible(re.sub(r"[ \t\r\n]+", " ", part), keep_newlines=False)
        out.append(shown, "bold reverse" if i % 2 else "")
    return out
