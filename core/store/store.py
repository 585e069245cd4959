"""The store: typed reads and writes of runs, tasks, calls, nodes and test results.

A ``Store`` wraps one connection from ``core.store.connection.open_db``. Use it only from the thread
that opened it (sqlite3 refuses other threads); a worker thread calls
``Store.open(path)`` for its own. WAL lets any number of readers (the app, another
process) read while one writer writes; every write method below is one transaction,
so a reader never sees half a step.

Writes are idempotent by key: a node key or call key that is already stored returns
the stored record instead of a duplicate, which is what a resumed run relies on.
The read queries for the app live in ``core.store.reads``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from repair_tui.core.datasets.task import Task
from repair_tui.core.errors import UserError
from repair_tui.core.store.base import (
    NODE_COLUMNS,
    TASK_INSERT,
    call_values,
    check,
    now_utc,
    row_to_call,
    row_to_node,
    row_to_run,
    row_to_task,
    task_params,
)
from repair_tui.core.store.connection import open_db
from repair_tui.core.store.costs import StoreCosts
from repair_tui.core.store.explore import ExplorationStore
from repair_tui.core.store.reads import StoreReads
from repair_tui.core.store.records import (
    CALL_ROLES,
    CALL_STATUSES,
    RUN_STATUSES,
    Call,
    NewCall,
    NewNode,
    Node,
    Run,
    RunConfig,
    feedback_key,
)
from repair_tui.core.store.search import StoreSearch
from repair_tui.core.store.views import OriginStats, RunSummary, RunTotals, TaskRow
from repair_tui.sandbox.result import Verdict

__all__ = ["OriginStats", "RunSummary", "RunTotals", "Store", "TaskRow"]


# mypy cannot follow the editable repair_tui mapping, so the base class looks like Any.
class Store(StoreReads, StoreCosts, StoreSearch, ExplorationStore):  # type: ignore[misc]
    """Typed access to one repair-tui database (see the module docstring for threads)."""

    @classmethod
    def open(cls, path: str | Path | None, *, create: bool = True) -> Store:
        """Open the database at ``path`` (None: the default) with a new connection;
        ``create`` False: a missing database is an error (for commands that only read)."""
        return cls(open_db(path, create=create))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes into one transaction (nested: a savepoint)."""
        with self._write():
            yield

    # --- runs -------------------------------------------------------------------

    def create_run(
        self,
        name: str,
        config: RunConfig,
        *,
        isolation: str,
        simulated: bool,
        status: str = "running",
        created_utc: str | None = None,
        message: str | None = None,
    ) -> Run:
        """Store a new run. UserError if the name is empty or already used."""
        clean = name.strip()
        if not clean or clean != name or "\n" in name:
            raise UserError(f"run name {name!r} must be non-empty, one line, no outer spaces")
        check(status, RUN_STATUSES, "run status")
        created = created_utc or now_utc()
        with self._write() as conn:
            if self.find_run(name) is not None:
                raise UserError(f"a run named {name!r} already exists in {self.label}")
            cur = conn.execute(
                "INSERT INTO runs (name, created_utc, updated_utc, dataset, config_json, status, "
                "message, isolation, simulated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, created, now_utc(), config.dataset, config.to_json(), status, message,
                 isolation, int(simulated)),
            )
            run_id = int(cur.lastrowid or 0)
        return self.get_run_by_id(run_id)

    def find_run(self, name: str) -> Run | None:
        """The run with this name, or None."""
        row = self._row("SELECT * FROM runs WHERE name = ?", (name,))
        return None if row is None else row_to_run(row)

    def get_run_by_id(self, run_id: int) -> Run:
        row = self._row("SELECT * FROM runs WHERE id = ?", (run_id,))
        if row is None:
            raise UserError(f"no run with id {run_id} in {self.label}")
        return row_to_run(row)

    def get_run(self, name_or_id: str | int) -> Run:
        """A run by name (or id). UserError naming the run and the known runs if missing."""
        if isinstance(name_or_id, int):
            return self.get_run_by_id(name_or_id)
        run = self.find_run(name_or_id)
        if run is None and name_or_id.isdigit():
            row = self._row("SELECT * FROM runs WHERE id = ?", (int(name_or_id),))
            run = None if row is None else row_to_run(row)
        if run is None:
            names = self.run_names()
            known = f"known runs: {', '.join(names)}" if names else "it has no runs yet"
            raise UserError(f"no run named {name_or_id!r} in {self.label}; {known}")
        return run

    def run_names(self) -> list[str]:
        """Every run's name, oldest first."""
        return [r[0] for r in self._conn.execute("SELECT name FROM runs ORDER BY id")]

    def update_run(
        self,
        run_id: int,
        *,
        status: str | None = None,
        message: str | None = None,
        isolation: str | None = None,
        config: RunConfig | None = None,
    ) -> Run:
        """Change a run's status (and message), isolation or configuration."""
        sets: dict[str, Any] = {"updated_utc": now_utc()}
        if status is not None:
            check(status, RUN_STATUSES, "run status")
            sets["status"] = status
            sets["message"] = message
        elif message is not None:
            sets["message"] = message
        if isolation is not None:
            sets["isolation"] = isolation
        if config is not None:
            sets["config_json"] = config.to_json()
            sets["dataset"] = config.dataset
        assignments = ", ".join(f"{col} = ?" for col in sets)
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE runs SET {assignments} WHERE id = ?", (*sets.values(), run_id)
            )
            if cur.rowcount == 0:
                raise UserError(f"no run with id {run_id} in {self.label}")
        return self.get_run_by_id(run_id)

    def set_run_status(self, run_id: int, status: str, message: str | None = None) -> Run:
        """Mark a run running, finished, interrupted, failed or imported."""
        return self.update_run(run_id, status=status, message=message)

    def rename_run(self, run_id: int, name: str) -> Run:
        """Give a run a new name. UserError if it is empty, taken or not one line."""
        clean = name.strip()
        if not clean or clean != name or "\n" in name:
            raise UserError(f"run name {name!r} must be non-empty, one line, no outer spaces")
        with self._write() as conn:
            other = self.find_run(name)
            if other is not None and other.id != run_id:
                raise UserError(f"a run named {name!r} already exists in {self.label}")
            cur = conn.execute("UPDATE runs SET name = ?, updated_utc = ? WHERE id = ?",
                               (name, now_utc(), run_id))
            if cur.rowcount == 0:
                raise UserError(f"no run with id {run_id} in {self.label}")
        return self.get_run_by_id(run_id)

    def delete_run(self, run_id: int) -> None:
        """Delete a run with its tasks, calls, nodes and test results (one transaction)."""
        with self._write() as conn:
            cur = conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            if cur.rowcount == 0:
                raise UserError(f"no run with id {run_id} in {self.label}")

    # --- tasks ------------------------------------------------------------------

    def add_tasks(self, run_id: int, tasks: Sequence[Task]) -> int:
        """Add tasks in order; tasks already stored for the run are kept as they are.

        Returns how many were new.
        """
        with self._write() as conn:
            start = int(self._scalar(
                "SELECT coalesce(max(position), -1) + 1 FROM tasks WHERE run_id = ?", (run_id,)
            ))
            added = 0
            for task in tasks:
                cur = conn.execute(TASK_INSERT, task_params(run_id, start + added, task))
                added += cur.rowcount
        return added

    def get_tasks(self, run_id: int) -> list[Task]:
        """A run's tasks in the order they were added."""
        rows = self._rows("SELECT * FROM tasks WHERE run_id = ? ORDER BY position", (run_id,))
        return [row_to_task(r) for r in rows]

    def get_task(self, run_id: int, task_id: str) -> Task:
        row = self._row("SELECT * FROM tasks WHERE run_id = ? AND task_id = ?", (run_id, task_id))
        if row is None:
            raise UserError(f"run {run_id} in {self.label} has no task {task_id!r}")
        return row_to_task(row)

    # --- calls and nodes ----------------------------------------------------------

    def add_call(
        self, run_id: int, call: NewCall, nodes: Sequence[NewNode] = ()
    ) -> tuple[Call, list[Node]]:
        """Store one completed model call and the nodes it produced, atomically.

        Idempotent: if a call with this key is stored with status ``ok``, nothing is
        written and the stored call and its nodes are returned. A stored ``error`` call
        with the same key is replaced (a retry). Nodes start unexecuted (passed None).
        """
        check(call.role, CALL_ROLES, "call role")
        check(call.status, CALL_STATUSES, "call status")
        if call.status == "error" and nodes:
            raise ValueError(f"call {call.key!r} failed but has nodes")
        with self._write() as conn:
            existing = self.get_call_by_key(run_id, call.key)
            if existing is not None and existing.status == "ok":
                return existing, self.call_nodes(existing.id)
            values = call_values(call)
            if existing is not None:
                cols = ", ".join(f"{c} = ?" for c in values)
                conn.execute(f"UPDATE calls SET {cols} WHERE id = ?", (*values.values(), existing.id))
                call_id = existing.id
            else:
                call_id = self._insert_call(run_id, values)
            stored = self._insert_nodes(run_id, nodes, call_id=call_id)
        # Both as a read would return them, without reading them back.
        values.update(id=call_id, run_id=run_id, latency=float(values["latency"]))
        return row_to_call(values), stored

    def call_nodes(self, call_id: int) -> list[Node]:
        """The nodes a stored call produced, in the order they were stored."""
        return list(self._nodes_where("call_id = ?", (call_id,)))

    def children(self, node_id: int) -> list[Node]:
        """A node's direct children (feedback of a program, repairs of a feedback)."""
        return list(self._nodes_where("parent_id = ?", (node_id,)))

    def human_feedback(self, run_id: int) -> list[Node]:
        """Every feedback a person wrote in a run, in the order it was stored."""
        return list(self._nodes_where(
            "run_id = ? AND kind = 'feedback' AND origin = 'human'", (run_id,)
        ))

    def get_call_by_key(self, run_id: int, key: str) -> Call | None:
        row = self._row("SELECT * FROM calls WHERE run_id = ? AND key = ?", (run_id, key))
        return None if row is None else row_to_call(row)

    def add_nodes(self, run_id: int, nodes: Sequence[NewNode]) -> list[Node]:
        """Store nodes that no model call produced (human or tests-only feedback), atomically.

        A key already stored returns the stored node unchanged.
        """
        with self._write():
            stored: list[Node] = self._insert_nodes(run_id, nodes, call_id=None)
        return stored

    def add_feedback(
        self,
        parent_id: int,
        text: str,
        *,
        origin: str = "human",
        model: str | None = None,
        tokens: int = 0,
        meta: dict[str, Any] | None = None,
        exploration_id: int | None = None,
    ) -> Node:
        """Store a feedback on a program under the next free key (``|h0``, ``|h1``...;
        ``|x7h0`` in exploration 7)."""
        with self._write():
            parent = self.get_node(parent_id)
            index = 0 if exploration_id is not None else self.next_index(
                parent.run_id, parent.task_id, parent.id, "feedback", origin)
            key = feedback_key(parent.key, index, origin, exploration_id)
            while self.get_node_by_key(parent.run_id, key) is not None:
                index += 1
                key = feedback_key(parent.key, index, origin, exploration_id)
            new = NewNode(
                task_id=parent.task_id, key=key, kind="feedback", origin=origin,
                parent_key=parent.key, model=model, text=text, tokens=tokens,
                sample_index=index, meta=meta or {}, exploration_id=exploration_id,
            )
            node_id = self._insert_node(parent.run_id, new, call_id=None)
        return self.get_node(node_id)

    def next_index(
        self,
        run_id: int,
        task_id: str,
        parent_id: int | None,
        kind: str = "program",
        origin: str = "model",
    ) -> int:
        """One more than the largest ``sample_index`` among these siblings (0 if none)."""
        if parent_id is None:
            value = self._scalar(
                "SELECT max(sample_index) FROM nodes WHERE run_id = ? AND task_id = ? "
                "AND parent_id IS NULL AND kind = ? AND origin = ?",
                (run_id, task_id, kind, origin),
            )
        else:
            value = self._scalar(
                "SELECT max(sample_index) FROM nodes WHERE parent_id = ? AND kind = ? "
                "AND origin = ?",
                (parent_id, kind, origin),
            )
        return 0 if value is None else int(value) + 1

    def record_verdict(self, node_id: int, verdict: Verdict) -> Node:
        """Store a program's verdict and test results (replacing earlier ones), atomically."""
        return self.record_verdicts([(node_id, verdict)])[0]

    def record_verdicts(self, items: Iterable[tuple[int, Verdict]]) -> list[Node]:
        """``record_verdict`` for many programs in one transaction."""
        ids: list[int] = []
        with self._write():
            seq = self._next_seq()
            for node_id, verdict in items:
                self._store_verdict(node_id, verdict, seq, now_utc())
                ids.append(node_id)
                seq += 1
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self._rows(f"SELECT {NODE_COLUMNS} FROM nodes WHERE id IN ({marks})", ids)
        found = {row["id"]: row_to_node(row) for row in rows}
        return [found[i] if i in found else self.get_node(i) for i in ids]

    def get_node_by_key(self, run_id: int, key: str) -> Node | None:
        found = self._nodes_where("run_id = ? AND key = ?", (run_id, key))
        return found[0] if found else None

    def nodes_by_key(self, run_id: int, task_id: str | None = None) -> dict[str, Node]:
        """Every node of a run (or of one task), by key."""
        if task_id is None:
            nodes = self._nodes_where("run_id = ?", (run_id,))
        else:
            nodes = self._nodes_where("run_id = ? AND task_id = ?", (run_id, task_id))
        return {n.key: n for n in nodes}

    def pending_programs(self, run_id: int, task_id: str | None = None) -> list[Node]:
        """Programs stored but not executed yet (to execute on resume), oldest first."""
        where = "run_id = ? AND kind = 'program' AND passed IS NULL"
        if task_id is None:
            return list(self._nodes_where(where, (run_id,)))
        return list(self._nodes_where(where + " AND task_id = ?", (run_id, task_id)))

    # --- low level, for importers -------------------------------------------------

    def restore_call(self, run_id: int, call: NewCall) -> int:
        """Insert a call row exactly as given (timestamps kept). Returns its id."""
        with self._write():
            return self._insert_call(run_id, call_values(call))

    def _insert_call(self, run_id: int, values: dict[str, Any]) -> int:
        """Insert one call row (inside a write transaction); its id."""
        row = {"run_id": run_id, **values}
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cur = self._conn.execute(f"INSERT INTO calls ({cols}) VALUES ({marks})", tuple(row.values()))
        return int(cur.lastrowid or 0)

    def restore_node(
        self,
        run_id: int,
        node: NewNode,
        *,
        call_id: int | None = None,
        verdict: Verdict | None = None,
        executed_utc: str | None = None,
    ) -> int:
        """Insert a node exactly as given, with its verdict if it was executed. Returns its id."""
        with self._write():
            return int(self._insert_node(run_id, node, call_id=call_id, must_be_new=True,
                                         verdict=verdict, executed_utc=executed_utc))
