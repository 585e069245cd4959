"""Tasks in this project's own JSON-lines form (docs/datasets.md)."""

from __future__ import annotations

from pathlib import Path

from repair_tui.core.datasets.task import Task, json_lines, read_text, str_field, validate_tests
from repair_tui.core.errors import DatasetError

__all__ = ["jsonl_tasks"]


def jsonl_tasks(path: Path, ref: str) -> list[Task]:
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for lineno, row in json_lines(read_text(path), str(path)):
        where = f"{path}:{lineno}"
        task_id = str_field(row, "id", where)
        if ":" in task_id or not task_id.strip():
            raise DatasetError(f"{where}: id {task_id!r} must be non-empty and contain no ':'")
        if task_id in seen:
            raise DatasetError(f"{where}: id {task_id!r} repeats line {seen[task_id]}")
        seen[task_id] = lineno
        spec = str_field(row, "spec", where)
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
