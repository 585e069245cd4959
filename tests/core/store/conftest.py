"""Fixtures shared by the store's tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

DUMPS = Path(__file__).resolve().parents[2] / "data" / "store"


@pytest.fixture
def dumped_db(tmp_path: Path) -> Callable[[str], Path]:
    """A database file loaded from one of tests/data/store's SQL dumps (``name``.sql),
    as an older version of the code wrote it: no migration has run on it yet."""

    def make(name: str) -> Path:
        path = tmp_path / f"{name}.db"
        conn = sqlite3.connect(path)
        try:
            conn.executescript((DUMPS / f"{name}.sql").read_text())
        finally:
            conn.close()
        return path

    return make
