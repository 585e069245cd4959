"""`repair-tui export`: write a run in the paper's format or as our full-tree JSON lines."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from repair_tui.tui.cli import add_db_option
from repair_tui.tui.untrusted import visible


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a run as JSON lines (paper format or full tree)",
        description="Write a run to stdout or a file. --format paper: one line per task in the "
        "data format released with Olausson et al. (ICLR 2024); programs not yet executed "
        "are left out. --format jsonl: every task, call and node, re-importable exactly. "
        "A FILE ending in .gz is gzip-compressed.",
    )
    parser.add_argument("name", metavar="NAME", help="the run's name (see `repair-tui runs`)")
    add_db_option(parser)
    parser.add_argument("--format", required=True, choices=("paper", "jsonl"), dest="fmt",
                        help="paper: the paper's released format; jsonl: our full tree")
    parser.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="write here instead of stdout (.gz: compressed)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from repair_tui.core.errors import UserError
    from repair_tui.core.formats.files import export_run
    from repair_tui.core.formats.lines import output
    from repair_tui.core.store.store import Store

    with Store.open(getattr(args, "db", None), create=False) as store:
        run = store.get_run(args.name)
        totals = store.run_totals(run.id)
        name = visible(run.name, keep_newlines=False)
        # Checked before the output is opened, so no empty file is left behind.
        if args.fmt == "paper" and not totals.attempted:
            raise UserError(
                f"run {name!r} has no executed programs, so the paper format has nothing "
                f"to hold (it has {totals.tasks} task(s)); --format jsonl exports them")
        with output(args.output) as out:
            lines = export_run(store, run, args.fmt, out)
    if not totals.programs:
        print(f"repair-tui: note: run {name!r} has no programs yet: only its "
              f"{totals.tasks} task(s) were written", file=sys.stderr)
    if args.output is not None and args.output != "-":
        print(f"wrote run {name!r} to {args.output} ({args.fmt}, {lines} lines)",
              file=sys.stderr)
    return 0
