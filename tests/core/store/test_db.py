"""open_db: default path, pragmas, in-memory databases and unusable files."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from repair_tui.core.errors import UserError
from repair_tui.core.store.connection import open_db
from repair_tui.core.store.migrations import schema_version
from repair_tui.core.store.store import Store


def test_default_path_is_created_in_the_user_data_dir(user_dirs: Path) -> None:
    db = open_db(None)
    path = user_dirs / "repair-tui" / "repair.db"
    assert path.is_file()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema_version()
    db.close()


def test_env_var_names_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "elsewhere" / "runs.db"
    monkeypatch.setenv("REPAIR_TUI_DB", str(target))
    open_db(None).close()
    assert target.is_file()


def test_memory_database_is_migrated_and_private() -> None:
    a = open_db(":memory:")
    b = open_db(":memory:")
    assert "runs" in a.table_names()
    a.execute("INSERT INTO runs (name, created_utc, updated_utc, dataset, config_json, status) "
              "VALUES ('x', '', '', 'd', '{}', 'running')")
    assert b.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_a_file_that_is_not_a_database_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("these are my notes, not a database\n" * 200)
    with pytest.raises(UserError, match="notes.db"):
        open_db(bad)


def test_a_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="folder"):
        open_db(tmp_path)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    open_db(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema_version() + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="newer"):
        open_db(path)


def test_a_store_belongs_to_the_thread_that_opened_it(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "t.db")
    errors: list[BaseException] = []

    def use() -> None:
        try:
            store.list_runs()
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    worker = threading.Thread(target=use)
    worker.start()
    worker.join()
    assert errors and isinstance(errors[0], sqlite3.ProgrammingError)
    # The documented way: a worker opens its own Store on the same path.
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(len(Store.open(tmp_path / "t.db").list_runs())))
    worker.start()
    worker.join()
    assert seen == [0]
