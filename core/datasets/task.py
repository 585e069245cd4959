"""A programming task as the engine, the prompts and the sandbox see it, and the
helpers every loader shares: reading text files, JSON lines and required fields, and
checking tests against the sandbox's form. Bad input raises `DatasetError` naming the
file (and the line, for JSONL).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair_tui.core.errors import DatasetError

if TYPE_CHECKING:
    from repair_tui.sandbox.result import Verdict

__all__ = ["ReferenceCheck", "Task", "TaskStub", "json_lines", "read_text", "str_field", "validate_tests"]


@dataclass(frozen=True)
class Task:
    """One programming task, as the engine and the prompts see it."""

    id: str  # "HumanEval/0", "test/0042" (APPS split/folder), or the JSONL id
    source: str  # "humaneval" | "apps" | "jsonl"
    spec: str  # the question as a model sees it (HumanEval: the prompt)
    tests: dict[str, Any]  # sandbox JSON form: {"style": "stdio"|"call"|"assert", ...}
    difficulty: str | None = None  # APPS: introductory | interview | competition
    starter_code: str = ""
    entry_point: str | None = None  # HumanEval entry point or APPS fn_name
    references: tuple[str, ...] = ()  # complete reference programs (may be empty)
    split: str | None = None  # APPS: train | test
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    # The ref this task was loaded from: find_task(f"{task.dataset}:{task.id}") finds it.
    dataset: str = ""

    @property
    def style(self) -> str:
        return str(self.tests.get("style", ""))

    @property
    def n_tests(self) -> int:
        """Number of test cases (an assert-style check counts as one)."""
        cases = self.tests.get("cases")
        return len(cases) if isinstance(cases, list) else 1


@dataclass(frozen=True)
class ReferenceCheck:
    """The outcome of running a task's first reference solution against its tests."""

    task_id: str
    passed: bool | None  # None: the task has no reference solution
    reason: str | None = None  # why it failed (the verdict's fault and error message)
    verdict: Verdict | None = None


@dataclass(frozen=True)
class TaskStub:
    """What a loader knows of a task before reading its big files, and how to read them."""

    id: str
    split: str | None
    difficulty: str | None
    load: Callable[[], Task]

    @classmethod
    def of(cls, task: Task) -> TaskStub:
        """A stub for a task that is already loaded."""
        return cls(task.id, task.split, task.difficulty, lambda: task)



def validate_tests(tests: object, where: str) -> dict[str, Any]:
    """`tests` checked against the sandbox's JSON form; DatasetError naming `where` if bad."""
    from repair_tui.sandbox.spec import TestSpecError, parse_tests

    try:
        return dict(parse_tests(tests))
    except TestSpecError as exc:
        raise DatasetError(f"{where}: bad tests: {exc}") from None


def read_text(path: Path) -> str:
    """A text file (gzip-compressed when its name ends in .gz); DatasetError if unreadable."""
    try:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a folder, expected a file") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from None


def json_lines(text: str, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; DatasetError naming the line if bad."""
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"{name}:{lineno}: malformed JSON: {exc.msg} (column {exc.colno})"
            ) from None
        if not isinstance(row, dict):
            raise DatasetError(f"{name}:{lineno}: expected a JSON object, got {type(row).__name__}")
        yield lineno, row


def str_field(row: dict[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        problem = "is missing" if value is None else "must be a string"
        raise DatasetError(f"{where}: field {key} {problem}")
    return value
