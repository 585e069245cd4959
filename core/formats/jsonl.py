"""Our own run format: the whole tree as JSON lines, for moving runs between databases.

Line 1 is a header ``{"format": "repair-tui-run", "version": 2, "run": {...}}`` with the
run's name, status, isolation, timestamps and configuration. Then one line per record,
each with a ``type``: every ``task`` (in order), every ``exploration`` (numbered 1, 2...
in the file), every ``call`` (by insertion), every ``node`` (by insertion, so parents
come first), then every re-execution (``execution``: ``node_key``, ``exploration``,
the verdict and ``results``). A call or node made by an exploration names it in ``exploration`` (null:
the run's sample); a version-1 file has no explorations, so importing one sorts its
nodes as the database migration does (``core.store.migrations.legacy_explorations``). Nodes and calls refer to each other by
key (``parent_key``, ``call_key``), never by database id; an executed program carries
``execution`` with its verdict and per-test ``results``.

Exporting, importing under a new name and exporting again gives the same lines except
the header's ``name`` (and ``status``: a run exported while ``running`` imports as
``interrupted``, since nothing is running it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from repair_tui.core.datasets.task import Task
from repair_tui.core.errors import UserError
from repair_tui.core.formats.lines import JSONL_MAGIC, describe, dump_line, json_lines
from repair_tui.core.store.records import NewCall, NewNode, Node, Run, RunConfig
from repair_tui.core.store.store import Store
from repair_tui.sandbox.result import TestResult, Verdict

VERSION = 2

# ---------------------------------------------------------------- export


def export_jsonl(store: Store, run: Run, out: TextIO) -> int:
    """Write a run's header, tasks, calls and nodes. Returns the number of lines."""
    out.write(dump_line({"format": JSONL_MAGIC, "version": VERSION, "run": _run_dict(run)}))
    lines = 1
    for task in store.get_tasks(run.id):
        out.write(dump_line({"type": "task", **_task_dict(task)}))
        lines += 1
    number: dict[int | None, int | None] = {None: None}
    for x in store.explorations(run.id):
        number[x.id] = len(number)
        out.write(dump_line({"type": "exploration", "id": number[x.id], "kind": x.kind,
                             "source": x.source, "params": x.params,
                             "created_utc": x.created_utc}))
        lines += 1
    call_keys: dict[int, str] = {}
    for call in store.iter_calls(run.id):
        call_keys[call.id] = call.key
        out.write(dump_line({
            "type": "call", "key": call.key, "task_id": call.task_id, "role": call.role,
            "model": call.model, "messages": call.messages, "params": call.params,
            "response": call.response, "prompt_tokens": call.prompt_tokens,
            "completion_tokens": call.completion_tokens, "latency": call.latency,
            "requests": call.requests, "status": call.status, "error": call.error,
            "prompt_version": call.prompt_version, "created_utc": call.created_utc,
            "exploration": number[call.exploration_id],
        }))
        lines += 1
    node_keys: dict[int, str] = {}
    results = _grouped(store.iter_test_results(run.id))
    for node in store.iter_nodes(run.id):
        node_keys[node.id] = node.key
        tests = results.take(node.id)
        out.write(dump_line({**_node_dict(node, node_keys, call_keys, tests),
                             "exploration": number[node.exploration_id]}))
        lines += 1
    for key, ex in store.iter_executions(run.id):
        out.write(dump_line({
            "type": "execution", "node_key": key, "exploration": number[ex.exploration_id],
            "passed": ex.passed, "fault": ex.fault, "error_message": ex.error_message,
            "isolation": ex.isolation, "executed_utc": ex.executed_utc, "duration": ex.duration,
            "extra": ex.extra, "results": [_result_dict(r) for r in ex.results],
        }))
        lines += 1
    return lines


def _run_dict(run: Run) -> dict[str, Any]:
    return {
        "name": run.name, "dataset": run.dataset, "status": run.status, "message": run.message,
        "isolation": run.isolation, "simulated": run.simulated, "created_utc": run.created_utc,
        "config": run.config.to_dict(),
    }


def _task_dict(task: Task) -> dict[str, Any]:
    return {
        "id": task.id, "source": task.source, "spec": task.spec, "tests": task.tests,
        "difficulty": task.difficulty, "starter_code": task.starter_code,
        "entry_point": task.entry_point, "references": list(task.references),
        "split": task.split, "meta": task.meta,
    }


def _node_dict(node: Node, node_keys: dict[int, str], call_keys: dict[int, str],
               tests: list[TestResult]) -> dict[str, Any]:
    execution = None
    if node.passed is not None:
        execution = {
            "passed": node.passed, "fault": node.fault, "error_message": node.error_message,
            "isolation": node.isolation, "executed_utc": node.executed_utc,
            "duration": node.exec_duration, "extra": node.exec_extra,
            "results": [_result_dict(r) for r in tests],
        }
    return {
        "type": "node", "key": node.key, "task_id": node.task_id,
        "parent_key": None if node.parent_id is None else node_keys[node.parent_id],
        "call_key": None if node.call_id is None else call_keys.get(node.call_id),
        "kind": node.kind, "origin": node.origin, "model": node.model, "depth": node.depth,
        "sample_index": node.sample_index, "tokens": node.tokens, "text": node.text,
        "code": node.code, "created_utc": node.created_utc, "meta": node.meta,
        "execution": execution,
    }


def _result_dict(r: TestResult) -> dict[str, Any]:
    # TestResult.to_dict's keys and order, without dataclasses.asdict's deep copies
    # (which made exports of large runs several times slower).
    return {
        "index": r.index, "status": r.status.value, "input": r.input, "expected": r.expected,
        "got": r.got, "error_type": r.error_type, "message": r.message, "line": r.line,
        "duration": r.duration,
    }


class _grouped:
    """Test results streamed in node order, handed out per node as the nodes stream by."""

    def __init__(self, items: Iterator[tuple[int, TestResult]]) -> None:
        self.items = items
        self.head: tuple[int, TestResult] | None = next(items, None)

    def take(self, node_id: int) -> list[TestResult]:
        out: list[TestResult] = []
        while self.head is not None and self.head[0] <= node_id:
            if self.head[0] == node_id:
                out.append(self.head[1])
            self.head = next(self.items, None)
        return out


# ---------------------------------------------------------------- import


def import_jsonl(store: Store, path: Path, name: str) -> Run:
    """Import one of our exports as a new run named ``name``, in one transaction."""
    lines = json_lines(path)
    first = next(lines, None)
    if first is None:
        raise UserError(f"{path}: the file is empty")
    lineno, header = first
    reader = _Reader(store, path)
    with store.transaction():
        run = reader.header(lineno, header, name)
        for lineno, obj in lines:
            reader.record(run.id, lineno, obj)
        if reader.version < 2:
            store.classify_legacy(run.id)
    return store.get_run_by_id(run.id)


class _Reader:
    def __init__(self, store: Store, path: Path) -> None:
        self.store, self.path = store, path
        self.calls: dict[str, int] = {}
        self.tasks: set[str] = set()
        self.explorations: dict[int, int] = {}  # number in the file -> id in the store
        self.version = VERSION
        self.lineno = 0

    def fail(self, problem: str) -> UserError:
        return UserError(f"{self.path}:{self.lineno}: {problem}")

    def get(self, obj: dict[str, Any], key: str, types: type | tuple[type, ...],
            *, optional: bool = False, default: Any = None) -> Any:
        """A field of the right type; None allowed when ``optional``."""
        if key not in obj or obj[key] is None:
            if optional:
                return default
            raise self.fail(f"missing field {key!r}")
        value = obj[key]
        bad_bool = isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,))
        if bad_bool or not isinstance(value, types):
            raise self.fail(f"field {key!r} has the wrong type: {describe(value)}")
        return value

    def header(self, lineno: int, obj: dict[str, Any], name: str) -> Run:
        self.lineno = lineno
        if obj.get("format") != JSONL_MAGIC:
            raise self.fail(f"not a repair-tui export (the first line has no \"format\": \"{JSONL_MAGIC}\")")
        version = obj.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise self.fail(f"export version {describe(version)} is newer than this repair-tui reads ({VERSION})")
        self.version = version
        run = self.get(obj, "run", dict)
        config = self.get(run, "config", dict)
        self.get(config, "dataset", str)
        self.get(config, "model", str)
        try:
            cfg = RunConfig.from_dict(config)
        except TypeError as exc:
            raise self.fail(f"bad run config: {exc}") from exc
        status = self.get(run, "status", str, optional=True, default="imported")
        return self.store.create_run(
            name, cfg, isolation=self.get(run, "isolation", str, optional=True, default=""),
            simulated=self.get(run, "simulated", bool, optional=True, default=False),
            status="interrupted" if status == "running" else status,
            created_utc=self.get(run, "created_utc", str, optional=True),
            message=self.get(run, "message", str, optional=True),
        )

    def record(self, run_id: int, lineno: int, obj: dict[str, Any]) -> None:
        self.lineno = lineno
        kind = obj.get("type")
        try:
            if kind == "task":
                self.task(run_id, obj)
            elif kind == "call":
                self.call(run_id, obj)
            elif kind == "node":
                self.node(run_id, obj)
            elif kind == "exploration":
                self.exploration(run_id, obj)
            elif kind == "execution":
                self.execution(run_id, obj)
            else:
                raise self.fail(
                    f"unknown record type {describe(kind)} (task, exploration, call, node or execution)")
        except (ValueError, TypeError, KeyError) as exc:
            raise self.fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc

    def task(self, run_id: int, obj: dict[str, Any]) -> None:
        task_id = self.get(obj, "id", str)
        if task_id in self.tasks:
            raise self.fail(f"task {task_id!r} appears twice")
        self.tasks.add(task_id)
        self.store.add_tasks(run_id, [Task(
            id=task_id, source=self.get(obj, "source", str), spec=self.get(obj, "spec", str),
            tests=self.get(obj, "tests", dict), difficulty=self.get(obj, "difficulty", str, optional=True),
            starter_code=self.get(obj, "starter_code", str, optional=True, default=""),
            entry_point=self.get(obj, "entry_point", str, optional=True),
            references=tuple(self.get(obj, "references", list, optional=True, default=[])),
            split=self.get(obj, "split", str, optional=True),
            meta=self.get(obj, "meta", dict, optional=True, default={}),
        )])

    def exploration(self, run_id: int, obj: dict[str, Any]) -> None:
        number = self.get(obj, "id", int)
        if number in self.explorations:
            raise self.fail(f"exploration {number} appears twice")
        made = self.store.create_exploration(
            run_id, self.get(obj, "kind", str),
            source=self.get(obj, "source", str, optional=True, default=""),
            params=self.get(obj, "params", dict, optional=True, default={}),
            created_utc=self.get(obj, "created_utc", str, optional=True))
        self.explorations[number] = made.id

    def execution(self, run_id: int, obj: dict[str, Any]) -> None:
        key = self.get(obj, "node_key", str)
        node = self.store.get_node_by_key(run_id, key)
        if node is None:
            raise self.fail(f"execution of {key!r}: no earlier node line has that key")
        verdict, executed = self.verdict(obj)
        self.store.record_execution(node.id, verdict, self.exploration_id(obj), executed)

    def exploration_id(self, obj: dict[str, Any]) -> int | None:
        number = self.get(obj, "exploration", int, optional=True)
        if number is None:
            return None
        if number not in self.explorations:
            raise self.fail(f"exploration {number} is not defined by an earlier exploration line")
        return self.explorations[number]

    def need_task(self, task_id: str) -> None:
        if task_id not in self.tasks:
            raise self.fail(f"task {task_id!r} is not defined by an earlier task line")

    def call(self, run_id: int, obj: dict[str, Any]) -> None:
        key = self.get(obj, "key", str)
        if key in self.calls:
            raise self.fail(f"call key {key!r} appears twice")
        task_id = self.get(obj, "task_id", str)
        self.need_task(task_id)
        num = (int, float)
        call = NewCall(
            task_id=task_id, key=key, role=self.get(obj, "role", str), model=self.get(obj, "model", str),
            messages=self.get(obj, "messages", list, optional=True, default=[]),
            params=self.get(obj, "params", dict, optional=True, default={}),
            response=obj.get("response"),
            prompt_tokens=self.get(obj, "prompt_tokens", int, optional=True),
            completion_tokens=self.get(obj, "completion_tokens", int, optional=True),
            latency=self.get(obj, "latency", num, optional=True, default=0.0),
            requests=self.get(obj, "requests", int, optional=True, default=1),
            status=self.get(obj, "status", str), error=self.get(obj, "error", str, optional=True),
            prompt_version=self.get(obj, "prompt_version", str, optional=True),
            created_utc=self.get(obj, "created_utc", str),
            exploration_id=self.exploration_id(obj),
        )
        if call.role not in ("generate", "feedback", "repair", "joint") or call.status not in ("ok", "error"):
            raise self.fail(f"call {key!r} has an unknown role or status")
        self.calls[key] = self.store.restore_call(run_id, call)

    def node(self, run_id: int, obj: dict[str, Any]) -> None:
        task_id = self.get(obj, "task_id", str)
        self.need_task(task_id)
        call_key = self.get(obj, "call_key", str, optional=True)
        if call_key is not None and call_key not in self.calls:
            raise self.fail(f"call {call_key!r} is not defined by an earlier call line")
        node = NewNode(
            task_id=task_id, key=self.get(obj, "key", str), kind=self.get(obj, "kind", str),
            origin=self.get(obj, "origin", str), parent_key=self.get(obj, "parent_key", str, optional=True),
            model=self.get(obj, "model", str, optional=True), text=self.get(obj, "text", str),
            code=self.get(obj, "code", str, optional=True), tokens=self.get(obj, "tokens", int),
            sample_index=self.get(obj, "sample_index", int, optional=True, default=0),
            created_utc=self.get(obj, "created_utc", str), meta=self.get(obj, "meta", dict, optional=True, default={}),
            exploration_id=self.exploration_id(obj),
        )
        execution = self.get(obj, "execution", dict, optional=True)
        verdict, executed = (None, None) if execution is None else self.verdict(execution)
        call_id = None if call_key is None else self.calls[call_key]
        self.store.restore_node(run_id, node, call_id=call_id, verdict=verdict, executed_utc=executed)

    def verdict(self, ex: dict[str, Any]) -> tuple[Verdict, str | None]:
        results = self.get(ex, "results", list, optional=True, default=[])
        if not all(isinstance(r, dict) for r in results):
            raise self.fail("execution.results must be a list of objects")
        verdict = Verdict(
            passed=self.get(ex, "passed", bool),
            results=[TestResult.from_dict(r) for r in results],
            isolation=self.get(ex, "isolation", str, optional=True, default=""),
            error_message=self.get(ex, "error_message", str, optional=True),
            fault=self.get(ex, "fault", str, optional=True),
            duration=self.get(ex, "duration", (int, float), optional=True, default=0.0),
            extra=self.get(ex, "extra", dict, optional=True, default={}),
        )
        return verdict, self.get(ex, "executed_utc", str, optional=True)
