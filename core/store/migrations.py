"""The database schema, as an append-only list of migrations.

The schema lives only here. Each ``@migrations()`` function runs once per database,
in its own transaction, in the order written (sqlite-utils ``Migrations``). Never edit
a migration that has shipped and never drop user data: append a new ``mNNN_...``
function instead. After migrating, ``PRAGMA user_version`` holds the number of
migrations applied, so other tools can tell the schema version at a glance.
"""

from __future__ import annotations

from collections.abc import Callable

from repair_tui.core.errors import UserError
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATION_SET = "repair_tui"

migrations = Migrations(MIGRATION_SET)

# Names in order, so the schema version is known without touching a database.
MIGRATION_NAMES: list[str] = []


def _migration(fn: Callable[[Database], None]) -> Callable[[Database], None]:
    MIGRATION_NAMES.append(fn.__name__)
    return migrations()(fn)


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
