"""The database schema, as an append-only list of migrations.

The schema lives only here. Each ``@migrations()`` function runs once per database,
in its own transaction, in the order written (sqlite-utils ``Migrations``). Never edit
a migration that has shipped and never drop user data: append a new ``mNNN_...``
function instead. After migrating, ``PRAGMA user_version`` holds the number of
migrations applied, so other tools can tell the schema version at a glance.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from repair_tui.core.errors import UserError
from repair_tui.core.store._sqlite_utils import Database, Migrations

MIGRATION_SET = "repair_tui"

migrations = Migrations(MIGRATION_SET)

# Names in order, so the schema version is known without touching a database.
MIGRATION_NAMES: list[str] = []


def _migration(fn: Callable[[Database], None]) -> Callable[[Database], None]:
    MIGRATION_NAMES.append(fn.__name__)
    registered: Callable[[Database], None] = migrations()(fn)
    return registered


@_migration
def m001_create_schema(db: Database) -> None:
    """Runs, their tasks, model calls, tree nodes and per-test results."""
    db.executescript(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_utc TEXT NOT NULL,
            updated_utc TEXT NOT NULL,
            dataset TEXT NOT NULL,
            config_json TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'finished', 'interrupted', 'failed', 'imported')),
            message TEXT,
            isolation TEXT NOT NULL DEFAULT '',
            simulated INTEGER NOT NULL DEFAULT 0
        );

        CREATE TABLE tasks (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            source TEXT NOT NULL,
            difficulty TEXT,
            spec TEXT NOT NULL DEFAULT '',
            tests_json TEXT NOT NULL DEFAULT '{}',
            entry_point TEXT,
            starter_code TEXT NOT NULL DEFAULT '',
            references_json TEXT NOT NULL DEFAULT '[]',
            split TEXT,
            meta_json TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (run_id, task_id)
        );
        CREATE UNIQUE INDEX tasks_by_position ON tasks(run_id, position);

        CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            key TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('generate', 'feedback', 'repair', 'joint')),
            model TEXT NOT NULL,
            messages_json TEXT NOT NULL DEFAULT '[]',
            params_json TEXT NOT NULL DEFAULT '{}',
            response_json TEXT NOT NULL DEFAULT 'null',
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            latency REAL NOT NULL DEFAULT 0,
            requests INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
            error TEXT,
            prompt_version TEXT,
            created_utc TEXT NOT NULL,
            UNIQUE (run_id, key),
            FOREIGN KEY (run_id, task_id) REFERENCES tasks(run_id, task_id) ON DELETE CASCADE
        );
        CREATE INDEX calls_by_task ON calls(run_id, task_id);

        CREATE TABLE nodes (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            parent_id INTEGER REFERENCES nodes(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('program', 'feedback')),
            origin TEXT NOT NULL CHECK (origin IN ('model', 'human', 'tests')),
            model TEXT,
            text TEXT NOT NULL DEFAULT '',
            code TEXT,
            tokens INTEGER NOT NULL DEFAULT 0,
            passed INTEGER CHECK (passed IN (0, 1)),
            fault TEXT,
            error_message TEXT,
            isolation TEXT,
            depth INTEGER NOT NULL,
            sample_index INTEGER NOT NULL DEFAULT 0,
            call_id INTEGER REFERENCES calls(id) ON DELETE SET NULL,
            created_utc TEXT NOT NULL,
            executed_utc TEXT,
            exec_duration REAL,
            exec_extra_json TEXT NOT NULL DEFAULT '{}',
            meta_json TEXT NOT NULL DEFAULT '{}',
            seq INTEGER NOT NULL,
            UNIQUE (run_id, key),
            FOREIGN KEY (run_id, task_id) REFERENCES tasks(run_id, task_id) ON DELETE CASCADE
        );
        -- Covering index for the counts per run and per task (task list, totals, runs).
        CREATE INDEX nodes_stats ON nodes(run_id, task_id, kind, depth, origin, passed, tokens);
        CREATE INDEX nodes_by_parent ON nodes(parent_id);
        CREATE INDEX nodes_by_call ON nodes(call_id);
        -- Live updates: nodes changed in a run since a mark, and the global high mark.
        CREATE INDEX nodes_by_run_seq ON nodes(run_id, seq);
        CREATE INDEX nodes_by_seq ON nodes(seq);

        CREATE TABLE test_results (
            node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
            test_index INTEGER NOT NULL,
            status TEXT NOT NULL,
            input TEXT,
            expected TEXT,
            got TEXT,
            error_type TEXT,
            message TEXT,
            line INTEGER,
            duration REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (node_id, test_index)
        );
        """
    )


@_migration
def m002_search_text(db: Database) -> None:
    """Full-text search (FTS5) over tasks' specs and nodes' texts and code, kept up to
    date by triggers as a run writes. External-content tables in sqlite-utils' layout
    (``nodes_fts``, ``tasks_fts``), so ``db["nodes"].search(...)`` works on them."""
    # One statement at a time: executescript (and so enable_fts) would commit the
    # migration's transaction.
    for table, columns in (("nodes", ("text", "code")), ("tasks", ("spec",))):
        cols = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        fts = f"{table}_fts"
        db.execute(f"CREATE VIRTUAL TABLE {fts} USING FTS5 ({cols}, content={table})")
        db.execute(f"INSERT INTO {fts} (rowid, {cols}) SELECT rowid, {cols} FROM {table}")
        db.execute(f"CREATE TRIGGER {table}_ai AFTER INSERT ON {table} BEGIN "
                   f"INSERT INTO {fts} (rowid, {cols}) VALUES (new.rowid, {new}); END")
        db.execute(f"CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN "
                   f"INSERT INTO {fts} ({fts}, rowid, {cols}) VALUES ('delete', old.rowid, {old}); END")
        # Only when the indexed text changes: a verdict written on a node costs nothing here.
        db.execute(f"CREATE TRIGGER {table}_au AFTER UPDATE OF {cols} ON {table} BEGIN "
                   f"INSERT INTO {fts} ({fts}, rowid, {cols}) VALUES ('delete', old.rowid, {old}); "
                   f"INSERT INTO {fts} (rowid, {cols}) VALUES (new.rowid, {new}); END")


@_migration
def m003_explorations(db: Database) -> None:
    """Explorations (what was made after a run, kept apart from its sample), every
    re-execution, and the mark that classifies existing nodes and calls."""
    # One statement at a time: executescript would commit the migration's transaction.
    _statements(
        """
        CREATE TABLE explorations (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            params_json TEXT NOT NULL DEFAULT '{}',
            created_utc TEXT NOT NULL
        );
        CREATE INDEX explorations_by_run ON explorations(run_id);

        ALTER TABLE nodes ADD COLUMN exploration_id INTEGER
            REFERENCES explorations(id) ON DELETE CASCADE;
        ALTER TABLE calls ADD COLUMN exploration_id INTEGER
            REFERENCES explorations(id) ON DELETE CASCADE;

        -- The sample's counts read a range of this index (exploration_id IS NULL).
        DROP INDEX nodes_stats;
        CREATE INDEX nodes_stats ON nodes(
            run_id, exploration_id, task_id, kind, depth, origin, passed, tokens);
        CREATE INDEX nodes_by_exploration ON nodes(exploration_id);

        -- Every execution after a program's first (the node keeps the first verdict,
        -- which the sample's numbers use).
        CREATE TABLE executions (
            id INTEGER PRIMARY KEY,
            node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
            exploration_id INTEGER REFERENCES explorations(id) ON DELETE CASCADE,
            passed INTEGER NOT NULL CHECK (passed IN (0, 1)),
            fault TEXT,
            error_message TEXT,
            isolation TEXT,
            executed_utc TEXT NOT NULL,
            duration REAL,
            extra_json TEXT NOT NULL DEFAULT '{}',
            results_json TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX executions_by_node ON executions(node_id);
        """,
        db,
    )
    classify_explorations(db)


@_migration
def m004_search_on_demand(db: Database) -> None:
    """Nodes are indexed for full-text search when someone searches, not as a run
    writes: inserting a node only records its rowid in ``nodes_fts_pending``, and
    ``StoreSearch.catch_up_index`` indexes the pending rows before a search. The nodes
    already in the database are indexed (m002's triggers kept them), so nothing is
    pending at first. Tasks keep m002's triggers (a few hundred rows a run)."""
    # An FTS5 external-content 'delete' must name a row as it was indexed: issuing one
    # for a row never indexed (still pending) would corrupt the index, hence the NOT EXISTS guards.
    # A pending table rather than a rowid mark: nodes' rowids are reused after the
    # highest one is deleted.
    indexed = "NOT EXISTS (SELECT 1 FROM nodes_fts_pending WHERE node_id = old.rowid)"
    unindex = ("INSERT INTO nodes_fts (nodes_fts, rowid, text, code) "
               f"SELECT 'delete', old.rowid, old.text, old.code WHERE {indexed}; ")
    pend = "INSERT OR IGNORE INTO nodes_fts_pending (node_id) VALUES (new.rowid); "
    # One statement at a time: executescript would commit the migration's transaction.
    for statement in (
        "CREATE TABLE nodes_fts_pending (node_id INTEGER PRIMARY KEY)",
        "DROP TRIGGER nodes_ai",
        "DROP TRIGGER nodes_ad",
        "DROP TRIGGER nodes_au",
        f"CREATE TRIGGER nodes_ai AFTER INSERT ON nodes BEGIN {pend}END",
        f"CREATE TRIGGER nodes_ad AFTER DELETE ON nodes BEGIN {unindex}"
        "DELETE FROM nodes_fts_pending WHERE node_id = old.rowid; END",
        # A changed text leaves the index and waits, pending, like a new node's.
        f"CREATE TRIGGER nodes_au AFTER UPDATE OF text, code ON nodes BEGIN {unindex}{pend}END",
    ):
        db.execute(statement)


def _statements(script: str, db: Database) -> None:
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def classify_explorations(db: Database, run_ids: list[int] | None = None) -> None:
    """Mark the nodes and calls that earlier versions made after a run (app actions)
    as one exploration of kind ``migrated`` per run; see ``legacy_explorations``."""
    from datetime import UTC, datetime

    runs = db.execute("SELECT id, status, config_json FROM runs").fetchall()
    for run_id, status, config_json in runs:
        if run_ids is not None and run_id not in run_ids:
            continue
        nodes = db.execute(
            "SELECT n.id, n.parent_id, n.kind, n.origin, n.depth, n.sample_index, n.call_id, "
            "c.role, c.key FROM nodes n LEFT JOIN calls c ON c.id = n.call_id "
            "WHERE n.run_id = ? ORDER BY n.id", (run_id,)
        ).fetchall()
        found = legacy_explorations(status, json.loads(config_json), nodes)
        if not found:
            continue
        cur = db.execute(
            "INSERT INTO explorations (run_id, kind, source, params_json, created_utc) "
            "VALUES (?, 'migrated', 'migration', '{}', ?)",
            (run_id, datetime.now(UTC).isoformat(timespec="milliseconds")),
        )
        eid = cur.lastrowid
        ids = sorted(found)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            db.execute(f"UPDATE nodes SET exploration_id = ? WHERE id IN ({marks})", (eid, *chunk))
            db.execute(
                f"UPDATE calls SET exploration_id = ? WHERE id IN "
                f"(SELECT call_id FROM nodes WHERE id IN ({marks}) AND call_id IS NOT NULL)",
                (eid, *chunk),
            )


def legacy_explorations(status: str, config: dict[str, Any], rows: list[Any]) -> set[int]:
    """Ids of the nodes a run did not sample, from (id, parent_id, kind, origin, depth,
    sample_index, call_id, call role, call key) rows ordered by id.

    A run samples, under its configuration: first programs 0..np-1 from the
    ``generate`` call with index 0; for each failing program shallower than its depth,
    feedback 0..nfr-1 (joint: one ``joint`` call, each feedback with repair 0 of the
    same call; separate: a ``feedback`` call, then repair 0 from a ``repair`` call with
    index 0; tests-only: tests feedback 0 and repairs 0..nfr-1 from one ``repair``
    call with index 0). Anything else (human feedback, another call index, other
    roles, feedback past the depth) was made later, and so was all below it. A run
    imported from the paper's data had no calls: there every node with a call, and
    every person's feedback, was made later.
    """
    np_, nfr = int(config.get("np", 10)), int(config.get("nfr", 3))
    depth, mode = int(config.get("depth", 1)), str(config.get("mode", "joint"))
    by_id = {r[0]: r for r in rows}
    out: set[int] = set()
    for row in rows:  # parents come before children (ids grow)
        nid, parent, kind, origin, ndepth, index, call_id, role, key = row
        if parent is not None and parent in out:
            out.add(nid)
            continue
        if origin == "human":
            out.add(nid)
            continue
        if status == "imported":
            if call_id is not None:
                out.add(nid)
            continue
        call_index = None if key is None else key.rsplit("|", 1)[-1]
        if call_id is not None and call_index != "0":
            out.add(nid)
            continue
        if kind == "program" and parent is None:
            ok = index < np_ and role in (None, "generate")
        elif kind == "feedback":
            ok = by_id[parent][4] < depth and (
                (origin == "tests" and mode == "tests-only" and index == 0)
                or (origin == "model" and index < nfr and (
                    (mode == "joint" and role == "joint")
                    or (mode == "separate" and role == "feedback"))))
        else:
            fb = by_id[parent]
            if mode == "joint":
                ok = index == 0 and fb[6] is not None and fb[6] == call_id
            elif mode == "separate":
                ok = index == 0 and role == "repair"
            else:
                ok = index < nfr and role == "repair"
        if not ok:
            out.add(nid)
    return out


def schema_version() -> int:
    """The ``user_version`` a database has once every known migration is applied."""
    return len(MIGRATION_NAMES)


def migrate(db: Database) -> None:
    """Apply pending migrations under one write lock and set ``PRAGMA user_version``.

    Raises UserError when the database was written by a newer repair-tui.
    """
    found = int(db.execute("PRAGMA user_version").fetchone()[0])
    known = schema_version()
    if found > known:
        raise UserError(
            f"database {db_label(db)} has schema version {found}, newer than this "
            f"repair-tui understands ({known}); upgrade repair-tui"
        )
    if found == known and not migrations.pending(db):
        return
    # BEGIN IMMEDIATE takes the write lock first, so two processes opening a fresh
    # database at once apply each migration exactly once (the second waits, then
    # finds nothing pending); each migration then runs in a savepoint.
    db.execute("BEGIN IMMEDIATE")
    try:
        migrations.apply(db)
        db.execute(f"PRAGMA user_version = {known}")
    except BaseException:
        db.rollback()
        raise
    db.commit()


def refuse_foreign(db: Database) -> None:
    """UserError when the file holds another program's tables (and none of our marks).

    Migrating would add our tables beside theirs, or stop on a name both use ("table
    runs already exists"); neither tells the user they picked the wrong file. Called
    before anything is written to the file (even the switch to WAL).
    """
    if int(db.execute("PRAGMA user_version").fetchone()[0]):
        return  # ours, or another tool's that versions its schema: migrate decides
    tables = [t for t in db.table_names() if not t.startswith("sqlite_")]
    if not tables or migrations.migrations_table in tables:
        return
    shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
    raise UserError(f"{db_label(db)} is not a repair-tui database (it holds other tables: "
                    f"{shown}); choose another --db")


def db_label(db: Database) -> str:
    """The database's file name for messages (``:memory:`` for in-memory ones)."""
    row = db.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row and row[2] else ":memory:"
