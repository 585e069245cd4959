"""Migrations: from an empty database, repeated, concurrent, and from an old-schema file."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from repair_tui.core.store.connection import open_db
from repair_tui.core.store.migrations import MIGRATION_NAMES, MIGRATION_SET, migrate, schema_version
from repair_tui.core.store.store import Store

DATA = Path(__file__).resolve().parents[2] / "data" / "store"
TABLES = {"runs", "tasks", "calls", "nodes", "test_results"}


def schema(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
    ).fetchall()
    conn.close()
    return rows


def applied(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute(
        "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY id", (MIGRATION_SET,)
    )]
    conn.close()
    return names


def test_names_are_unique_and_numbered_in_order() -> None:
    assert len(set(MIGRATION_NAMES)) == len(MIGRATION_NAMES)
    numbers = [int(name[1:4]) for name in MIGRATION_NAMES]
    assert all(name.startswith("m") and name[4] == "_" for name in MIGRATION_NAMES)
    assert numbers == list(range(1, len(numbers) + 1))
    assert schema_version() == len(MIGRATION_NAMES)


def test_from_an_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    db = open_db(path)
    assert set(db.table_names()) >= TABLES
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema_version()
    db.close()
    assert applied(path) == MIGRATION_NAMES


@settings(max_examples=10, deadline=None)
@given(times=st.integers(min_value=2, max_value=5))
def test_applying_again_changes_nothing(tmp_path_factory: pytest.TempPathFactory, times: int) -> None:
    path = tmp_path_factory.mktemp("again") / "again.db"
    open_db(path).close()
    first = schema(path)
    for _ in range(times):
        db = open_db(path)
        migrate(db)  # explicitly, on top of the one open_db ran
        db.close()
    assert schema(path) == first
    assert applied(path) == MIGRATION_NAMES


def test_two_processes_migrating_a_fresh_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    code = (
        "import sys\n"
        "from repair_tui.core.store.connection import open_db\n"
        "open_db(sys.argv[1]).close()\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)],
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert applied(path) == MIGRATION_NAMES


def test_an_old_schema_file_is_upgraded_and_keeps_its_data(dumped_db: Callable[[str], Path]) -> None:
    path = dumped_db("schema_v1")
    with Store.open(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == schema_version()
        run = store.get_run("v1-run")
        assert run.status == "finished"
        assert run.config.np == 2
        rows = store.task_rows(run.id)
        assert [(r.task_id, r.programs, r.repairs, r.solved_by_repair) for r in rows] == [
            ("HumanEval/0", 1, 1, False)  # the repair was never executed
        ]
        (task,) = store.frozen_tasks(run.id)
        assert task.programs[0].passed is False
        node = store.get_node_by_key(run.id, "HumanEval/0|p0")
        assert node is not None
        assert [r.got for r in store.test_results(node.id)] == ["2"]
    assert applied(path) == MIGRATION_NAMES


def test_a_schema_1_database_with_app_actions_is_sorted_into_sample_and_explorations(
    dumped_db: Callable[[str], Path],
) -> None:
    """schema_v1_explored.sql was made by schema 1's code: three runs (joint, separate at
    depth 2, tests-only), then every app action of that version. Its .json lists which
    keys the run made and which each action added, as recorded when it was made."""
    path = dumped_db("schema_v1_explored")
    made = json.loads((DATA / "schema_v1_explored.json").read_text())
    with Store.open(path) as store:
        for name, sample in made["sample"].items():
            run = store.get_run(name)
            added = {k for action, keys in made["actions"].items()
                     if action.startswith(f"{name}:") and not action.endswith(":reexecute")
                     for k in keys}
            nodes = list(store.iter_nodes(run.id))
            assert {n.key for n in nodes if not n.is_exploration} == set(sample)
            assert {n.key for n in nodes if n.is_exploration} == added
            (x,) = store.explorations(run.id)
            assert x.kind == "migrated" and x.feedback + x.repairs == len(added)
            totals = store.run_totals(run.id)
            assert "human" not in totals.feedback_by_origin
            assert totals.programs + totals.repairs == sum(
                1 for n in nodes if n.kind == "program" and not n.is_exploration)
            calls = {c.id: c for c in store.calls(run.id)}
            for n in nodes:  # a call is marked with the nodes it made
                if n.call_id is not None:
                    assert calls[n.call_id].exploration_id == n.exploration_id
    assert applied(path) == MIGRATION_NAMES
