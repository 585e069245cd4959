"""Opening the SQLite database: the one place that does it.

``open_db`` connects, turns on WAL (so the app can read while a run writes), foreign
keys and a busy timeout, and applies pending migrations. Everything else receives the
``Database`` it returns (usually wrapped in ``core.store.store.Store``).

A connection belongs to the thread that opened it (sqlite3's default check); a worker
thread opens its own.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from repair_tui.core.errors import UserError
from repair_tui.core.paths import default_db_path
from repair_tui.core.store._sqlite_utils import Database
from repair_tui.core.store.migrations import migrate, refuse_foreign

BUSY_TIMEOUT_SECONDS = 30.0


def resolve_db_path(path: str | Path | None) -> Path | str:
    """The path ``open_db`` would use: the default when None, ``":memory:"`` kept as is."""
    if path is None:
        return Path(default_db_path())
    if str(path) == ":memory:":
        return ":memory:"
    return Path(path).expanduser()


def open_db(
    path: str | Path | None, *, timeout: float = BUSY_TIMEOUT_SECONDS, create: bool = True
) -> Database:
    """Open (creating if needed) and migrate the database at ``path``.

    None means the default path (``$REPAIR_TUI_DB`` or the user's data dir); its parent
    folder is created. ``":memory:"`` gives a private in-memory database. With
    ``create`` False (commands that only read) a missing file is an error and nothing
    is created. Raises UserError when the file is not a usable repair-tui database.
    """
    where = resolve_db_path(path)
    if isinstance(where, Path):
        if where.is_dir():
            raise UserError(f"database path {where} is a folder, not a file")
        if not create and not where.exists():
            raise UserError(f"no database at {where}")
        try:
            where.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the folder for database {where}: {exc}") from exc
    try:
        conn = sqlite3.connect(str(where), timeout=timeout)
    except sqlite3.Error as exc:
        raise UserError(f"cannot open database {where}: {exc}") from exc
    # Plugins off: a stray sqlite-utils plugin must not change our connection.
    db = Database(conn, execute_plugins=False)
    try:
        refuse_foreign(db)
        _configure(db, in_memory=not isinstance(where, Path))
        migrate(db)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise UserError(f"cannot use database {where}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return db


def _configure(db: Database, *, in_memory: bool) -> None:
    db.execute("PRAGMA foreign_keys = ON")
    if not in_memory:
        db.enable_wal()
        # In WAL mode NORMAL is still safe against a killed process (only a power
        # loss can drop the last commits) and avoids an fsync per step.
        db.execute("PRAGMA synchronous = NORMAL")
