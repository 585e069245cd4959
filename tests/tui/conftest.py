"""Fixtures of the TUI and CLI tests: a database holding the bundled sample runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from repair_tui.core.store.store import Store
from repair_tui.tui.app import bundled_samples, load_sample_runs


@pytest.fixture(scope="session")
def _samples_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("samples") / "samples.db"
    with Store.open(path) as store:
        load_sample_runs(store, bundled_samples())
    return path


@pytest.fixture
def samples_db(_samples_master: Path, tmp_path: Path) -> Path:
    """A fresh copy of a database with the three sample runs (imported once per session)."""
    path = tmp_path / "samples.db"
    with Store.open(_samples_master) as store:  # checkpoint the WAL into the main file
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(_samples_master, path)
    return path
