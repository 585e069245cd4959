"""Explorations: what was made on a run after it was sampled, kept apart from its sample.

An exploration is one action (a person's feedback, a repair from some feedback, a
rerun branch, a re-execution, an import of feedback, the annotation queue's work). Its
id comes from the ``explorations`` table inside a write transaction, so it is unique
across processes; the engine puts it in the keys of everything the action stores
(``core.store.records.call_key``), which is why two actions on the same parent at once
both land. Re-executions are rows of ``executions``: the node keeps its first verdict,
which the sample's numbers use, and a later verdict that differs makes it flaky.

``Store`` (core/store/store.py) inherits this; use it rather than this class.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from repair_tui.core.errors import UserError
from repair_tui.core.store.base import StoreBase, dumps, loads, now_utc
from repair_tui.core.store.migrations import classify_explorations
from repair_tui.core.store.records import Exploration
from repair_tui.sandbox.result import Status, TestResult, Verdict

EXPLORATION_KINDS = ("feedback", "repair", "rerun", "explain", "reexec", "import", "annotate",
                     "migrated")


@dataclass(frozen=True)
class ExplorationTally:
    """One exploration with what it made and how its repairs fared."""

    id: int
    kind: str
    source: str
    params: dict[str, Any]
    created_utc: str
    feedback: int  # feedback nodes it stored
    repairs: int  # repair programs it stored
    executed: int
    passed: int
    tokens: int
    reexecutions: int  # executions it added to stored programs
    changed: int  # of those, verdicts that differ from the program's first

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.executed if self.executed else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pass_rate": self.pass_rate}


@dataclass(frozen=True)
class Execution:
    """One execution of a stored program after its first."""

    id: int
    node_id: int
    exploration_id: int | None
    passed: bool
    fault: str | None
    error_message: str | None
    isolation: str | None
    executed_utc: str
    duration: float | None
    results: tuple[TestResult, ...]
    extra: dict[str, Any] = field(default_factory=dict)


# mypy cannot follow the editable repair_tui mapping, so the base class looks like Any.
class ExplorationStore(StoreBase):  # type: ignore[misc]
    """Writes and reads of explorations and re-executions (inherited by ``Store``)."""

    def create_exploration(
        self, run_id: int, kind: str, *, source: str = "", params: dict[str, Any] | None = None,
        created_utc: str | None = None,
    ) -> Exploration:
        """Record a new action on a run and return it (its id is unique across processes)."""
        if kind not in EXPLORATION_KINDS:
            raise ValueError(f"exploration kind must be one of {', '.join(EXPLORATION_KINDS)}")
        with self._write() as conn:
            if self._scalar("SELECT 1 FROM runs WHERE id = ?", (run_id,)) is None:
                raise UserError(f"no run with id {run_id} in {self.label}")
            cur = conn.execute(
                "INSERT INTO explorations (run_id, kind, source, params_json, created_utc) "
                "VALUES (?, ?, ?, ?, ?)",
                (run_id, kind, source, dumps(params or {}), created_utc or now_utc()),
            )
            eid = int(cur.lastrowid or 0)
        return self.get_exploration(eid)

    def get_exploration(self, exploration_id: int) -> Exploration:
        row = self._row("SELECT * FROM explorations WHERE id = ?", (exploration_id,))
        if row is None:
            raise UserError(f"no exploration with id {exploration_id} in {self.label}")
        return _row_to_exploration(row)

    def explorations(self, run_id: int) -> list[ExplorationTally]:
        """A run's explorations, oldest first, each with its tallies."""
        rows = self._rows(
            """
            SELECT x.*,
                coalesce(n.feedback, 0) AS feedback, coalesce(n.repairs, 0) AS repairs,
                coalesce(n.executed, 0) AS executed, coalesce(n.passed, 0) AS passed,
                coalesce(n.tokens, 0) AS tokens,
                coalesce(e.n, 0) AS reexecutions, coalesce(e.changed, 0) AS changed
            FROM explorations x
            LEFT JOIN (
                SELECT exploration_id, sum(kind = 'feedback') AS feedback,
                    sum(kind = 'program') AS repairs,
                    sum(kind = 'program' AND passed IS NOT NULL) AS executed,
                    sum(kind = 'program' AND passed = 1) AS passed, sum(tokens) AS tokens
                FROM nodes WHERE run_id = ?1 AND exploration_id IS NOT NULL
                GROUP BY exploration_id
            ) n ON n.exploration_id = x.id
            LEFT JOIN (
                SELECT e.exploration_id, count(*) AS n, sum(e.passed != p.passed) AS changed
                FROM executions e JOIN nodes p ON p.id = e.node_id
                WHERE p.run_id = ?1 GROUP BY e.exploration_id
            ) e ON e.exploration_id = x.id
            WHERE x.run_id = ?1 ORDER BY x.id
            """,
            (run_id,),
        )
        return [
            ExplorationTally(
                id=r["id"], kind=r["kind"], source=r["source"],
                params=loads(r["params_json"], {}), created_utc=r["created_utc"],
                feedback=int(r["feedback"]), repairs=int(r["repairs"]),
                executed=int(r["executed"]), passed=int(r["passed"]), tokens=int(r["tokens"]),
                reexecutions=int(r["reexecutions"]), changed=int(r["changed"]),
            )
            for r in rows
        ]

    def classify_legacy(self, run_id: int) -> None:
        """Sort a run stored without exploration marks (an old export) into its sample and
        one ``migrated`` exploration, by the rules the database migration uses."""
        with self._write():
            classify_explorations(self.db, [run_id])

    def paired_repair_rows(self, run_id: int) -> list[tuple[int, str, str, int, int]]:
        """(program id, repair model, feedback origin, executed repairs, passing repairs)
        for every program of a run that has a person's feedback: the input of
        ``core.estimate.paired.paired_comparison``. Repairs of either scope count (the
        model's feedback may be the run's own, the person's is always an exploration)."""
        return [(int(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]))
                for r in self._conn.execute(_PAIRED, (run_id,))]

    # --- executions -------------------------------------------------------------------

    def record_execution(
        self, node_id: int, verdict: Verdict, exploration_id: int | None,
        executed_utc: str | None = None,
    ) -> Execution:
        """Keep one more execution of a stored, executed program (its first verdict stays
        on the node). The node's ``seq`` moves so live views see it may now be flaky."""
        with self._write() as conn:
            row = self._row("SELECT kind, passed FROM nodes WHERE id = ?", (node_id,))
            if row is None or row["kind"] != "program" or row["passed"] is None:
                raise ValueError(f"node {node_id} is not an executed program")
            cur = conn.execute(
                "INSERT INTO executions (node_id, exploration_id, passed, fault, error_message, "
                "isolation, executed_utc, duration, extra_json, results_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (node_id, exploration_id, int(verdict.passed), verdict.fault,
                 verdict.error_message, verdict.isolation, executed_utc or now_utc(),
                 verdict.duration,
                 dumps(verdict.extra), dumps([_result_dict(r) for r in verdict.results])),
            )
            conn.execute("UPDATE nodes SET seq = ? WHERE id = ?", (self._next_seq(), node_id))
            eid = int(cur.lastrowid or 0)
        return self.executions(node_id, only=eid)[0]

    def executions(self, node_id: int, *, only: int | None = None) -> list[Execution]:
        """A program's executions after its first, oldest first."""
        sql = "SELECT * FROM executions WHERE node_id = ?"
        params: Sequence[Any] = (node_id,)
        if only is not None:
            sql, params = sql + " AND id = ?", (node_id, only)
        return [_row_to_execution(r) for r in self._rows(sql + " ORDER BY id", params)]

    def iter_executions(self, run_id: int) -> Iterator[tuple[str, Execution]]:
        """(program key, execution) for every re-execution of a run, oldest first."""
        cur = self._conn.cursor()
        cur.row_factory = sqlite3.Row
        sql = ("SELECT e.*, n.key AS node_key FROM executions e JOIN nodes n ON n.id = e.node_id "
               "WHERE n.run_id = ? ORDER BY e.id")
        for row in cur.execute(sql, (run_id,)):
            yield row["node_key"], _row_to_execution(row)

    def flaky_ids(self, run_id: int, task_id: str | None = None) -> set[int]:
        """Programs of a run (or one task) whose verdict changed between executions."""
        flaky = ("n.kind = 'program' AND EXISTS (SELECT 1 FROM executions e "
                 "WHERE e.node_id = n.id AND e.passed != n.passed)")
        if task_id is None:
            sql = f"SELECT n.id FROM nodes n WHERE n.run_id = ? AND {flaky}"
            params: tuple[Any, ...] = (run_id,)
        else:  # one range of the stats index per scope, as Store.task_nodes reads a task
            sql = " UNION ALL ".join(
                f"SELECT n.id FROM nodes n INDEXED BY nodes_stats WHERE n.run_id = ? "
                f"AND n.exploration_id {cond} AND n.task_id = ? AND {flaky}"
                for cond in ("IS NULL", "IS NOT NULL"))
            params = (run_id, task_id) * 2
        return {int(r[0]) for r in self._conn.execute(sql, params)}


def _result_dict(r: TestResult) -> dict[str, Any]:
    return {"index": r.index, "status": r.status.value, "input": r.input,
            "expected": r.expected, "got": r.got, "error_type": r.error_type,
            "message": r.message, "line": r.line, "duration": r.duration}


def _row_to_exploration(row: sqlite3.Row) -> Exploration:
    return Exploration(id=row["id"], run_id=row["run_id"], kind=row["kind"],
                       source=row["source"], params=loads(row["params_json"], {}),
                       created_utc=row["created_utc"])


def _row_to_execution(row: sqlite3.Row) -> Execution:
    results = tuple(
        TestResult(index=d["index"], status=Status(d["status"]), input=d.get("input"),
                   expected=d.get("expected"), got=d.get("got"), error_type=d.get("error_type"),
                   message=d.get("message"), line=d.get("line"), duration=d.get("duration", 0.0))
        for d in loads(row["results_json"], [])
    )
    return Execution(id=row["id"], node_id=row["node_id"], exploration_id=row["exploration_id"],
                     passed=bool(row["passed"]), fault=row["fault"],
                     error_message=row["error_message"], isolation=row["isolation"],
                     executed_utc=row["executed_utc"], duration=row["duration"],
                     results=results, extra=loads(row["extra_json"], {}))




# Per program with a person's feedback, per repair model and feedback origin: executed
# repairs and passing ones, from feedback of either scope ("?" is the run id).
_PAIRED = """
    SELECT p.id AS program, coalesce(r.model, '') AS model, f.origin AS origin,
        sum(r.passed IS NOT NULL) AS executed, coalesce(sum(r.passed = 1), 0) AS passed
    FROM nodes p
    JOIN nodes f ON f.parent_id = p.id AND f.kind = 'feedback'
    JOIN nodes r ON r.parent_id = f.id AND r.kind = 'program'
    WHERE p.run_id = ?1 AND p.kind = 'program'
      AND EXISTS (SELECT 1 FROM nodes h WHERE h.parent_id = p.id AND h.kind = 'feedback'
                  AND h.origin = 'human')
    GROUP BY p.id, r.model, f.origin
"""
