"""Options and helpers shared by the commands that show costs: ``--prices`` and ``--budget``.

Not a command itself (it has no ``register``). ``runs``, ``estimate`` and ``compare``
read prices through here, so they all say the same thing about a model with no price.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from repair_tui.core.estimate.costs import PriceTable
    from repair_tui.core.estimate.exact import FrozenTask
    from repair_tui.core.store.records import Run
    from repair_tui.core.store.store import Store

BUDGETS = ("tokens", "dollars")


def add_prices_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prices", metavar="FILE", type=Path, default=None,
                        help='TOML price table ([models."NAME"] with input_per_mtok and output_per_mtok, '
                        "dollars per million tokens) overriding the bundled prices")


def add_budget_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", choices=BUDGETS, default="tokens",
                        help="x axis of pass@t: tokens generated (the paper's, default) or dollars "
                        "(prompt and completion tokens at the models' prices)")
    add_prices_option(parser)


def prices(args: argparse.Namespace) -> PriceTable:
    """The bundled prices overridden by ``--prices`` (UserError for a bad file)."""
    from repair_tui.core.formats.prices import load_prices

    return load_prices(getattr(args, "prices", None) or getattr(args, "app_prices", None))


def sample_tasks(store: Store, run: Run, difficulty: str | None, budget: str,
                 table: PriceTable) -> list[FrozenTask]:
    """A run's sample in the estimator's form, each node weighed in ``budget`` units.

    In dollars, a model with no price or nodes without prompt tokens are a UserError
    naming the run and the model: a dollar axis is never guessed.
    """
    from repair_tui.core.errors import UserError
    from repair_tui.core.estimate.costs import NoPrice, node_dollars

    if budget == "tokens":
        return store.frozen_tasks(run.id, difficulty=difficulty)
    try:
        return store.costed_tasks(run.id, lambda node: node_dollars(node, table), difficulty)
    except NoPrice as exc:
        if exc.models:
            raise UserError(
                f"run {run.name!r}: no price for model {exc.models[0]!r} in {table.source}; "
                "give one with --prices FILE, or use --budget tokens"
            ) from None
        raise UserError(
            f"run {run.name!r}: some nodes have no stored prompt tokens (imported trees?), "
            "so it has no dollar cost; use --budget tokens"
        ) from None


def money(value: float | None) -> str:
    from repair_tui.core.estimate.costs import format_dollars

    return format_dollars(value)
