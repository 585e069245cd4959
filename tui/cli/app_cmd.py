"""`repair-tui [--db PATH] [--prices FILE]` with no command: open the app on the database.

The database is opened (and migrated) once before the app starts, so a path that is
not a usable database fails with a one-line error instead of a broken screen.
"""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Open the app on ``--db`` (default: $REPAIR_TUI_DB or the user's data dir), with the
    bundled prices overridden by ``--prices``."""
    from repair_tui.core.store.connection import resolve_db_path
    from repair_tui.core.store.store import Store
    from repair_tui.tui.app import RepairApp
    from repair_tui.tui.cli.costs import prices

    table = prices(args)  # a bad file fails here, in one line
    path = resolve_db_path(getattr(args, "db", None))
    with Store.open(path):
        pass  # fail here, as a UserError, rather than inside the app
    app = RepairApp(path, prices=table)  # models read OPENAI_API_KEY themselves
    app.run()
    return int(app.return_code or 0)
