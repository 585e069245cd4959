"""`repair-tui` with no command: open the app on the database."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from repair_tui.core.errors import UserError

    raise UserError("the app is not built yet; see `repair-tui --help` for the commands")
