"""Domain records stored in SQLite: runs and their configuration, nodes, calls.

These are plain frozen dataclasses shared by the engine, the store, the exporters and
the app. The store (core/store/store.py) reads and writes them; nothing here touches SQLite.

Node keys are deterministic so that a killed run can resume without duplicates:
``HumanEval/0|p3`` (fourth first program), ``HumanEval/0|p3|f1`` (its second model
feedback; ``h`` for human, ``t`` for tests-only), ``HumanEval/0|p3|f1|r0`` (the first
repair sampled from that feedback). What an exploration adds carries its id:
``HumanEval/0|p3|x7h0``, ``HumanEval/0|p3|f1|x7r0``. Use the ``*_key`` helpers to build them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

MODES = ("joint", "separate", "tests-only")
KINDS = ("program", "feedback")
ORIGINS = ("model", "human", "tests")
RUN_STATUSES = ("running", "finished", "interrupted", "failed", "imported")
CALL_ROLES = ("generate", "feedback", "repair", "joint")
CALL_STATUSES = ("ok", "error")

# Keys of RunConfig that do not change what a run computes; resuming with other
# values for these is allowed.
RUNTIME_KEYS = frozenset({"concurrency", "sim_latency", "base_url", "executor", "ray_address"})

# One letter per feedback origin in node keys.
_FEEDBACK_PREFIX = {"model": "f", "human": "h", "tests": "t"}


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
    executor: str = "local"  # where programs run: local | ray
    ray_address: str | None = None  # the Ray cluster's (None: a local Ray instance)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (task_ids as a list)."""
        d = asdict(self)
        d["task_ids"] = list(self.task_ids)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        """Build from a dict, ignoring unknown keys (older or newer versions)."""
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["task_ids"] = tuple(d.get("task_ids") or ())
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        d: dict[str, Any] = json.loads(text)
        return cls.from_dict(d)

    def differing_keys(self, other: RunConfig) -> list[str]:
        """Keys (other than runtime knobs) whose values differ between two configs."""
        a, b = asdict(self), asdict(other)
        return sorted(k for k in a if k not in RUNTIME_KEYS and a[k] != b[k])

    @property
    def models(self) -> str:
        """The models as one label: ``code`` or ``code+feedback`` when they differ."""
        if self.feedback_model and self.feedback_model != self.model:
            return f"{self.model}+{self.feedback_model}"
        return self.model


@dataclass(frozen=True)
class Run:
    """One run: a configuration applied to a task list, stored under a unique name."""

    id: int
    name: str
    created_utc: str
    dataset: str
    config: RunConfig
    status: str  # running | finished | interrupted | failed | imported
    isolation: str  # what the sandbox could use, e.g. "namespaces+rlimits"
    simulated: bool
    message: str | None = None  # why a run failed or was interrupted
    updated_utc: str = ""


@dataclass(frozen=True)
class NewNode:
    """A node to store. The store fills in ids, depth, call id and timestamps.

    ``parent_key`` names the parent node (None for a first program); it may be a node
    stored in the same ``add_call`` / ``add_nodes`` batch (a joint call stores the
    feedback and its repair together).
    """

    task_id: str
    key: str
    kind: str  # program | feedback
    origin: str = "model"  # model | human | tests
    parent_key: str | None = None
    model: str | None = None
    text: str = ""  # raw completion (program) or feedback text
    code: str | None = None  # extracted program; None for feedback
    tokens: int = 0
    sample_index: int = 0
    created_utc: str | None = None  # None: now
    meta: dict[str, Any] = field(default_factory=dict)
    exploration_id: int | None = None  # None: part of the run's sample


@dataclass(frozen=True)
class Node:
    """A stored program or feedback in a repair tree."""

    id: int
    run_id: int
    task_id: str
    parent_id: int | None
    key: str
    kind: str
    origin: str
    model: str | None
    text: str
    code: str | None
    tokens: int
    passed: bool | None  # None: not executed yet (always None for feedback)
    fault: str | None
    error_message: str | None
    isolation: str | None
    depth: int  # 0 = first programs; a repair of a first program (and its feedback) is 1
    sample_index: int
    call_id: int | None
    created_utc: str
    executed_utc: str | None = None
    exec_duration: float | None = None
    exec_extra: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    seq: int = 0  # changes whenever the node is inserted or updated (Store.changes_since)
    exploration_id: int | None = None  # None: part of the run's sample

    @property
    def is_exploration(self) -> bool:
        """Made after the run (a person's feedback, a rerun...), outside its sample."""
        return self.exploration_id is not None

    @property
    def is_program(self) -> bool:
        return self.kind == "program"

    @property
    def is_repair(self) -> bool:
        """A program sampled from a feedback (depth >= 1)."""
        return self.kind == "program" and self.parent_id is not None

    @property
    def executed(self) -> bool:
        return self.passed is not None


@dataclass(frozen=True)
class NewCall:
    """A model request to store, with what it returned."""

    task_id: str
    key: str
    role: str  # generate | feedback | repair | joint
    model: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    response: Any = None  # raw response bodies (ModelReply.raw)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency: float = 0.0  # seconds, all requests of this call
    requests: int = 1  # HTTP requests made (ModelReply.requests)
    status: str = "ok"  # ok | error
    error: str | None = None
    prompt_version: str | None = None
    created_utc: str | None = None  # None: now
    exploration_id: int | None = None  # None: a call of the run's sample


@dataclass(frozen=True)
class Call:
    """A stored model request."""

    id: int
    run_id: int
    task_id: str
    key: str
    role: str
    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    response: Any
    prompt_tokens: int | None
    completion_tokens: int | None
    latency: float
    requests: int
    status: str
    error: str | None
    prompt_version: str | None
    created_utc: str
    exploration_id: int | None = None


@dataclass(frozen=True)
class Exploration:
    """One action taken on a run after it was sampled (see core/store/explore.py)."""

    id: int
    run_id: int
    kind: str  # feedback | repair | rerun | explain | reexec | import | annotate | migrated
    source: str  # app | cli | migration
    params: dict[str, Any]
    created_utc: str


def _tag(exploration: int | None) -> str:
    return "" if exploration is None else f"x{exploration}"


def program_key(task_id: str, index: int) -> str:
    """Key of the ``index``-th first program of a task: ``TASK|p3``."""
    return f"{task_id}|p{index}"


def feedback_key(
    parent_key: str, index: int, origin: str = "model", exploration: int | None = None
) -> str:
    """Key of a feedback on a program: ``PARENT|f1`` (model), ``|h1`` (human), ``|t1``
    (tests); in exploration 7, ``PARENT|x7f1``."""
    return f"{parent_key}|{_tag(exploration)}{_FEEDBACK_PREFIX[origin]}{index}"


def repair_key(feedback_key: str, index: int, exploration: int | None = None) -> str:
    """Key of the ``index``-th repair sampled from a feedback: ``FEEDBACK|r0`` (``|x7r0``
    in exploration 7)."""
    return f"{feedback_key}|{_tag(exploration)}r{index}"


def child_key(
    parent_key: str, kind: str, origin: str, index: int, exploration: int | None = None
) -> str:
    """Key of a child of ``parent_key``: a feedback (by origin) or a repair."""
    if kind == "feedback":
        return feedback_key(parent_key, index, origin, exploration)
    return repair_key(parent_key, index, exploration)


def call_key(
    task_id: str, role: str, parent_key: str | None, index: int, exploration: int | None = None
) -> str:
    """Idempotency key of a model call within a run: ``role|parent-or-task|index``.

    An exploration's calls end in ``|x7.0``: its id is unique across processes, so two
    actions on the same parent at once never share a key (nor a seed)."""
    return f"{role}|{parent_key or task_id}|{_tag(exploration)}{'' if exploration is None else '.'}{index}"
