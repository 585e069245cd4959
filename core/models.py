"""Domain records stored in SQLite: runs and their configuration, nodes, calls.

(Contract only so far; refined with the engine and store issue.)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

MODES = ("joint", "separate", "tests-only")
KINDS = ("program", "feedback")
ORIGINS = ("model", "human", "tests")

# Keys of RunConfig that do not change what a run computes; resuming with other
# values for these is allowed.
RUNTIME_KEYS = frozenset({"concurrency", "sim_latency", "base_url"})


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines what a run samples."""

    dataset: str
    model: str
    feedback_model: str | None = None  # None: the code model explains too
    base_url: str | None = None
    np: int = 10
    nfr: int = 3
    mode: str = "joint"
    depth: int = 1
    temperature: float = 0.8
    feedback_temperature: float | None = None  # None: same as temperature
    max_tokens: int = 1024
    seed: int = 0
    limit: int | None = None
    split: str | None = None
    difficulty: str | None = None
    task_ids: tuple[str, ...] = ()
    concurrency: int = 16
    sim_latency: float = 0.0

    def to_json(self) -> str:
        d = asdict(self)
        d["task_ids"] = list(self.task_ids)
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        d: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["task_ids"] = tuple(d.get("task_ids") or ())
        return cls(**d)

    def differing_keys(self, other: RunConfig) -> list[str]:
        """Keys (other than runtime knobs) whose values differ between two configs."""
        a, b = asdict(self), asdict(other)
        return sorted(k for k in a if k not in RUNTIME_KEYS and a[k] != b[k])
