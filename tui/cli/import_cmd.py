"""`repair-tui import`: load a run from the paper's format or our own JSON lines."""

from __future__ import annotations

import argparse
from typing import Any

from repair_tui.tui.cli import add_db_option


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import",
        help="load a run from a JSON lines file (paper format or our export)",
        description="Load a file as a new run. The paper's format (Olausson et al., ICLR 2024) "
        "becomes a run with status 'imported' that can be browsed and estimated; our own "
        "jsonl export is restored exactly. All or nothing: a malformed line stops the "
        "import with its line number and stores nothing. Gzip files are read as they are.",
    )
    parser.add_argument("file", metavar="FILE", help="the file to read (.jsonl or .jsonl.gz)")
    add_db_option(parser)
    parser.add_argument("--name", required=True, help="name of the new run (must not exist yet)")
    parser.add_argument("--format", choices=("paper", "jsonl", "auto"), default="auto", dest="fmt",
                        help="file format (default: auto, from the first line)")
    parser.add_argument("--model", default="unknown",
                        help="paper format: the code model that sampled the file (a label)")
    parser.add_argument("--feedback-model", default=None,
                        help="paper format: the model that wrote the explanations, if another")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from repair_tui.core.formats.files import import_run
    from repair_tui.core.store.store import Store

    with Store.open(getattr(args, "db", None)) as store:
        run = import_run(store, args.file, args.name, args.fmt, model=args.model,
                         feedback_model=args.feedback_model)
        totals = store.run_totals(run.id)
        label = store.label
    print(
        f"imported {args.file} as run {run.name!r} in {label}: {totals.tasks} tasks, "
        f"{totals.programs} programs, {totals.repairs} repairs, {totals.solved} of "
        f"{totals.attempted} attempted tasks solved "
        f"(status {run.status})"
    )
    return 0
