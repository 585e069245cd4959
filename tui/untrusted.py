"""Text from programs, models and files, made safe to show in a terminal.

A program's output, an error message, a model's answer or a dataset's spec can hold
terminal control sequences: ``ESC ]0;...BEL`` sets the window title, ``ESC [2J``
clears the screen, ``ESC ]52`` writes the clipboard, ``ESC ]8`` forges links. Neither
Rich nor Textual removes them, so every such text passes through `visible` before it
reaches a widget or the CLI's output: each control character becomes a visible
stand-in (␛ for ESC, <U+202E> for a bidirectional override), and the text stays
readable.
Line breaks and tabs are kept unless ``keep_newlines`` is False.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

__all__ = ["PlainNotifications", "has_controls", "visible", "visible_or_empty"]

# C0 controls but line feed and tab, DEL, C1 controls, and the format characters that
# reorder or hide text (bidirectional overrides and isolates, zero-width marks).
_HIDDEN = "\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_HIDDEN}]")
_UNSAFE_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_HIDDEN}]")


def _stand_in(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␛ for ESC, ␇ for BEL
    if code == 0x7F:
        return "␡"
    return f"<U+{code:04X}>"


def visible(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` with every terminal control character replaced by a visible stand-in."""
    return (_UNSAFE if keep_newlines else _UNSAFE_ONE_LINE).sub(_stand_in, text)


def visible_or_empty(text: str | None, *, keep_newlines: bool = True) -> str:
    """`visible` for optional text: None becomes the empty string."""
    return "" if text is None else visible(text, keep_newlines=keep_newlines)


def has_controls(text: str) -> bool:
    """Whether `visible` would change ``text`` (line breaks and tabs allowed)."""
    return _UNSAFE.search(text) is not None


class PlainNotifications:
    """A screen mixin: its notifications are never read as markup (a widget's ``notify``
    passes markup=True by default). Run names, task ids, faults and server messages
    hold brackets: "[/x]" raised an error when the toast was drawn, "[link=...]" made
    a link."""

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        super().notify(  # type: ignore[misc]
            message, title=title, severity=severity, timeout=timeout, markup=False)
