"""Full-text search over a run's specs, programs and feedback (SQLite FTS5).

Specs are indexed (``tasks_fts``) by triggers as tasks are written. Nodes are indexed
(``nodes_fts``) when someone searches: writing a node only marks it pending (migration
``m004_search_on_demand``, which keeps a run's writes cheap), and every search first
indexes what is pending (``catch_up_index``), so it still sees what a running run wrote
a moment ago. A database that cannot be written is searched as indexed, and
``unindexed`` says how many nodes that search could not see. Queries use FTS5's syntax: words (all must appear), ``"a phrase"``, ``OR``,
``NOT``, ``prefix*`` (``literal_query`` turns typed text into a query that never reads
as syntax). Explorations are searched too (a person's feedback is text worth finding);
each hit says its origin and whether it is an exploration. ``Store`` inherits this class.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from repair_tui.core.errors import UserError
from repair_tui.core.store.base import StoreBase

SEARCH_KINDS = ("spec", "program", "feedback")
# Snippet markers around matched words: control characters that no stored text keeps
# raw (shown text goes through the interface's escaping, which replaces them).
MARK_START, MARK_END = "\x02", "\x03"
_SNIPPET = f"'{MARK_START}', '{MARK_END}', '…', 16"
# Pending nodes indexed per write transaction: a running run's writer waits for one
# chunk at most (about 0.1 s), not for a whole run's worth.
CATCH_UP_CHUNK = 1000


@dataclass(frozen=True)
class SearchHit:
    """One match: a task's spec (``node_id`` None) or a program or feedback node."""

    kind: str  # spec, program or feedback
    task_id: str
    node_id: int | None
    key: str | None
    origin: str | None
    snippet: str  # matched words between MARK_START and MARK_END
    exploration: bool = False  # made after the run (a person's feedback, a rerun...)

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["snippet"] = self.snippet.replace(MARK_START, "").replace(MARK_END, "")
        return body


def literal_query(text: str) -> str:
    """An FTS5 query finding ``text`` as typed: its words in a row, the last one as a
    prefix (``off by o`` finds "Off by one:"), none read as FTS5 syntax. '' for no word."""
    words = re.findall(r"\w+", text)
    return '"' + " ".join(words) + '"*' if words else ""


# mypy cannot follow the editable repair_tui mapping, so the base class looks like Any.
class StoreSearch(StoreBase):  # type: ignore[misc]
    """Full-text search of one run (inherited by ``Store``)."""

    # Nodes the last search could not index first (a read-only or locked database).
    unindexed = 0

    def pending_index(self) -> bool:
        """Whether nodes wait to be indexed (one probe of a small table)."""
        return bool(self._scalar("SELECT EXISTS (SELECT 1 FROM nodes_fts_pending)"))

    def catch_up_index(self, chunk: int = CATCH_UP_CHUNK) -> int:
        """Index the nodes written (or changed) since the last search, in rowid order,
        ``chunk`` of them per write transaction; return how many. Safe from several
        processes at once (``BEGIN IMMEDIATE``: the later one finds nothing left).
        UserError when the database cannot be written (nothing is lost: the nodes
        stay pending)."""
        done = 0
        while self.pending_index():
            with self._write() as conn:
                top = conn.execute("SELECT max(node_id) FROM (SELECT node_id FROM nodes_fts_pending "
                                   "ORDER BY node_id LIMIT ?)", (chunk,)).fetchone()[0]
                if top is None:
                    break  # another process indexed them meanwhile
                done += conn.execute(
                    "INSERT INTO nodes_fts (rowid, text, code) SELECT n.id, n.text, n.code "
                    "FROM nodes_fts_pending p JOIN nodes n ON n.id = p.node_id "
                    "WHERE p.node_id <= ? ORDER BY p.node_id", (top,)).rowcount
                conn.execute("DELETE FROM nodes_fts_pending WHERE node_id <= ?", (top,))
        return done

    def _catch_up_for_search(self, catch_up: bool) -> None:
        self.unindexed = 0
        if catch_up:
            try:
                self.catch_up_index()
                return
            except UserError:
                pass  # read-only, or locked past the timeout: search what is indexed
        if self.pending_index():
            self.unindexed = int(self._scalar("SELECT count(*) FROM nodes_fts_pending"))

    def search(self, run_id: int, query: str, kind: str | None = None, limit: int = 100, *,
               catch_up: bool = True) -> list[SearchHit]:
        """A run's specs, programs and feedback matching ``query``, best first per kind
        (specs, then feedback, then programs). UserError for a malformed query.

        Pending nodes are indexed first (``catch_up`` False: only what is indexed is
        searched); ``unindexed`` then counts the nodes this search could not see."""
        if kind is not None and kind not in SEARCH_KINDS:
            raise ValueError(f"kind must be one of {', '.join(SEARCH_KINDS)}, not {kind!r}")
        if not query.strip():
            raise UserError("search: the query is empty")
        self._catch_up_for_search(catch_up)
        hits: list[SearchHit] = []
        try:
            if kind in (None, "spec"):
                hits += self._spec_hits(run_id, query, limit)
            for node_kind in ("feedback", "program"):
                if kind in (None, node_kind):
                    hits += self._node_hits(run_id, query, node_kind, limit)
        except sqlite3.OperationalError as exc:
            if not any(w in str(exc) for w in ("locked", "no such table", "disk", "readonly")):
                raise UserError(f"search query {query!r}: {exc} (FTS5 syntax: words, \"a phrase\", "
                                "OR, NOT, prefix*)") from None
            raise
        return hits[:limit]

    def matching_tasks(self, run_id: int, query: str, *, catch_up: bool = True) -> set[str]:
        """The ids of a run's tasks with a program or feedback matching ``query``
        (explorations included), after indexing pending nodes as ``search`` does.
        UserError for a malformed query."""
        self._catch_up_for_search(catch_up)
        try:
            rows = self._conn.execute(
                "SELECT DISTINCT n.task_id FROM nodes_fts JOIN nodes n ON n.id = nodes_fts.rowid "
                "WHERE nodes_fts MATCH ? AND n.run_id = ?", (query, run_id)).fetchall()
        except sqlite3.OperationalError as exc:
            raise UserError(f"search query {query!r}: {exc}") from None
        return {r[0] for r in rows}

    def _spec_hits(self, run_id: int, query: str, limit: int) -> list[SearchHit]:
        rows = self._conn.execute(
            f"SELECT t.task_id, snippet(tasks_fts, 0, {_SNIPPET}) FROM tasks_fts "
            "JOIN tasks t ON t.rowid = tasks_fts.rowid "
            "WHERE tasks_fts MATCH ? AND t.run_id = ? ORDER BY tasks_fts.rank LIMIT ?",
            (query, run_id, limit),
        ).fetchall()
        return [SearchHit("spec", r[0], None, None, None, r[1]) for r in rows]

    def _node_hits(self, run_id: int, query: str, kind: str, limit: int) -> list[SearchHit]:
        rows = self._conn.execute(
            f"SELECT n.task_id, n.id, n.key, n.origin, snippet(nodes_fts, -1, {_SNIPPET}), "
            "n.exploration_id IS NOT NULL "
            "FROM nodes_fts JOIN nodes n ON n.id = nodes_fts.rowid "
            "JOIN tasks t ON t.run_id = n.run_id AND t.task_id = n.task_id "
            "WHERE nodes_fts MATCH ? AND n.run_id = ? AND n.kind = ? "
            "ORDER BY nodes_fts.rank, t.position, n.id LIMIT ?",
            (query, run_id, kind, limit),
        ).fetchall()
        return [SearchHit(kind, r[0], int(r[1]), r[2], r[3], r[4], bool(r[5])) for r in rows]
