"""Verdicts: what running one program against its tests produced.

This is the contract between the sandbox and everything above it. Field names here
are stored in SQLite and printed by ``repair-tui exec --json``; keep them stable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(str, enum.Enum):  # noqa: UP042 -- str() and format() must stay as they are
    """The status of one test case."""

    PASSED = "passed"
    WRONG_ANSWER = "wrong_answer"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    COMPILE_ERROR = "compile_error"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    # The test was not run because an earlier one failed fatally (compile error,
    # or any failure when stopping at the first); kept so results line up with cases.
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Limits:
    """Resource limits for one program. Times in seconds, sizes in bytes."""

    timeout: float = 4.0  # CPU time per test case, all its processes together
    min_timeout: float = 1.0  # floor for any per-test limit
    # Wall-clock backstop per test for programs that sleep or block; None: 3x the limit.
    wall_timeout: float | None = None
    memory_bytes: int = 2 * 1024**3  # per test, all its processes (cgroup); RLIMIT_AS per process
    output_bytes: int = 1 * 1024**2  # stdout and stderr each, per test
    file_bytes: int = 16 * 1024**2  # RLIMIT_FSIZE
    open_files: int = 64
    max_processes: int = 64  # inside the program's PID namespace / RLIMIT_NPROC where usable
    stop_at_first_failure: bool = True


@dataclass(frozen=True)
class TestResult:
    """One test case's outcome."""

    index: int
    status: Status
    input: str | None = None  # rendered input (stdio text, call args as repr, assert source)
    expected: str | None = None  # rendered, truncated
    got: str | None = None  # rendered, truncated
    error_type: str | None = None  # exception class name
    message: str | None = None  # exception message / compile error / failed assertion
    line: int | None = None  # line in the program (or in the check for assert tests)
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    @property
    def number(self) -> int:
        """The test's one number, 1-based: the one the app, the CLI, the faults
        ("wrong answer on test 2") and the JSON show. ``index`` is its 0-based position."""
        return self.index + 1

    def to_dict(self) -> dict[str, Any]:
        # Its fields in their declared order: every value is immutable, so no deep copy
        # (dataclasses.asdict deep-copied each string, once per test of every program).
        d = dict(self.__dict__)
        d["status"] = self.status.value
        d["number"] = self.number
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TestResult:
        fields = {k: v for k, v in d.items() if k != "number"}
        return cls(**{**fields, "status": Status(d["status"])})


def summary(results: list[TestResult]) -> str:
    """What happened, in words: "all 14 tests passed", "failed test 2 of 14; the rest
    were not run" (the sandbox stopped at the first failure), or "12 of 14 tests passed;
    failed: tests 2 and 5" (every test ran). Tests are named by their ``number``."""
    total = len(results)
    noun = "test" if total == 1 else "tests"
    failed = [r.number for r in results if r.status not in (Status.PASSED, Status.SKIPPED)]
    skipped = [r for r in results if r.status is Status.SKIPPED]
    if not failed:
        if skipped:
            return f"{total - len(skipped)} of {total} {noun} passed; the rest were not run"
        return "the test passed" if total == 1 else f"all {total} tests passed"
    if total == 1:
        return "failed its only test"
    if len(failed) == 1 and skipped:
        return f"failed test {failed[0]} of {total}; the rest were not run"
    passed = sum(r.passed for r in results)
    names = ", ".join(map(str, failed[:-1])) + f" and {failed[-1]}" if len(failed) > 1 else str(failed[0])
    text = f"{passed} of {total} tests passed; failed: test{'s' if len(failed) > 1 else ''} {names}"
    return text + ("; the rest were not run" if skipped else "")


@dataclass(frozen=True)
class Verdict:
    """The result of running one program against all its tests."""

    passed: bool
    results: list[TestResult]
    isolation: str  # e.g. "namespaces+rlimits" or "rlimits (no namespaces: <reason>)"
    error_message: str | None = None  # first failure, rendered for a feedback/repair prompt
    fault: str | None = None  # short one-line summary, e.g. "wrong answer on test 3"
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """What happened, in words (see ``summary``)."""
        return summary(self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "summary": self.summary,
            "isolation": self.isolation,
            "error_message": self.error_message,
            "fault": self.fault,
            "duration": self.duration,
            "results": [r.to_dict() for r in self.results],
            **({"extra": self.extra} if self.extra else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        return cls(
            passed=d["passed"],  # "summary" is derived from the results
            results=[TestResult.from_dict(r) for r in d["results"]],
            isolation=d["isolation"],
            error_message=d.get("error_message"),
            fault=d.get("fault"),
            duration=d.get("duration", 0.0),
            extra=d.get("extra", {}),
        )
