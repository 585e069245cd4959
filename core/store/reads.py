"""The store's read queries: what the app and the estimator ask of a run.

Counts come from one aggregate over the covering index ``nodes_stats``, so a task list
or a run's totals never read node texts. ``changes_since`` returns only nodes written
after a mark, so a live view never reloads whole trees. ``Store`` (core/store/store.py)
inherits all of this; use it rather than this class.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from repair_tui.core.errors import UserError
from repair_tui.core.estimate.frozen import FrozenTask
from repair_tui.core.store.base import (
    NODE_COLUMNS,
    StoreBase,
    loads,
    row_to_call,
    row_to_node,
    row_to_test_result,
)
from repair_tui.core.store.records import Call, Node
from repair_tui.core.store.views import (
    COUNT_NAMES,
    OriginStats,
    RunSummary,
    RunTotals,
    TaskRow,
    build_frozen,
    summary_from_row,
    task_row_from_rows,
)
from repair_tui.sandbox.result import TestResult

# Which nodes a read counts: the run's sample (the default of every count, tally and
# estimator read), its explorations, or both.
SCOPES = ("sample", "explorations", "all")


def scope_sql(scope: str, alias: str = "") -> str:
    """The WHERE condition that keeps one scope's nodes (or calls)."""
    col = f"{alias}.exploration_id" if alias else "exploration_id"
    if scope == "sample":
        return f"{col} IS NULL"
    if scope == "explorations":
        return f"{col} IS NOT NULL"
    if scope == "all":
        return "1"
    raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")


# Per-task counts over the covering index; the parameters are the run id and the depth
# below which a failing program still awaits feedback (0 when the run is not running).
# ``open`` counts the work a running run has not finished: programs not executed yet,
# failing programs with no feedback, feedback with no repair.
def _task_counts(scope: str) -> str:
    return f"""
    SELECT task_id,
        sum(kind = 'program' AND depth = 0) AS programs,
        sum(kind = 'program' AND depth = 0 AND passed = 1) AS programs_passed,
        sum(kind = 'program' AND depth > 0) AS repairs,
        sum(kind = 'program' AND depth > 0 AND passed = 1) AS repairs_passed,
        sum(kind = 'program' AND passed IS NOT NULL) AS executed,
        sum(kind = 'program' AND passed IS NULL) AS pending,
        sum(kind = 'feedback') AS feedback,
        sum(kind = 'feedback' AND origin = 'human') AS human_feedback,
        sum(tokens) AS tokens,
        sum(CASE WHEN kind = 'program' AND passed IS NULL THEN ?2 > 0
            WHEN kind = 'program' AND passed = 0 AND depth < ?2 THEN NOT EXISTS (
                SELECT 1 FROM nodes c WHERE c.parent_id = n.id AND c.exploration_id IS NULL)
            WHEN kind = 'feedback' AND ?2 > 0 THEN NOT EXISTS (
                SELECT 1 FROM nodes c WHERE c.parent_id = n.id AND c.exploration_id IS NULL)
            ELSE 0 END) AS open
    FROM nodes n WHERE run_id = ?1 AND {scope_sql(scope)} GROUP BY task_id
"""


# One row per flaky program of a run (its task id): a later execution's verdict
# differs from the first; "?" is the run id.
_FLAKY_TASKS = """
    SELECT n.task_id FROM nodes n WHERE n.run_id = ? AND n.kind = 'program'
      AND EXISTS (SELECT 1 FROM executions e WHERE e.node_id = n.id AND e.passed != n.passed)
"""


def node_columns(alias: str) -> str:
    """NODE_COLUMNS qualified with a table alias, for joins."""
    return ", ".join(f"{alias}.{c.strip()}" for c in NODE_COLUMNS.split(","))


# mypy cannot follow the editable repair_tui mapping, so the base class looks like Any.
class StoreReads(StoreBase):  # type: ignore[misc]
    """Read queries for the app and the estimator (inherited by ``Store``)."""

    def list_runs(self) -> list[RunSummary]:
        """Every run with its sample's counts, oldest first."""
        rows = self._rows(
            """
            SELECT r.*, coalesce(t.n, 0) AS n_tasks, coalesce(s.programs, 0) AS programs,
                coalesce(s.repairs, 0) AS repairs, coalesce(s.tokens, 0) AS tokens,
                coalesce(s.solved, 0) AS solved
            FROM runs r
            LEFT JOIN (SELECT run_id, count(*) AS n FROM tasks GROUP BY run_id) t
                ON t.run_id = r.id
            LEFT JOIN (
                SELECT run_id,
                    sum(kind = 'program' AND depth = 0) AS programs,
                    sum(kind = 'program' AND depth > 0) AS repairs,
                    sum(tokens) AS tokens,
                    count(DISTINCT CASE WHEN kind = 'program' AND passed = 1
                        THEN task_id END) AS solved
                FROM nodes WHERE exploration_id IS NULL GROUP BY run_id
            ) s ON s.run_id = r.id
            ORDER BY r.id
            """
        )
        return [replace(summary_from_row(row), attempted=self._attempted(row["id"]))
                for row in rows]

    def _attempted(self, run_id: int) -> int:
        """Tasks of a run's sample that have a verdict and no work left (as ``run_totals``)."""
        count = 0
        for r in self._rows(_task_counts("sample"), (run_id, self._open_depth(run_id, "sample"))):
            won = bool(r["programs_passed"] or r["repairs_passed"])
            count += bool(r["executed"]) and (won or not r["open"])
        return count

    def task_rows(self, run_id: int, scope: str = "sample") -> list[TaskRow]:
        """A run's tasks in order, each with its counts in ``scope`` (no node texts read).

        Flaky programs are counted over both scopes."""
        counts = {r["task_id"]: r for r in self._rows(_task_counts(scope),
                                                     (run_id, self._open_depth(run_id, scope)))}
        flaky: dict[str, int] = defaultdict(int)
        for (task_id,) in self._conn.execute(_FLAKY_TASKS, (run_id,)):
            flaky[task_id] += 1
        explored = {r[0]: (int(r[1]), int(r[2])) for r in self._conn.execute(
            "SELECT task_id, count(*), sum(kind = 'feedback' AND origin = 'human') FROM nodes "
            "WHERE run_id = ? AND exploration_id IS NOT NULL GROUP BY task_id", (run_id,))}
        tasks = self._rows(
            "SELECT task_id, position, difficulty, spec FROM tasks WHERE run_id = ? "
            "ORDER BY position",
            (run_id,),
        )
        return [task_row_from_rows(t, counts.get(t["task_id"]), flaky[t["task_id"]],
                                   *explored.get(t["task_id"], (0, 0)))
                for t in tasks]

    def _open_depth(self, run_id: int, scope: str) -> int:
        """The depth below which a running run still explains failing programs (0: the
        run is not running, so nothing it stored is waiting for more)."""
        if scope != "sample":
            return 0
        row = self._row("SELECT status, config_json FROM runs WHERE id = ?", (run_id,))
        if row is None or row["status"] != "running":
            return 0
        return int(loads(row["config_json"], {}).get("depth", 1))

    def run_totals(self, run_id: int, scope: str = "sample") -> RunTotals:
        """A run's totals over tasks, nodes and calls in ``scope`` (default: the sample).

        A task still being worked on (``in_progress``) is neither attempted nor unsolved.
        """
        tasks = int(self._scalar("SELECT count(*) FROM tasks WHERE run_id = ?", (run_id,)))
        sums: dict[str, int] = defaultdict(int)
        attempted = solved = by_repair = in_progress = 0
        for r in self._rows(_task_counts(scope), (run_id, self._open_depth(run_id, scope))):
            for name in COUNT_NAMES:
                sums[name] += int(r[name] or 0)
            won = bool(r["programs_passed"] or r["repairs_passed"])
            busy = not won and bool(r["open"])
            in_progress += busy
            attempted += bool(r["executed"]) and not busy
            solved += won
            by_repair += bool(not r["programs_passed"] and r["repairs_passed"])
        origins = {
            r[0]: int(r[1])
            for r in self._conn.execute(
                "SELECT origin, count(*) FROM nodes WHERE run_id = ? AND kind = 'feedback' "
                f"AND {scope_sql(scope)} GROUP BY origin",
                (run_id,),
            )
        }
        calls = self._row(
            "SELECT count(*) AS n, coalesce(sum(status = 'error'), 0) AS failed, "
            "coalesce(sum(prompt_tokens), 0) AS pt, coalesce(sum(completion_tokens), 0) AS ct "
            f"FROM calls WHERE run_id = ? AND {scope_sql(scope)}",
            (run_id,),
        )
        assert calls is not None  # an aggregate always returns one row
        flaky = int(self._scalar(f"SELECT count(*) FROM ({_FLAKY_TASKS})", (run_id,)))
        return RunTotals(
            tasks=tasks, attempted=attempted, solved=solved, solved_by_repair=by_repair,
            programs=sums["programs"], programs_passed=sums["programs_passed"],
            repairs=sums["repairs"], repairs_passed=sums["repairs_passed"],
            pending=sums["pending"], feedback_by_origin=origins, tokens=sums["tokens"],
            calls=int(calls["n"]), calls_failed=int(calls["failed"]),
            prompt_tokens=int(calls["pt"]), completion_tokens=int(calls["ct"]),
            in_progress=in_progress, flaky=flaky,
        )

    def task_nodes(self, run_id: int, task_id: str, scope: str = "all") -> list[Node]:
        """One task's tree in insertion order (every parent before its children):
        sample and explorations unless ``scope`` says otherwise."""
        # One range of the (run_id, exploration_id, task_id, ...) index per scope: with
        # run_id and task_id alone SQLite walks every node of the run (the whole run's
        # rows for one task of 164).
        parts = [f"SELECT {NODE_COLUMNS} FROM nodes INDEXED BY nodes_stats "
                 f"WHERE run_id = ? AND {scope_sql(s)} AND task_id = ?"
                 for s in (("sample", "explorations") if scope == "all" else (scope,))]
        rows = self._rows(" UNION ALL ".join(parts) + " ORDER BY id",
                          (run_id, task_id) * len(parts))
        return [row_to_node(r) for r in rows]

    def test_results(self, node_id: int) -> list[TestResult]:
        """A program's per-test results in test order (empty if not executed)."""
        rows = self._rows(
            "SELECT * FROM test_results WHERE node_id = ? ORDER BY test_index", (node_id,)
        )
        return [row_to_test_result(r) for r in rows]

    def get_call(self, call_id: int) -> Call:
        row = self._row("SELECT * FROM calls WHERE id = ?", (call_id,))
        if row is None:
            raise UserError(f"no call with id {call_id} in {self.label}")
        return row_to_call(row)

    def calls(self, run_id: int, task_id: str | None = None) -> list[Call]:
        """A run's calls (or one task's) in insertion order."""
        if task_id is None:
            rows = self._rows("SELECT * FROM calls WHERE run_id = ? ORDER BY id", (run_id,))
        else:
            rows = self._rows(
                "SELECT * FROM calls WHERE run_id = ? AND task_id = ? ORDER BY id",
                (run_id, task_id),
            )
        return [row_to_call(r) for r in rows]

    def iter_calls(self, run_id: int, scope: str = "all") -> Iterator[Call]:
        """A run's calls in insertion order, streamed (for exports)."""
        cur = self._conn.cursor()
        cur.row_factory = sqlite3.Row
        sql = f"SELECT * FROM calls WHERE run_id = ? AND {scope_sql(scope)} ORDER BY id"
        for row in cur.execute(sql, (run_id,)):
            yield row_to_call(row)

    def iter_nodes(self, run_id: int, scope: str = "all") -> Iterator[Node]:
        """A run's nodes in insertion order (parents first), streamed (for exports)."""
        cur = self._conn.cursor()
        cur.row_factory = sqlite3.Row
        sql = f"SELECT {NODE_COLUMNS} FROM nodes WHERE run_id = ? AND {scope_sql(scope)} ORDER BY id"
        for row in cur.execute(sql, (run_id,)):
            yield row_to_node(row)

    def iter_test_results(self, run_id: int) -> Iterator[tuple[int, TestResult]]:
        """(node id, result) for a run, by node id then test index, streamed."""
        cur = self._conn.cursor()
        cur.row_factory = sqlite3.Row
        sql = (
            "SELECT r.* FROM test_results r JOIN nodes n ON n.id = r.node_id "
            "WHERE n.run_id = ? ORDER BY r.node_id, r.test_index"
        )
        for row in cur.execute(sql, (run_id,)):
            yield row["node_id"], row_to_test_result(row)

    def origin_stats(self, run_id: int, scope: str = "sample") -> dict[str, OriginStats]:
        """Per feedback origin: feedback count, repairs sampled from it, executed, passing.

        ``sample``: the run's own feedback and repairs. ``explorations``: feedback written
        in explorations, and repairs sampled in explorations from feedback of each origin
        (a rerun's repair of the run's model feedback counts under ``model``)."""
        if scope == "sample":
            where, feedback = "f.exploration_id IS NULL", "count(DISTINCT f.id)"
        elif scope == "explorations":
            where = "(f.exploration_id IS NOT NULL OR r.id IS NOT NULL)"
            feedback = "count(DISTINCT CASE WHEN f.exploration_id IS NOT NULL THEN f.id END)"
        else:
            raise ValueError(f"origin_stats scope must be sample or explorations, not {scope!r}")
        rows = self._rows(
            f"""
            SELECT f.origin AS origin, {feedback} AS feedback,
                count(r.id) AS repairs,
                coalesce(sum(r.passed IS NOT NULL), 0) AS executed,
                coalesce(sum(r.passed = 1), 0) AS passed
            FROM nodes f
            LEFT JOIN nodes r ON r.parent_id = f.id AND r.kind = 'program'
                AND {scope_sql(scope, "r")}
            WHERE f.run_id = ? AND f.kind = 'feedback' AND {where}
            GROUP BY f.origin
            """,
            (run_id,),
        )
        return {
            r["origin"]: OriginStats(r["origin"], r["feedback"], r["repairs"], r["executed"],
                                     r["passed"])
            for r in rows
        }

    def annotation_queue(
        self, run_id: int, task_id: str | None = None, limit: int | None = None
    ) -> list[Node]:
        """Failing programs with no human feedback yet, in task order, shallowest first.

        ``limit`` caps the list (a large run has thousands; the app needs the next few).
        """
        extra = "" if task_id is None else " AND p.task_id = ?"
        params: tuple[Any, ...] = (run_id,) if task_id is None else (run_id, task_id)
        if limit is not None:
            params = (*params, int(limit))
        rows = self._rows(
            f"""
            SELECT {node_columns('p')} FROM nodes p
            JOIN tasks t ON t.run_id = p.run_id AND t.task_id = p.task_id
            WHERE p.run_id = ? AND p.kind = 'program' AND p.passed = 0{extra}
              AND NOT EXISTS (SELECT 1 FROM nodes f WHERE f.parent_id = p.id
                              AND f.kind = 'feedback' AND f.origin = 'human')
            ORDER BY t.position, p.depth, p.id{"" if limit is None else " LIMIT ?"}
            """,
            params,
        )
        return [row_to_node(r) for r in rows]

    def data_version(self) -> int:
        """A number that changes whenever anyone (this connection or another) commits.

        Cheap: poll it and query again only when it moved. ``PRAGMA data_version``
        alone ignores this connection's own commits, so its change count is added.
        """
        pragma = int(self._scalar("PRAGMA data_version"))
        return pragma + int(self._conn.total_changes)

    def mark(self) -> int:
        """The current high-water mark for ``changes_since`` (take it before loading)."""
        return int(self._scalar("SELECT coalesce(max(seq), 0) FROM nodes"))

    def changes_since(self, run_id: int, mark: int) -> tuple[list[Node], int]:
        """Nodes of a run inserted or updated after ``mark``, and the new mark.

        Start from ``mark()`` taken before the first load (a node may then arrive
        twice; treat it as an update), or from 0 to get everything.
        """
        rows = self._rows(
            f"SELECT {NODE_COLUMNS} FROM nodes WHERE run_id = ? AND seq > ? ORDER BY seq",
            (run_id, mark),
        )
        nodes = [row_to_node(r) for r in rows]
        return nodes, (int(nodes[-1].seq) if nodes else mark)

    def frozen_tasks(self, run_id: int, difficulty: str | None = None) -> list[FrozenTask]:
        """A run's executed sample in the estimator's form (core.estimate.exact): its
        explorations never count, and a re-executed program keeps its first verdict.

        A program's tokens are its own; each feedback + repair pair becomes one repair
        Sample with tokens = feedback tokens + repair tokens (a feedback with several
        repairs counts in each, as in the paper's data); deeper repairs nest.
        Unexecuted programs are left out, and so are tasks with no executed first program.
        """
        sql = (
            "SELECT n.id, n.task_id, n.parent_id, n.kind, n.passed, n.tokens, t.difficulty "
            "FROM nodes n JOIN tasks t ON t.run_id = n.run_id AND t.task_id = n.task_id "
            "WHERE n.run_id = ? AND n.exploration_id IS NULL"
        )
        params: tuple[Any, ...] = (run_id,)
        if difficulty is not None:
            sql += " AND t.difficulty = ?"
            params = (run_id, difficulty)
        rows = self._conn.execute(sql + " ORDER BY t.position, n.id", params).fetchall()
        return list(build_frozen(rows))
