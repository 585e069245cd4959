"""`repair-tui [--db PATH]` with no command: open the app on the database.

The database is opened (and migrated) once before the app starts, so a path that is
not a usable database fails with a one-line error instead of a broken screen.
"""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Open the app on ``--db`` (default: $REPAIR_TUI_DB or the user's data dir)."""
    from repair_tui.core.store.connection import resolve_db_path
    from repair_tui.core.store.store import Store
    from repair_tui.tui.app import RepairApp

    path = resolve_db_path(getattr(args, "db", None))
    with Store.open(path):
        pass  # fail here, as a UserError, rather than inside the app
    app = RepairApp(path)  # models read OPENAI_API_KEY themselves
    app.run()
    return int(app.return_code or 0)
