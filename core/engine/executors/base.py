"""The executor interface: run one program against its tests somewhere, get a Verdict.

The engine awaits ``execute`` for each program; ``run_many`` is the blocking form for
plain scripts (``repair-tui tasks check``). Both executors give the same verdicts for
the same programs: only where the program's process runs differs, and each verdict
says which isolation was in force where it ran.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from repair_tui.sandbox.result import Limits, Verdict

EXECUTORS = ("local", "ray")


def slots_for(cpus: int) -> int:
    """Sandbox slots for a machine of ``cpus`` cores: many more than cores, because a
    program stuck in a loop holds its slot until its time limit (at the lowest CPU
    priority, see the sandbox) and a run's programs arrive in bursts of one task's samples."""
    return max(16, 8 * max(1, cpus))


class Executor(ABC):
    """Runs programs against tests; thread-safe, usable from any event loop."""

    name: ClassVar[str]
    address: str | None = None  # where it runs (the Ray address); None: this machine

    @property
    @abstractmethod
    def isolation_description(self) -> str:
        """The isolation in force (one line; several nodes may differ)."""

    @property
    @abstractmethod
    def slots(self) -> int:
        """Programs that can run at once right now."""

    @abstractmethod
    async def execute(self, program: str, tests: dict[str, Any],
                      limits: Limits | None = None) -> Verdict:
        """Run ``program`` against ``tests``; raises TestSpecError for malformed tests and
        SandboxError when nothing can run it."""

    @abstractmethod
    def run_many(self, items: Sequence[tuple[str, dict[str, Any]]],
                 limits: Limits | None = None) -> list[Verdict]:
        """Run many (program, tests) pairs in parallel, blocking; verdicts in order."""

    @abstractmethod
    def close(self) -> None:
        """Release what the executor started. Idempotent."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
