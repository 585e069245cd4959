"""Tasks and the datasets that provide them: HumanEval, APPS (folder or JSONL), our JSONL.

(Contract only so far; loaders land with the datasets issue.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Task:
    """One programming task, as the engine and the prompts see it."""

    id: str  # "HumanEval/0", "apps/test/0042", or the JSONL id
    source: str  # "humaneval" | "apps" | "jsonl"
    spec: str  # the question as a model sees it (HumanEval: the prompt)
    tests: dict[str, Any]  # sandbox JSON form: {"style": "stdio"|"call"|"assert", ...}
    difficulty: str | None = None  # APPS: introductory | interview | competition
    starter_code: str = ""
    entry_point: str | None = None  # HumanEval entry point or APPS fn_name
    references: tuple[str, ...] = ()  # complete reference programs (may be empty)
    split: str | None = None  # APPS: train | test
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def style(self) -> str:
        return str(self.tests.get("style", ""))
