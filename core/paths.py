"""Where repair-tui keeps its files on the user's machine."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The user's data folder for repair-tui (XDG: ``$XDG_DATA_HOME/repair-tui``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "repair-tui"


def default_db_path() -> Path:
    """The database used when ``--db`` is not given: ``$REPAIR_TUI_DB`` or the data dir."""
    env = os.environ.get("REPAIR_TUI_DB")
    if env:
        return Path(env).expanduser()
    return data_dir() / "repair.db"
