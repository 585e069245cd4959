"""Verdicts: what running one program against its tests produced.

This is the contract between the sandbox and everything above it. Field names here
are stored in SQLite and printed by ``repair-tui exec --json``; keep them stable.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
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
    # whole-program timeout); kept so results line up with cases.
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Limits:
    """Resource limits for one program. Times in seconds, sizes in bytes."""

    timeout: float = 4.0  # wall clock per test case
    min_timeout: float = 1.0  # floor for any per-test limit
    program_timeout: float = 30.0  # wall clock for all cases of one program
    cpu_seconds: int = 10
    memory_bytes: int = 2 * 1024**3  # address space (RLIMIT_AS)
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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TestResult:
        return cls(**{**d, "status": Status(d["status"])})


@dataclass(frozen=True)
class Verdict:
    """The result of running one program against all its tests."""

    passed: bool
    results: list[TestResult]
    isolation: str  # e.g. "namespaces+rlimits" or "rlimits (no namespaces: <reason>)"
    error_message: str | None = None  # first failure, rendered for a feedback/repair prompt
    fault: str | None = None  # short one-line summary, e.g. "wrong_answer on test 3"
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
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
            passed=d["passed"],
            results=[TestResult.from_dict(r) for r in d["results"]],
            isolation=d["isolation"],
            error_message=d.get("error_message"),
            fault=d.get("fault"),
            duration=d.get("duration", 0.0),
            extra=d.get("extra", {}),
        )
