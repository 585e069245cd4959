"""`repair-tui runs`: list the runs stored in a database, as a table or as JSON."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from repair_tui.tui.cli import add_db_option
from repair_tui.tui.cli.costs import add_prices_option, money, prices
from repair_tui.tui.untrusted import visible


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "runs",
        help="list the runs in the database (rm NAME, mv OLD NEW)",
        description="List the runs stored in the database with their configuration and counts "
        "(their samples': explorations never count). `runs rm NAME` deletes a run with "
        "everything in it; `runs mv OLD NEW` renames one.",
    )
    add_db_option(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON list of objects instead")
    add_prices_option(parser)
    parser.set_defaults(func=run)
    sub = parser.add_subparsers(dest="runs_action", metavar="ACTION")
    rm = sub.add_parser("rm", help="delete a run and everything in it",
                        description="Delete a run: its tasks, calls, nodes, executions and "
                        "explorations. Cannot be undone.")
    rm.add_argument("name", metavar="NAME")
    add_db_option(rm)
    rm.add_argument("--json", action="store_true", help="print one JSON object")
    rm.set_defaults(func=run_rm)
    mv = sub.add_parser("mv", help="rename a run", description="Rename a run.")
    mv.add_argument("old", metavar="OLD")
    mv.add_argument("new", metavar="NEW")
    add_db_option(mv)
    mv.add_argument("--json", action="store_true", help="print one JSON object")
    mv.set_defaults(func=run_mv)


def run_rm(args: argparse.Namespace) -> int:
    from repair_tui.core.store.store import Store

    with Store.open(getattr(args, "db", None), create=False) as store:
        run_ = store.get_run(args.name)
        counts = store.run_totals(run_.id, scope="all")
        store.delete_run(run_.id)
    obj = {"deleted": run_.name, "tasks": counts.tasks,
           "programs": counts.programs + counts.repairs}
    if args.json:
        print(json.dumps(obj, ensure_ascii=False))
    else:
        print(visible(f"deleted run {run_.name!r} ({counts.tasks} tasks, "
                      f"{obj['programs']} programs)", keep_newlines=False))
    return 0


def run_mv(args: argparse.Namespace) -> int:
    from repair_tui.core.store.store import Store

    with Store.open(getattr(args, "db", None), create=False) as store:
        run_ = store.rename_run(store.get_run(args.old).id, args.new)
    if args.json:
        print(json.dumps({"renamed": args.old, "to": run_.name}, ensure_ascii=False))
    else:
        print(visible(f"renamed run {args.old!r} to {run_.name!r}", keep_newlines=False))
    return 0


def run(args: argparse.Namespace) -> int:
    from repair_tui.core.estimate.costs import summarise
    from repair_tui.core.store.connection import resolve_db_path
    from repair_tui.core.store.store import Store

    table = prices(args)
    where = resolve_db_path(getattr(args, "db", None))
    if isinstance(where, Path) and not where.exists():  # nothing to list; create nothing
        if args.json:
            print("[]")
        else:
            print(f"No runs in {where} yet. Start one with `repair-tui run`, or `repair-tui import`.")
        return 0
    with Store.open(getattr(args, "db", None), create=False) as store:
        summaries = store.list_runs()
        parts = store.token_parts_by_run()
        label = store.label
    costs = {s.id: summarise(parts.get(s.id, []), table) for s in summaries}
    if args.json:
        print(json.dumps([{**s.to_dict(), **costs[s.id].to_dict()} for s in summaries],
                         indent=2, ensure_ascii=False))
        return 0
    if not summaries:
        print(f"No runs in {label} yet. Start one with `repair-tui run`, or `repair-tui import`.")
        return 0
    _print_table(summaries, label, costs)
    return 0


def short_isolation(text: str) -> str:
    """The isolation in a few characters: ``namespaces+uid+rlimits``, ``rlimits``.

    The sandbox's description lists the namespaces and, when it fell back, why; tables
    show this short form and the details (``--json``, the app's run header) the rest.
    """
    head = text.split(" (", 1)[0]
    return re.sub(r"\([^)]*\)", "", head) or text


_STATUS_STYLE = {
    "running": "yellow", "finished": "green", "interrupted": "magenta", "failed": "red",
    "imported": "cyan",
}


# Columns in display order with their priority (1 = dropped last on a narrow terminal).
_COLUMNS: tuple[tuple[str, int, str], ...] = (
    ("Name", 1, "left"), ("Dataset", 6, "left"), ("Models", 4, "left"),
    ("np/nfr mode", 5, "left"), ("Tasks", 2, "right"), ("Solved/att.", 1, "right"),
    ("Programs", 8, "right"), ("Repairs", 9, "right"), ("Prompt tok", 12, "right"),
    ("Completion tok", 7, "right"), ("Cost", 8, "right"), ("Executor", 13, "left"),
    ("Isolation", 11, "left"), ("Status", 3, "left"), ("Created", 10, "left"),
)


def _cells(s: Any, cost: Any) -> list[str]:
    share = f" {100 * s.solved / s.attempted:.0f}%" if s.attempted else ""
    from rich.markup import escape

    prompt = "" if cost.prompt is None else f"{cost.prompt:,}"
    return [escape(visible(cell, keep_newlines=False)) for cell in (
        s.name, s.dataset, s.models, f"{s.np}/{s.nfr} {s.mode}",
        str(s.tasks), f"{s.solved}/{s.attempted}{share}", f"{s.programs:,}", f"{s.repairs:,}", prompt,
        f"{cost.completion:,}", money(cost.dollars), s.executor, short_isolation(s.isolation), s.status,
        s.created_utc[:10],
    )]


def _print_table(summaries: list[Any], label: str, costs: dict[int, Any]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    rows = [_cells(s, costs[s.id]) for s in summaries]
    # Each column costs its text plus padding and a separator (3 cells).
    widths = [max(len(name), *(len(r[i]) for r in rows)) + 3 for i, (name, _, _) in enumerate(_COLUMNS)]
    console = Console()
    piped = not console.is_terminal
    if piped:  # never cut columns, whatever $COLUMNS says
        console = Console(width=max(console.width, sum(widths) + 2))
    keep = set(range(len(_COLUMNS)))
    for i in sorted(keep, key=lambda i: -_COLUMNS[i][1]):  # drop the least important first
        if sum(widths[j] for j in keep) <= console.width or _COLUMNS[i][1] == 1:
            break
        keep.discard(i)
    shown = sorted(keep)
    table = Table(title=Text(visible(f"Runs in {label}", keep_newlines=False)), title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for i in shown:
        name, _, justify = _COLUMNS[i]
        table.add_column(name, justify="right" if justify == "right" else "left", overflow="fold")
    status_col = [name for name, _, _ in _COLUMNS].index("Status")
    for row in rows:
        cells = [row[i] for i in shown]
        if status_col in keep:
            pos = shown.index(status_col)
            cells[pos] = f"[{_STATUS_STYLE.get(row[status_col], 'white')}]{row[status_col]}[/]"
        table.add_row(*cells)
    if not piped:
        console.print(table)
        return
    # Rich pads every line to the console's width: a file or pipe gets no trailing blanks.
    with console.capture() as captured:
        console.print(table)
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))
