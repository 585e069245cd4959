"""Errors the user can fix: bad input files, unknown names, unreachable servers.

Every `UserError` is shown by the command line as one line, ``repair-tui: error: ...``,
with exit status 2; the app shows it as a notification. Its message must name the
file, line or field at fault.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or configuration, reported in one line."""


class DatasetError(UserError):
    """A dataset file or folder is missing or malformed."""


class ModelError(UserError):
    """A model endpoint could not be used: wrong key, unknown model, unreachable server."""


class MissingAPIKeyError(ModelError):
    """A hosted model was asked for without an API key. ``model`` names it, so the app
    can say what to do there rather than which option to pass on the command line."""

    def __init__(self, message: str, model: str) -> None:
        super().__init__(message)
        self.model = model


class CallError(ModelError):
    """One model call failed after its retries, or the server rejected that request.

    Unlike other `ModelError`s (wrong key, unknown model, unreachable server) the
    endpoint itself works: a run records the failed call and goes on without it.
    """
