"""`repair-tui tasks list|check DATASET`: browse a dataset, run its reference solutions.

``list`` prints the selected tasks as a table (or JSON). ``check`` runs every selected
task's first reference solution against its tests in the sandbox, in parallel, and
reports per task passed/failed with the reason and a total: this is how a user finds the
APPS problems whose own solutions fail their tests. Exit status of ``check``: 0 when
every reference passed, 1 when some failed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from repair_tui.tui.cli import add_executor_options
from repair_tui.tui.untrusted import visible

if TYPE_CHECKING:
    from repair_tui.core.datasets.task import ReferenceCheck, Task
    from rich.console import Console

_DATASET_HELP = "humaneval, apps-sample, apps:PATH (APPS folder or JSONL export), jsonl:PATH"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tasks",
        help="list a dataset's tasks or check its reference solutions",
        description="List the tasks of a dataset, or run their reference solutions "
        "against their tests in the sandbox.",
    )
    sub = parser.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="list the tasks of a dataset")
    _selection_options(listing)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=run)
    check = sub.add_parser(
        "check",
        help="run reference solutions against their tests",
        description="Run each task's first reference solution against its tests in the "
        "sandbox, in parallel. Exit 0 if all pass, 1 if some fail, 2 on bad input.",
    )
    _selection_options(check)
    check.add_argument(
        "--timeout", type=float, metavar="S", help="CPU seconds per test (default 4; wall-clock backstop 3x)"
    )
    check.add_argument(
        "--json", action="store_true", help="print a JSON object (progress goes to stderr)"
    )
    add_executor_options(check)
    check.set_defaults(func=run)


def _selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help=_DATASET_HELP)
    parser.add_argument("--split", metavar="S", help="APPS split: train or test")
    parser.add_argument(
        "--difficulty", metavar="D", help="introductory, interview or competition (APPS)"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="the first N selected tasks")
    parser.add_argument("--ids", nargs="+", metavar="ID", help="only these task ids")


def run(args: argparse.Namespace) -> int:
    from repair_tui.core.datasets.load import load_dataset
    from repair_tui.core.errors import UserError

    if getattr(args, "timeout", None) is not None and args.timeout <= 0:
        raise UserError(f"--timeout must be positive, not {args.timeout}")
    tasks = load_dataset(
        args.dataset, split=args.split, difficulty=args.difficulty, limit=args.limit, ids=args.ids
    )
    if args.tasks_command == "list":
        return _list(args, tasks)
    return _check(args, tasks)


# ------------------------------------------------------------------ list


def _list(args: argparse.Namespace, tasks: list[Task]) -> int:
    if args.json:
        rows = [
            {
                "id": t.id,
                "source": t.source,
                "split": t.split,
                "difficulty": t.difficulty,
                "style": t.style,
                "tests": t.n_tests,
                "entry_point": t.entry_point,
                "references": len(t.references),
            }
            for t in tasks
        ]
        print(json.dumps({"dataset": args.dataset, "tasks": rows}, indent=2))
        return 0
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"{visible(str(args.dataset), keep_newlines=False)}: {len(tasks)} tasks"),
                  title_justify="left")
    for name, justify in (
        ("Id", "left"),
        ("Source", "left"),
        ("Difficulty", "left"),
        ("Style", "left"),
        ("Tests", "right"),
        ("Reference", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for t in tasks:
        refs = "yes" if len(t.references) == 1 else f"yes ({len(t.references)})"
        table.add_row(  # a dataset's own text: shown as text, never as markup
            *(Text(visible(cell, keep_newlines=False)) for cell in (t.id, t.source, t.difficulty or "-", t.style)),
            str(t.n_tests),
            refs if t.references else "[dim]no[/]",
        )
    _console().print(table)
    return 0


# ------------------------------------------------------------------ check


def _check(args: argparse.Namespace, tasks: list[Task]) -> int:
    from repair_tui.core.datasets.check import check_references
    from repair_tui.core.engine.executors import make_executor
    from repair_tui.sandbox.result import Limits

    limits = Limits() if args.timeout is None else Limits(timeout=args.timeout)
    progress_console = _console(stderr=args.json)
    with make_executor(args.executor, address=args.ray_address, limits=limits) as executor, \
            _progress(progress_console) as progress:
        bar = progress.add_task(f"checking {args.dataset}", total=len(tasks))
        checks = check_references(
            tasks, executor, limits=limits, on_checked=lambda _: progress.advance(bar)
        )
        isolation = executor.isolation_description
    passed = sum(c.passed is True for c in checks)
    failed = sum(c.passed is False for c in checks)
    missing = sum(c.passed is None for c in checks)
    if args.json:
        report = {
            "dataset": args.dataset,
            "passed": passed,
            "failed": failed,
            "no_reference": missing,
            "isolation": isolation,
            "tasks": [
                {"task_id": c.task_id, "passed": c.passed, "reason": c.reason} for c in checks
            ],
        }
        print(json.dumps(report, indent=2))
    else:
        _print_checks(checks, passed, failed, missing, isolation)
    return 1 if failed else 0


def _print_checks(
    checks: list[ReferenceCheck], passed: int, failed: int, missing: int, isolation: str
) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    table.add_column("Task")
    table.add_column("Result")
    table.add_column("Reason", overflow="fold")
    for c in checks:
        if c.passed:
            table.add_row(escape(visible(c.task_id)), "[green]passed[/]", "")
        elif c.passed is None:
            table.add_row(escape(visible(c.task_id)), "[dim]no reference[/]", "")
        else:
            table.add_row(escape(visible(c.task_id)), "[red]FAILED[/]", escape(visible(_short(c.reason))))
    console = _console()
    console.print(table)
    summary = f"{passed} passed, {failed} failed"
    if missing:
        summary += f", {missing} without a reference"
    console.print(f"[bold]{summary}[/]  (isolation: {escape(visible(isolation))})")


def _short(reason: str | None, lines: int = 6) -> str:
    """The first lines of a failure reason; the JSON output keeps all of it."""
    text = (reason or "failed").rstrip().splitlines()
    return "\n".join(text[:lines] + (["..."] if len(text) > lines else []))


def _console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(file=sys.stderr if stderr else sys.stdout, highlight=False)


def _progress(console: Console) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
