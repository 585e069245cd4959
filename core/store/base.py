"""The store's plumbing: its connection, write transactions, and row conversions.

``StoreBase`` holds one ``sqlite_utils.Database``; ``core.store.store.Store`` builds the public
read and write API on it. Rows become the records of ``core.store.records`` here, in one
place, so the column names appear only in this module and in the queries.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from repair_tui.core.datasets.task import Task
from repair_tui.core.errors import UserError
from repair_tui.core.store._sqlite_utils import Database
from repair_tui.core.store.migrations import db_label
from repair_tui.core.store.records import (
    KINDS,
    ORIGINS,
    Call,
    NewCall,
    NewNode,
    Node,
    Run,
    RunConfig,
)
from repair_tui.sandbox.result import Status, TestResult, Verdict

NODE_COLUMNS = (
    "id, run_id, task_id, parent_id, key, kind, origin, model, text, code, tokens, passed, "
    "fault, error_message, isolation, depth, sample_index, call_id, created_utc, "
    "executed_utc, exec_duration, exec_extra_json, meta_json, seq, exploration_id"
)

NODE_INSERT = (
    "INSERT INTO nodes (run_id, task_id, parent_id, key, kind, origin, model, text, code, "
    "tokens, depth, sample_index, call_id, created_utc, meta_json, seq, passed, fault, "
    "error_message, isolation, executed_utc, exec_duration, exec_extra_json, exploration_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# The sample's nodes (and calls): what ``repair-tui run`` made under the run's configuration.
SAMPLE = "exploration_id IS NULL"


def now_utc() -> str:
    """The current UTC time as ISO 8601 with milliseconds, e.g. ``2025-01-31T12:00:00.123+00:00``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    """Compact JSON for ``*_json`` columns (non-ASCII kept as is), as
    ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` gives it: through
    one encoder (``json.dumps`` with options builds one per call, and a run writes a few
    per node), and ``{}`` without one for the many empty meta and extra columns."""
    if type(value) is dict and not value:
        return "{}"
    return _ENCODER.encode(value)


def loads(text: str | None, default: Any = None) -> Any:
    if text == "{}":  # most nodes' extra and meta columns: no parser needed
        return {}
    return default if text is None else json.loads(text)


class StoreBase:
    """One database connection, and the helpers and low-level writes the Store builds on."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: sqlite3.Connection = db.conn
        self.label = db_label(db)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        cur = self._conn.cursor()
        cur.row_factory = sqlite3.Row
        return list(cur.execute(sql, params))

    def _row(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        cur = self._conn.cursor()
        cur.row_factory = sqlite3.Row
        row: sqlite3.Row | None = cur.execute(sql, params).fetchone()
        return row

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, all or nothing.

        Like ``db.atomic()``, but the outermost level is ``BEGIN IMMEDIATE``: it takes
        the write lock before reading (e.g. the next ``seq``), so two writers never
        race and the busy timeout applies instead of a mid-transaction failure.
        Nested use becomes a savepoint.
        """
        if self._conn.in_transaction:
            with self.db.atomic():
                yield self._conn
            return
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self.unwritable(exc) from None
        try:
            yield self._conn
        except sqlite3.OperationalError as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise self.unwritable(exc) from None
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise self.unwritable(exc) from None

    def unwritable(self, exc: sqlite3.OperationalError) -> Exception:
        """A database that refuses a write, as one line for a person (nothing was stored)."""
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            why = "is read-only: nothing was stored"
        elif "locked" in text or "busy" in text:
            why = "is locked by another process: nothing was stored; try again when it is done"
        else:
            why = f"refused the write ({text}): nothing was stored"
        error: Exception = UserError(f"database {self.label} {why}")
        return error

    def _nodes_where(self, where: str, params: Sequence[Any]) -> list[Node]:
        rows = self._rows(f"SELECT {NODE_COLUMNS} FROM nodes WHERE {where} ORDER BY id", params)
        return [row_to_node(r) for r in rows]

    def _next_seq(self) -> int:
        return int(self._scalar("SELECT coalesce(max(seq), 0) + 1 FROM nodes"))

    def _insert_node(
        self,
        run_id: int,
        node: NewNode,
        *,
        call_id: int | None,
        must_be_new: bool = False,
        verdict: Verdict | None = None,
        executed_utc: str | None = None,
    ) -> int:
        """Insert one node (inside a write transaction), with its verdict if given.

        An existing key returns the stored node's id, or raises ValueError when
        ``must_be_new`` (an importer's duplicate line).
        """
        stored = self._insert_node_row(run_id, node, call_id=call_id, must_be_new=must_be_new,
                                       verdict=verdict, executed_utc=executed_utc)
        return stored if isinstance(stored, int) else int(stored["id"])

    def _insert_nodes(self, run_id: int, nodes: Sequence[NewNode], *, call_id: int | None) -> list[Node]:
        """Insert unexecuted nodes (inside a write transaction) and return them as stored.

        The new ones are built from the values written, as a read would return them,
        without reading them back; a key already stored returns the stored node.
        """
        out: list[Node] = []
        seq: int | None = None
        for node in nodes:
            if seq is None:
                seq = self._next_seq()
            stored = self._insert_node_row(run_id, node, call_id=call_id, seq=seq)
            if isinstance(stored, int):
                out.append(self.get_node(stored))
            else:
                out.append(row_to_node(stored))
                seq += 1
        return out

    def get_node(self, node_id: int) -> Node:
        row = self._row(f"SELECT {NODE_COLUMNS} FROM nodes WHERE id = ?", (node_id,))
        if row is None:
            raise UserError(f"no node with id {node_id} in {self.label}")
        return row_to_node(row)

    def _insert_node_row(
        self,
        run_id: int,
        node: NewNode,
        *,
        call_id: int | None,
        must_be_new: bool = False,
        verdict: Verdict | None = None,
        executed_utc: str | None = None,
        seq: int | None = None,
    ) -> int | dict[str, Any]:
        """`_insert_node`'s work: the id of an existing node with this key, or the new
        row's values by column (``seq``: the next free one, when the caller knows it)."""
        check(node.kind, KINDS, f"node {node.key!r} kind")
        check(node.origin, ORIGINS, f"node {node.key!r} origin")
        if not must_be_new:
            existing = self._scalar(
                "SELECT id FROM nodes WHERE run_id = ? AND key = ?", (run_id, node.key)
            )
            if existing is not None:
                return int(existing)
        if verdict is not None and node.kind != "program":
            raise ValueError(f"node {node.key!r} is a feedback and cannot have a verdict")
        parent_id, depth = self._place(run_id, node)
        ex = (None, None, None, None, None, None, "{}") if verdict is None else (
            int(verdict.passed), verdict.fault, verdict.error_message, verdict.isolation,
            executed_utc or now_utc(), float(verdict.duration), dumps(verdict.extra))
        row: dict[str, Any] = {
            "run_id": run_id, "task_id": node.task_id, "parent_id": parent_id, "key": node.key,
            "kind": node.kind, "origin": node.origin, "model": node.model, "text": node.text,
            "code": node.code, "tokens": int(node.tokens), "depth": depth,
            "sample_index": node.sample_index, "call_id": call_id,
            "created_utc": node.created_utc or now_utc(), "meta_json": dumps(node.meta),
            "seq": self._next_seq() if seq is None else seq,
            **dict(zip(("passed", "fault", "error_message", "isolation", "executed_utc",
                        "exec_duration", "exec_extra_json"), ex, strict=True)),
            "exploration_id": node.exploration_id,
        }
        try:
            cur = self._conn.execute(NODE_INSERT, tuple(row.values()))
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise ValueError(f"node key {node.key!r} appears twice") from exc
            raise
        row["id"] = node_id = int(cur.lastrowid or 0)
        if verdict is not None:
            self._insert_results(node_id, verdict)
        return row

    def _place(self, run_id: int, node: NewNode) -> tuple[int | None, int]:
        """The parent id and depth of a new node; ValueError if the tree shape is wrong."""
        if node.parent_key is None:
            if node.kind != "program":
                raise ValueError(f"feedback {node.key!r} needs a parent program")
            if self._scalar("SELECT 1 FROM tasks WHERE run_id = ? AND task_id = ?",
                            (run_id, node.task_id)) is None:
                raise ValueError(f"node {node.key!r}: run {run_id} has no task {node.task_id!r}")
            return None, 0
        row = self._row(
            "SELECT id, kind, depth, task_id, exploration_id FROM nodes "
            "WHERE run_id = ? AND key = ?",
            (run_id, node.parent_key),
        )
        if row is None:
            raise ValueError(f"node {node.key!r}: parent {node.parent_key!r} is not stored")
        if row["exploration_id"] is not None and node.exploration_id is None:
            raise ValueError(f"node {node.key!r}: the sample cannot grow from an exploration")
        if row["task_id"] != node.task_id:
            raise ValueError(f"node {node.key!r}: parent belongs to task {row['task_id']!r}")
        if node.kind == "feedback":
            if row["kind"] != "program":
                raise ValueError(f"feedback {node.key!r}: parent must be a program")
            return int(row["id"]), int(row["depth"]) + 1
        if row["kind"] != "feedback":
            raise ValueError(f"repair {node.key!r}: parent must be a feedback")
        return int(row["id"]), int(row["depth"])

    def _store_verdict(self, node_id: int, verdict: Verdict, seq: int, when: str) -> None:
        cur = self._conn.execute(
            "UPDATE nodes SET passed = ?, fault = ?, error_message = ?, isolation = ?, "
            "executed_utc = ?, exec_duration = ?, exec_extra_json = ?, seq = ? "
            "WHERE id = ? AND kind = 'program'",
            (int(verdict.passed), verdict.fault, verdict.error_message, verdict.isolation,
             when, verdict.duration, dumps(verdict.extra), seq, node_id),
        )
        if cur.rowcount == 0:
            raise ValueError(f"node {node_id} is not a stored program")
        self._conn.execute("DELETE FROM test_results WHERE node_id = ?", (node_id,))
        self._insert_results(node_id, verdict)

    def _insert_results(self, node_id: int, verdict: Verdict) -> None:
        self._conn.executemany(
            "INSERT INTO test_results (node_id, test_index, status, input, expected, got, "
            "error_type, message, line, duration) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [result_params(node_id, r) for r in verdict.results],
        )


def check(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def call_values(call: NewCall) -> dict[str, Any]:
    return {
        "task_id": call.task_id,
        "key": call.key,
        "role": call.role,
        "model": call.model,
        "messages_json": dumps(call.messages),
        "params_json": dumps(call.params),
        "response_json": dumps(call.response),
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "latency": call.latency,
        "requests": call.requests,
        "status": call.status,
        "error": call.error,
        "prompt_version": call.prompt_version,
        "created_utc": call.created_utc or now_utc(),
        "exploration_id": call.exploration_id,
    }


def result_params(node_id: int, r: TestResult) -> tuple[Any, ...]:
    return (node_id, r.index, r.status.value, r.input, r.expected, r.got, r.error_type,
            r.message, r.line, r.duration)


def row_to_run(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"],
        name=row["name"],
        created_utc=row["created_utc"],
        dataset=row["dataset"],
        config=RunConfig.from_json(row["config_json"]),
        status=row["status"],
        isolation=row["isolation"],
        simulated=bool(row["simulated"]),
        message=row["message"],
        updated_utc=row["updated_utc"],
    )


def row_to_node(row: sqlite3.Row | dict[str, Any]) -> Node:
    passed = row["passed"]
    return Node(
        id=row["id"],
        run_id=row["run_id"],
        task_id=row["task_id"],
        parent_id=row["parent_id"],
        key=row["key"],
        kind=row["kind"],
        origin=row["origin"],
        model=row["model"],
        text=row["text"],
        code=row["code"],
        tokens=row["tokens"],
        passed=None if passed is None else bool(passed),
        fault=row["fault"],
        error_message=row["error_message"],
        isolation=row["isolation"],
        depth=row["depth"],
        sample_index=row["sample_index"],
        call_id=row["call_id"],
        created_utc=row["created_utc"],
        executed_utc=row["executed_utc"],
        exec_duration=row["exec_duration"],
        exec_extra=loads(row["exec_extra_json"], {}),
        meta=loads(row["meta_json"], {}),
        seq=row["seq"],
        exploration_id=row["exploration_id"],
    )


def row_to_call(row: sqlite3.Row | dict[str, Any]) -> Call:
    return Call(
        id=row["id"],
        run_id=row["run_id"],
        task_id=row["task_id"],
        key=row["key"],
        role=row["role"],
        model=row["model"],
        messages=loads(row["messages_json"], []),
        params=loads(row["params_json"], {}),
        response=loads(row["response_json"]),
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        latency=row["latency"],
        requests=row["requests"],
        status=row["status"],
        error=row["error"],
        prompt_version=row["prompt_version"],
        created_utc=row["created_utc"],
        exploration_id=row["exploration_id"],
    )


def row_to_task(row: sqlite3.Row) -> Task:
    return Task(
        id=row["task_id"],
        source=row["source"],
        spec=row["spec"],
        tests=loads(row["tests_json"], {}),
        difficulty=row["difficulty"],
        starter_code=row["starter_code"],
        entry_point=row["entry_point"],
        references=tuple(loads(row["references_json"], [])),
        split=row["split"],
        meta=loads(row["meta_json"], {}),
    )


def row_to_test_result(row: sqlite3.Row) -> TestResult:
    return TestResult(
        index=row["test_index"],
        status=Status(row["status"]),
        input=row["input"],
        expected=row["expected"],
        got=row["got"],
        error_type=row["error_type"],
        message=row["message"],
        line=row["line"],
        duration=row["duration"],
    )


def task_params(run_id: int, position: int, task: Task) -> tuple[Any, ...]:
    """The values of one ``tasks`` row, in ``TASK_INSERT`` order."""
    return (
        run_id,
        task.id,
        position,
        task.source,
        task.difficulty,
        task.spec,
        dumps(task.tests),
        task.entry_point,
        task.starter_code,
        dumps(list(task.references)),
        task.split,
        dumps(task.meta),
    )


TASK_INSERT = (
    "INSERT INTO tasks (run_id, task_id, position, source, difficulty, spec, tests_json, "
    "entry_point, starter_code, references_json, split, meta_json) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, task_id) DO NOTHING"
)
