"""`repair-tui compare A B [C ...]`: runs side by side on the tasks they share."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair_tui.tui.cli import add_db_option, count_int, positive_int
from repair_tui.tui.cli.costs import add_budget_options, money, prices
from repair_tui.tui.cli.estimate_cmd import _confidence, amount, to_json
from repair_tui.tui.untrusted import visible

if TYPE_CHECKING:
    from repair_tui.tui.comparison import Comparison
    from rich.console import RenderableType

SHOWN_IDS = 12  # task ids listed per group in the text output (--json has them all)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare runs on the tasks they share: pass@t, best policies, per-task differences",
        description="Compare two or more runs on the tasks they all share: each run's baseline "
        "and policies on one axis, its best policy at matched budgets, which tasks each run "
        "solved, and the difference in pass rate at matched budgets with a paired bootstrap "
        "interval over tasks. Only the runs' samples count, never later explorations.",
    )
    parser.add_argument("names", nargs="+", metavar="NAME", help="two or more run names (or ids)")
    add_db_option(parser)
    parser.add_argument("--np", nargs="+", type=positive_int, default=None, metavar="N",
                        help="initial programs per task (default: the paper's grid cut to what each run sampled)")
    parser.add_argument("--nfr", nargs="+", type=positive_int, default=None, metavar="N",
                        help="feedback-repairs per failing program (default: as --np)")
    parser.add_argument("--mode", choices=("batch", "dfs", "bfs"), default="batch",
                        help="batch, dfs or bfs (default batch)")
    parser.add_argument("--difficulty", metavar="D", default=None, help="only tasks of this difficulty")
    add_budget_options(parser)
    parser.add_argument("--bootstrap", type=count_int, default=1000, metavar="B",
                        help="bootstrap resamples of the tasks for intervals (0: none; default 1000)")
    parser.add_argument("--confidence", type=_confidence, default=0.95, metavar="C",
                        help="interval coverage (default 0.95)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="bootstrap seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", metavar="DIR", type=Path, default=None,
                        help="also write the comparison figure as PNG and SVG into DIR (needs the 'plots' extra)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from repair_tui.core.errors import UserError
    from repair_tui.core.store.store import Store
    from repair_tui.tui.comparison import CompareOptions, compare_runs

    if len(args.names) < 2:
        raise UserError("compare needs two runs or more, e.g. repair-tui compare RUN_A RUN_B")
    if args.plot is not None:
        from repair_tui.core.estimate.plots import require_matplotlib

        require_matplotlib()
    options = CompareOptions(
        nps=tuple(args.np) if args.np else None, nfrs=tuple(args.nfr) if args.nfr else None,
        mode=args.mode, difficulty=args.difficulty, budget=args.budget, bootstrap=args.bootstrap,
        seed=args.seed, confidence=args.confidence,
    )
    table = prices(args)
    with Store.open(getattr(args, "db", None), create=False) as store:
        result = compare_runs(store, list(args.names), options, table)
    if args.json:
        print(json.dumps(comparison_json(result), indent=2, ensure_ascii=False))
    else:
        from repair_tui.tui.cli.estimate_cmd import _console

        console = _console()
        for item in render(result):
            console.print(item)
    if args.plot is not None:
        from repair_tui.core.estimate.plots import write_comparison

        paths = write_comparison([(s.name, s.grid) for s in result.runs], args.plot)
        print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr if args.json else sys.stdout)
    return 0


def comparison_json(c: Comparison) -> dict[str, Any]:
    """The --json object: ``runs`` (rows as in estimate --json), ``tasks``, ``difference``.

    With two runs ``tasks`` and ``difference`` are objects; with more, lists of one
    object per pair (each naming its ``a`` and ``b``)."""
    from repair_tui.tui.comparison import best_dict, difference_dict, outcomes_dict

    runs = []
    for side in c.runs:
        est = to_json(side.grid, side.name, c.options.difficulty, side.cost, c.prices)
        runs.append({
            "name": side.name, "dataset": side.run.dataset,
            "models": {"model": side.run.config.model, "feedback_model": side.run.config.feedback_model},
            "tasks": side.grid.n_tasks, "cost": est["cost"], "rows": est["rows"],
            "best": [best_dict(b) for b in side.best],
        })
    tasks = [outcomes_dict(p) for p in c.pairs]
    diffs = [difference_dict(p, c.unit) for p in c.pairs]
    return {
        "unit": c.unit, "mode": c.options.mode, "difficulty": c.options.difficulty,
        "confidence": c.options.confidence, "bootstrap": c.options.bootstrap, "prices": c.prices,
        "shared_tasks": len(c.runs[0].tasks), "budgets": c.budgets, "notes": c.notes,
        "runs": runs,
        "tasks": tasks[0] if len(tasks) == 1 else tasks,
        "difference": diffs[0] if len(diffs) == 1 else diffs,
    }


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.1f}%"


def render(c: Comparison) -> list[RenderableType]:
    """The rich renderables of the text output."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    unit = c.unit
    head = Text(f"Comparing {len(c.runs)} runs on {len(c.runs[0].tasks)} shared tasks, "
                f"{c.options.mode}, pass rate against {unit}")
    for note in c.notes:
        head.append(f"\nnote: {note}", "yellow")
    out: list[RenderableType] = [head]
    runs = Table(title="Runs", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col, just in (("run", "left"), ("models", "left"), ("k=1", "right"), ("top policy", "right"),
                      ("at " + unit, "right"), ("prompt tok", "right"), ("completion tok", "right"),
                      ("cost", "right")):
        runs.add_column(col, justify=just)  # type: ignore[arg-type]
    for side in c.runs:
        top = max(side.grid.cells, key=lambda x: x.pass_rate)
        cost = side.cost
        # Names are the user's (or an imported file's): shown as text, never as markup.
        runs.add_row(Text(visible(side.name, keep_newlines=False)), Text(visible(side.models, keep_newlines=False)),
                     _pct(side.grid.baseline[0].pass_rate), f"{_pct(top.pass_rate)} ({top.np}/{top.nfr})",
                     amount(top.tokens, unit), "" if cost.prompt is None else f"{cost.prompt:,}",
                     f"{cost.completion:,}", money(cost.dollars) or "no price")
    out.append(runs)
    out.append(Text(f"prices: {c.prices}", style="dim"))
    out.append(_best_table(c))
    for pair in c.pairs:
        out.extend(_pair_tables(c, pair))
    return out


def _best_table(c: Comparison) -> RenderableType:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    best = Table(title=f"Best policy at matched budgets ({c.unit} per task)", title_justify="left",
                 box=box.SIMPLE_HEAD, pad_edge=False)
    best.add_column("budget", justify="right")
    for side in c.runs:
        best.add_column(Text(visible(side.name, keep_newlines=False)), justify="right")
    for k, budget in enumerate(c.budgets):
        cells = []
        for side in c.runs:
            b = side.best[k]
            what = "baseline" if b.nfr == 0 else f"{b.np}/{b.nfr}"
            cells.append("" if b.pass_rate is None else f"{_pct(b.pass_rate)} ({'k=' + str(b.np) if b.nfr == 0 else what})")
        best.add_row(amount(budget, c.unit), *cells)
    if not c.budgets:
        best.add_row("no budget where every run has a policy", *[""] * len(c.runs))
    return best


def _pair_tables(c: Comparison, pair: Any) -> list[RenderableType]:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    a, b = (visible(s.name, keep_newlines=False) for s in (pair.a, pair.b))
    conf = f"{c.options.confidence:.0%}"
    diff = Table(title=Text(f"{a} minus {b}: best pass rate at matched budgets, paired {conf} interval over tasks"),
                 title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("budget", a, b, "difference", f"{conf} CI"):
        diff.add_column(Text(col), justify="right")
    for d in pair.differences:
        ci = "" if d.ci_low is None else f"{100 * d.ci_low:+.1f} to {100 * (d.ci_high or 0):+.1f} pts"
        est = "" if d.estimate is None else f"{100 * d.estimate:+.1f} pts"
        diff.add_row(amount(d.budget, c.unit), _pct(d.a), _pct(d.b), est, ci)
    o = pair.outcomes
    lines = Text(f"\nTasks ({a} vs {b}): solved by both {len(o.both)}, by {a} only {len(o.a_only)}, "
                 f"by {b} only {len(o.b_only)}, by neither {len(o.neither)}")
    for label, ids in ((f"{a} only", o.a_only), (f"{b} only", o.b_only), ("neither", o.neither)):
        if ids:
            more = f" ... and {len(ids) - SHOWN_IDS} more (--json lists all)" if len(ids) > SHOWN_IDS else ""
            shown = ", ".join(visible(t, keep_newlines=False) for t in ids[:SHOWN_IDS])
            lines.append(f"\n  {label}: {shown}{more}")
    return [diff, lines]

