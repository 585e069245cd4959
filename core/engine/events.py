"""Progress events the engine reports while it works. Plain dataclasses, no UI.

The command line renders them as a progress bar and the app wraps them in Textual
messages. Every event is small and immutable so it can cross threads safely.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RunStarted:
    """A run began or resumed: how much of it is already stored."""

    run_id: int
    name: str
    tasks: int
    resumed: bool
    tasks_done: int = 0
    tasks_solved: int = 0
    isolation: str = ""


@dataclass(frozen=True)
class CallFinished:
    """A model call returned (or was found stored already, when `cached`)."""

    run_id: int
    task_id: str
    role: str
    tokens: int
    cached: bool = False


@dataclass(frozen=True)
class CallFailed:
    """A model call failed after its retries; the run goes on without it."""

    run_id: int
    task_id: str
    role: str
    error: str


@dataclass(frozen=True)
class NodeStored:
    """A node was written: a program (maybe not yet executed) or a feedback."""

    run_id: int
    task_id: str
    node_id: int
    kind: str
    depth: int


@dataclass(frozen=True)
class ProgramExecuted:
    """A program's verdict was stored."""

    run_id: int
    task_id: str
    node_id: int
    depth: int
    passed: bool
    fault: str | None = None


@dataclass(frozen=True)
class TaskFinished:
    """Every step of a task is stored."""

    run_id: int
    task_id: str
    solved: bool
    solved_by_repair: bool


@dataclass(frozen=True)
class RunFinished:
    """A run ended: finished, interrupted or failed, with the reason when not finished."""

    run_id: int
    status: str
    message: str = ""


Event = RunStarted | CallFinished | CallFailed | NodeStored | ProgramExecuted | TaskFinished | RunFinished
EventSink = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """An event sink that drops everything."""
