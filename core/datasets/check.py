"""Running tasks' reference solutions in the sandbox: does each task judge its own
reference as passing?"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from repair_tui.core.datasets.task import ReferenceCheck, Task

if TYPE_CHECKING:
    from repair_tui.sandbox.result import Limits, Verdict

__all__ = ["ProgramRunner", "check_references"]


class ProgramRunner(Protocol):
    """What runs the references: a Sandbox, or an executor of the engine."""

    def run_many(self, items: Sequence[tuple[str, dict[str, Any]]],
                 limits: Limits | None = None) -> list[Verdict]: ...


def check_references(
    tasks: Sequence[Task],
    sandbox: ProgramRunner,
    *,
    limits: Limits | None = None,
    on_checked: Callable[[ReferenceCheck], None] | None = None,
    chunk_size: int = 32,
) -> list[ReferenceCheck]:
    """Run each task's first reference solution against its tests, in parallel.

    Only the first reference counts (it is the one the prompts and the simulated model
    treat as *the* solution); a task without references gets ``passed=None``. Programs
    go through ``sandbox.run_many`` in chunks of `chunk_size` so that `on_checked` can
    report progress; results come back in the order of `tasks`.
    """
    checks: dict[int, ReferenceCheck] = {}
    runnable: list[int] = []
    for i, task in enumerate(tasks):
        if task.references:
            runnable.append(i)
        else:
            checks[i] = ReferenceCheck(task.id, None, "no reference solution")
            if on_checked:
                on_checked(checks[i])
    for start in range(0, len(runnable), max(1, chunk_size)):
        chunk = runnable[start : start + max(1, chunk_size)]
        items = [(tasks[i].references[0], tasks[i].tests) for i in chunk]
        verdicts = sandbox.run_many(items, limits=limits)
        for i, verdict in zip(chunk, verdicts, strict=True):
            checks[i] = ReferenceCheck(tasks[i].id, verdict.passed, _reason(verdict), verdict)
            if on_checked:
                on_checked(checks[i])
    return [checks[i] for i in range(len(tasks))]


def _reason(verdict: Verdict) -> str | None:
    if verdict.passed:
        return None
    parts = [p for p in (verdict.fault, verdict.error_message) if p]
    return ": ".join(parts) if parts else "failed"
