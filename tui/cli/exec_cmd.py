"""`repair-tui exec PROGRAM.py --tests TESTS.json | --task DATASET:ID`: run one program.

Runs the program in the sandbox against the tests and prints one row per test (or,
with ``--json``, the verdict as one JSON object). Exit status: 0 when every test
passed, 1 when one failed, 2 on bad input (unreadable file, malformed tests).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair_tui.tui.untrusted import visible

if TYPE_CHECKING:
    from repair_tui.sandbox.result import Verdict

_STATUS_STYLE = {
    "passed": "green",
    "wrong_answer": "red",
    "runtime_error": "red",
    "compile_error": "red",
    "timeout": "yellow",
    "memory_limit": "yellow",
    "output_limit": "yellow",
    "skipped": "dim",
}


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value

    return parse


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "exec",
        help="run one program against tests in the sandbox",
        description="Run PROGRAM.py against tests in the sandbox and print the result of "
        "each test. Exit 0 if all pass, 1 if one fails, 2 on bad input.",
    )
    parser.add_argument("program", metavar="PROGRAM.py", help="the program to run")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tests", metavar="TESTS.json", help="tests in the sandbox JSON form")
    source.add_argument(
        "--task", metavar="DATASET:ID", help="use a dataset task's tests, e.g. humaneval:HumanEval/0"
    )
    parser.add_argument("--json", action="store_true", help="print the verdict as one JSON object")
    parser.add_argument(
        "--timeout", type=_positive(float), metavar="S", help="CPU seconds per test (default 4; wall-clock backstop 3x)"
    )
    parser.add_argument(
        "--memory", type=_positive(int), metavar="MB", help="address-space limit in MiB (default 2048)"
    )
    parser.add_argument(
        "--isolation",
        choices=("auto", "rlimits"),
        default="auto",
        help="auto: Linux namespaces where possible (default); rlimits: force the fallback",
    )
    parser.set_defaults(func=run)


def _read_program(path: str) -> str:
    from repair_tui.core.errors import UserError

    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None


def _load_tests(args: argparse.Namespace) -> dict[str, Any]:
    from repair_tui.core.errors import UserError
    from repair_tui.sandbox import TestSpecError, load_tests_file

    if args.tests is not None:
        try:
            return load_tests_file(args.tests)
        except TestSpecError as exc:
            raise UserError(str(exc)) from None
    from repair_tui.core.datasets.load import find_task

    return dict(find_task(args.task).tests)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from repair_tui.sandbox import Sandbox
    from repair_tui.sandbox.result import Limits

    program = _read_program(args.program)
    tests = _load_tests(args)
    limits = Limits()
    if args.timeout is not None:
        limits = replace(limits, timeout=args.timeout, min_timeout=min(limits.min_timeout, args.timeout))
    if args.memory is not None:
        limits = replace(limits, memory_bytes=args.memory * 1024 * 1024)
    with Sandbox(limits=limits, workers=1, isolation=args.isolation) as sandbox:
        verdict = sandbox.run(program, tests)
    if args.json:
        json.dump(verdict.to_dict(), sys.stdout)
        sys.stdout.write("\n")
    else:
        _print_table(verdict, args.program)
    return 0 if verdict.passed else 1


def _cell(text: str | None, width: int = 60) -> str:
    if not text:
        return ""
    flat = " ".join(visible(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _print_table(verdict: Verdict, program: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table(title=escape(visible(f"{program}: {'passed' if verdict.passed else verdict.fault}",
                                      keep_newlines=False)))
    for column in ("#", "status", "time", "input", "got", "expected / detail"):
        table.add_column(column, overflow="fold")
    for r in verdict.results:
        detail = r.expected or (f"{r.error_type}: {r.message}" if r.error_type else r.message)
        style = _STATUS_STYLE.get(r.status.value, "")
        table.add_row(
            str(r.number),
            f"[{style}]{r.status.value}[/]",
            f"{r.duration:.3f}s",
            escape(_cell(r.input, 30)),
            escape(_cell(r.got, 30)),
            escape(_cell(detail)),
        )
    console.print(table)
    console.print(escape(verdict.summary), highlight=False)
    if verdict.error_message:
        console.print(escape(visible(verdict.error_message)), highlight=False)
    console.print(f"[dim]isolation: {escape(visible(verdict.isolation))}[/]")
