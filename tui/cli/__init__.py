"""The `repair-tui` command line: subcommands, and the app when none is given.

Each subcommand lives in its own module of this package with two functions:
``register(subparsers)`` adds its parser (and ``set_defaults(func=run)``), and
``run(args) -> int`` does the work. Modules import heavy parts lazily inside ``run``
so that ``repair-tui --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from repair_tui.core.errors import UserError
from repair_tui.tui.untrusted import visible

# Module names under repair_tui.tui.cli, in the order `--help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "run_cmd",
    "runs_cmd",
    "estimate_cmd",
    "compare_cmd",
    "explore_cmd",
    "search_cmd",
    "export_cmd",
    "import_cmd",
    "exec_cmd",
    "tasks_cmd",
    "serve_sim_cmd",
)


def positive_int(text: str) -> int:
    """argparse type: a whole number of 1 or more."""
    return _whole(text, 1, "1 or more")


def count_int(text: str) -> int:
    """argparse type: a whole number of 0 or more."""
    return _whole(text, 0, "0 or more")


def _whole(text: str, least: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} must be {what}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, like every other error of the tool.

    argparse's own error prints the usage block first (up to a dozen lines that bury the
    reason). Subcommand parsers inherit the class, so every command behaves alike.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"repair-tui: error: {visible(message, keep_newlines=False)} "
                     f"(see {self.prog} --help)\n")


def version_text() -> str:
    """``repair-tui X.Y.Z`` from the installed distribution's metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"repair-tui {version('repair-tui')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "repair-tui (version unknown: not installed)"


def add_db_option(parser: argparse.ArgumentParser, *, top_level: bool = False) -> None:
    """The shared ``--db PATH`` option (default: $REPAIR_TUI_DB or the user's data dir).

    argparse copies a subcommand's defaults over the main parser's values, so on a
    subcommand the default is SUPPRESS: ``repair-tui --db X runs`` keeps X.
    """
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=None if top_level else argparse.SUPPRESS,
        help="SQLite database (default: $REPAIR_TUI_DB or $XDG_DATA_HOME/repair-tui/repair.db)",
    )


def add_executor_options(parser: argparse.ArgumentParser, *, default: str | None = "local") -> None:
    """``--executor local|ray`` and ``--ray-address ADDRESS``: where programs run."""
    parser.add_argument(
        "--executor", choices=("local", "ray"), default=default,
        help="where programs run: local (this machine's sandbox) or ray (one sandbox per "
        "Ray node; needs the ray extra)" + (f" (default {default})" if default else ""),
    )
    parser.add_argument(
        "--ray-address", metavar="ADDRESS", default=None,
        help="with --executor ray: the cluster to join (HOST:PORT, or auto for the one "
        "running here); none starts a local Ray instance",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="repair-tui",
        description="Run, store and inspect LLM self-repair on code. "
        "With no command, opens the app on the database.",
    )
    add_db_option(parser, top_level=True)
    # Its own dest: a command's --prices default would overwrite this one (see costs.prices).
    parser.add_argument("--prices", metavar="FILE", type=Path, default=None, dest="app_prices",
                        help='for the app: TOML price table ([models."NAME"] with input_per_mtok '
                        "and output_per_mtok) overriding the bundled prices")
    parser.add_argument("--version", action="version", version=version_text(),
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `repair-tui` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    try:
        if func is None:
            from repair_tui.tui.cli import app_cmd

            return app_cmd.run(args)
        return int(func(args))
    except UserError as exc:
        print(f"repair-tui: error: {visible(str(exc), keep_newlines=False)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("repair-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
