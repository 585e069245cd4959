"""Textual messages shared by the app's screens and widgets.

Messages that belong to one widget are nested in it; the ones here cross screens:
the app's poll of the database posts ``DataChanged`` to the active screen, and the
engine's progress events reach the screens as ``EngineReported``.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class DataChanged(Message):
    """Someone (this app or another process) committed to the database since the last poll."""

    def can_replace(self, message: Message) -> bool:
        # Two pending notices mean the same thing as one: refresh once.
        return isinstance(message, DataChanged)


class EngineReported(Message):
    """The engine reported a progress event (a core.engine.events dataclass) for a run."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class ActionStarted(Message):
    """A screen started a long action (a repair, a rerun, a re-execution): for the log."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label


class SamplesLoading(Message):
    """The bundled sample runs are importing into an empty database (progress None: done)."""

    def __init__(self, progress: tuple[int, int, str] | None) -> None:
        super().__init__()
        self.progress = progress  # (files done, files in all, the file being read)
