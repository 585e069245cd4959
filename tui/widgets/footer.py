"""A Footer that rebuilds itself once per burst of binding changes.

Textual's Footer recomposes (about a dozen widgets) on every bindings signal, and
opening a screen sends several (focus, check_action refreshes, Select updates): on
the Run screen that was six rebuilds, a sixth of the time to open it. This one
waits until the signals stop for a moment (``SETTLE`` seconds) and rebuilds once.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

SETTLE = 0.03  # seconds without a new signal before the rebuild; below what one notices


class QuietFooter(Footer):
    """The app's footer: same keys and look as Textual's, fewer rebuilds."""

    _timer: Timer | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(SETTLE, lambda: self._rebuild(screen))

    def _rebuild(self, screen: Screen[Any]) -> None:
        self._timer = None
        super().bindings_changed(screen)
