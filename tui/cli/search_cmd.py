"""`repair-tui search NAME QUERY`: full-text search over a run's specs, programs and feedback."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from repair_tui.tui.cli import add_db_option, positive_int
from repair_tui.tui.search_text import hit_text
from repair_tui.tui.untrusted import visible


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "search",
        help="find text in a run's specs, programs and feedback",
        description="Full-text search (SQLite FTS5) over a run's task specs, programs and "
        "feedback, explorations included; nodes written since the last search are indexed "
        "first. QUERY uses FTS5 syntax: words (all must appear), "
        '"a phrase", OR, NOT, prefix*.',
    )
    parser.add_argument("name", metavar="NAME", help="run name (or id)")
    parser.add_argument("query", metavar="QUERY", help='e.g. "off by one"')
    add_db_option(parser)
    parser.add_argument("--kind", choices=("spec", "program", "feedback"), default=None,
                        help="only this kind of text (default: all three)")
    parser.add_argument("--limit", type=positive_int, default=100, metavar="N",
                        help="at most N hits (default 100)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from repair_tui.core.store.store import Store

    with Store.open(getattr(args, "db", None), create=False) as store:
        run_ = store.get_run(args.name)
        hits = store.search(run_.id, args.query, kind=args.kind, limit=args.limit)
        unindexed = store.unindexed
    if unindexed:
        print(f"warning: {unindexed} node{'s' if unindexed != 1 else ''} written since the last "
              f"search {'are' if unindexed != 1 else 'is'} not indexed, so not searched "
              "(the database cannot be written now)", file=sys.stderr)
    if args.json:
        print(json.dumps({"run": run_.name, "query": args.query, "kind": args.kind, "count": len(hits),
                          "unindexed": unindexed, "hits": [h.to_dict() for h in hits]},
                         indent=2, ensure_ascii=False))
        return 0
    from rich.console import Console

    console = Console(highlight=False)
    if not hits:
        console.print(f"No match for {visible(args.query, keep_newlines=False)!r} in run "
                      f"{visible(run_.name, keep_newlines=False)}.", markup=False)
        return 0
    for hit in hits:
        console.print(hit_text(hit))
    console.print(f"{len(hits)} hit{'s' if len(hits) != 1 else ''}", style="dim")
    return 0
