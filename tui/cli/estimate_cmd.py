"""`repair-tui estimate`: pass@t of a stored run, as tables, JSON, CSV or figures."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair_tui.tui.cli import add_db_option, count_int, positive_int
from repair_tui.tui.cli.costs import add_budget_options, money, prices, sample_tasks
from repair_tui.tui.untrusted import visible

if TYPE_CHECKING:
    from repair_tui.core.estimate.costs import CostSummary
    from repair_tui.core.estimate.grid import Cell, Grid
    from rich.console import Console, RenderableType

CSV_FIELDS = (
    "np", "nfr", "pass_rate", "tokens", "ci_low", "ci_high", "tokens_ci_low", "tokens_ci_high",
    "ratio", "ratio_ci_low", "ratio_ci_high", "out_of_bounds",
)


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{value} must be between 0 and 1, e.g. 0.95")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="estimate pass@t of a run: pass rate against tokens for each (np, nfr)",
        description="Estimate the expected pass rate and tokens of every (np, nfr) policy and "
        "of the no-repair baseline from a run's frozen trees, exactly, with bootstrap "
        "confidence intervals over tasks and the normalised heat map.",
    )
    parser.add_argument("name", metavar="NAME", help="run name (or id)")
    add_db_option(parser)
    parser.add_argument("--np", nargs="+", type=positive_int, default=None, metavar="N",
                        help="initial programs per task (default: the paper's 1 2 5 10 25, "
                        "cut to the most programs a task has, plus that number)")
    parser.add_argument("--nfr", nargs="+", type=positive_int, default=None, metavar="N",
                        help="feedback-repairs per failing program (default: the paper's 1 3 5 10, "
                        "cut to the most repairs a program has, plus that number)")
    parser.add_argument("--mode", choices=("batch", "dfs", "bfs"), default="batch",
                        help="batch (all at once), dfs or bfs (stop at the first pass); default batch")
    parser.add_argument("--difficulty", metavar="D", default=None, help="only tasks of this difficulty")
    parser.add_argument("--replacement", action="store_true", help="draw programs and repairs with replacement")
    parser.add_argument("--bootstrap", type=count_int, default=1000, metavar="B",
                        help="bootstrap resamples of the tasks for intervals (0: none; default 1000)")
    parser.add_argument("--confidence", type=_confidence, default=0.95, metavar="C",
                        help="interval coverage (default 0.95)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="bootstrap seed (default 0)")
    add_budget_options(parser)
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object (cells in 'rows')")
    out.add_argument("--csv", action="store_true", help="print the rows as CSV")
    parser.add_argument("--plot", metavar="DIR", type=Path, default=None,
                        help="also write the two figures as PNG and SVG into DIR (needs the 'plots' extra)")
    parser.set_defaults(func=run)


def check_sampled(name: str, nps: list[int] | None, nfrs: list[int] | None,
                  most_np: int, most_nfr: int) -> None:
    """UserError when --np or --nfr asks for more than the run's sample holds (the
    estimate would only repeat what was sampled, and look like data it is not)."""
    from repair_tui.core.errors import UserError

    for flag, asked, most, what in (("--np", nps, most_np, "programs per task"),
                                    ("--nfr", nfrs, most_nfr, "repairs per failing program")):
        over = [v for v in asked or () if v > most]
        if over:
            raise UserError(f"{flag} {', '.join(map(str, over))}: run {name!r} sampled at most "
                            f"{most} {what}; use values up to {most}")


def run(args: argparse.Namespace) -> int:
    from repair_tui.core.errors import UserError
    from repair_tui.core.estimate.costs import summarise
    from repair_tui.core.estimate.grid import grid, sampled_axes
    from repair_tui.core.store.store import Store

    if args.plot is not None:  # fail before the work, not after
        from repair_tui.core.estimate.plots import require_matplotlib

        require_matplotlib()
    table = prices(args)
    with Store.open(getattr(args, "db", None), create=False) as store:
        run_ = store.get_run(args.name)
        tasks = sample_tasks(store, run_, args.difficulty, args.budget, table)
        cost = summarise(store.token_parts(run_.id, args.difficulty), table)
    if not tasks:
        which = f" of difficulty {args.difficulty!r}" if args.difficulty else ""
        raise UserError(f"run {run_.name!r} has no task{which} with an executed program to estimate from")
    nps, nfrs = sampled_axes(tasks)
    check_sampled(run_.name, args.np, args.nfr, nps[-1], nfrs[-1] if any(
        p.repairs for t in tasks for p in t.programs) else 0)
    result = grid(tasks, _unique(args.np or nps), _unique(args.nfr or nfrs), mode=args.mode, replacement=args.replacement,
                  bootstrap=args.bootstrap, seed=args.seed, confidence=args.confidence, unit=args.budget)
    if args.json:
        print(json.dumps(to_json(result, run_.name, args.difficulty, cost, table.source), indent=2))
    elif args.csv:
        print(to_csv(result), end="")
    else:
        _print_tables(result, run_.name, args.difficulty, cost, table.source)
    if args.plot is not None:
        from repair_tui.core.estimate.plots import write_figures

        paths = write_figures(result, args.plot, run_.name)
        note = "wrote " + ", ".join(str(p) for p in paths)
        print(note, file=sys.stderr if args.json or args.csv else sys.stdout)
    return 0


def _unique(values: list[int]) -> list[int]:
    return sorted(set(values))


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def to_json(result: Grid, name: str, difficulty: str | None, cost: CostSummary | None = None,
            prices: str | None = None) -> dict[str, Any]:
    """The --json object: run, settings, ``rows`` (cells then baseline), ``levels``, and
    the run's ``cost`` (prompt and completion tokens, dollars or null) with its ``prices``.

    On the dollar axis (``unit`` "dollars") the rows' ``tokens*`` keys are ``dollars*``.
    """
    body = result.to_dict()
    body["rows"] = [{_unit_key(k, result.unit): _clean(v) for k, v in row.items()} for row in body["rows"]]
    extra = {} if cost is None else {"cost": cost.to_dict(), "prices": prices}
    return {"run": name, "difficulty": difficulty, **body, **extra}


def _unit_key(key: str, unit: str) -> str:
    return key.replace("tokens", "dollars", 1) if unit == "dollars" and key.startswith("tokens") else key


def to_csv(result: Grid) -> str:
    """The --csv text: one row per cell, then one per baseline point (nfr = 0)."""
    buf = io.StringIO()
    fields = [_unit_key(k, result.unit) for k in CSV_FIELDS]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for cell in result.rows():
        row = cell.to_dict()
        writer.writerow({_unit_key(k, result.unit): "" if row[k] is None else row[k] for k in CSV_FIELDS})
    return buf.getvalue()


def amount(value: float, unit: str) -> str:
    """A cost on the pass@t axis: 1,234 tokens or $0.0123."""
    return money(value) if unit == "dollars" else f"{value:,.0f}"


def cost_line(cost: CostSummary, prices: str) -> str:
    """'prompt 1,234 + completion 5,678 tokens, $0.01 (prices: ...)', or why no dollars."""
    prompt = "unknown" if cost.prompt is None else f"{cost.prompt:,}"
    head = f"tokens: prompt {prompt} + completion {cost.completion:,}"
    if cost.dollars is not None:
        return f"{head}; cost {money(cost.dollars)} ({prices})"
    if cost.unpriced:
        names = ", ".join(visible(m, keep_newlines=False) for m in cost.unpriced)
        return f"{head}; no price for {names} ({prices})"
    return f"{head}; no dollar cost (prompt tokens unknown)"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _interval(low: float | None, high: float | None, fmt: str = "pct") -> str:
    if low is None or high is None:
        return ""
    if fmt == "pct":
        return f"{100 * low:.1f}–{100 * high:.1f}"
    if fmt == "ratio":
        return f"{low:.2f}–{high:.2f}"
    if fmt == "dollars":
        return f"{money(low)}–{money(high)}"
    return f"{low:,.0f}–{high:,.0f}"


def _ratio_text(cell: Cell) -> str:
    if cell.out_of_bounds:
        return "O.O.B."
    if cell.ratio is None:
        return "n/a"
    ci = _interval(cell.ratio_ci_low, cell.ratio_ci_high, "ratio")
    return f"{cell.ratio:.2f}" + (f" ({ci})" if ci else "")


def heat_rows(result: Grid) -> list[int]:
    """The heat map's np values from top to bottom: largest on top, as in the paper.

    The app's heat map uses this too, so both show the rows in the same order.
    """
    return sorted(result.nps, reverse=True)


def heat_style(ratio: float | None, spread: float) -> str:
    """Background colour from red (worse than the baseline) through yellow to green;
    ``spread`` is the distance from a ratio of 1 that gets the full colour."""
    if ratio is None:
        return "dim"
    t = max(-1.0, min(1.0, (ratio - 1.0) / spread))
    if t >= 0:  # yellow (230, 220, 110) -> green (40, 160, 70)
        rgb = (230 - 190 * t, 220 - 60 * t, 110 - 40 * t)
    else:  # yellow -> red (200, 50, 40)
        rgb = (230 + 30 * t, 220 + 170 * t, 110 + 70 * t)
    r, g, b = (int(round(c)) for c in rgb)
    return f"black on rgb({r},{g},{b})"


def render(result: Grid, name: str, difficulty: str | None = None, cost: CostSummary | None = None,
           prices: str = "") -> list[RenderableType]:
    """The rich renderables the command prints: policies, heat map, baseline, levels."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    conf = f"{result.confidence:.0%}"
    subset = f", difficulty {difficulty}" if difficulty else ""
    repl = ", with replacement" if result.replacement else ""
    boot = f"{conf} bootstrap intervals over tasks ({result.bootstrap} resamples)" if result.bootstrap else "no intervals"
    axis = ", on a dollar axis" if result.unit == "dollars" else ""
    head = Text(f"pass@t of run {visible(name, keep_newlines=False)}: {result.n_tasks} tasks{subset}, "
                f"{result.mode}{repl}{axis}; {boot}")
    if cost is not None:
        head.append("\n" + cost_line(cost, prices))
    unit, fmt = result.unit, "dollars" if result.unit == "dollars" else "tokens"
    policies = Table(title="Policies (np programs, nfr repairs per failing program)", title_justify="left",
                     box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("np", "nfr", "pass rate", f"{conf} CI", unit, f"{unit} {conf} CI", "vs baseline"):
        policies.add_column(col, justify="right")
    for c in result.cells:
        policies.add_row(str(c.np), str(c.nfr), _pct(c.pass_rate), _interval(c.ci_low, c.ci_high),
                         amount(c.tokens, unit), _interval(c.tokens_ci_low, c.tokens_ci_high, fmt), _ratio_text(c))
    return [head, policies, _heat_table(result), _baseline_table(result), *_levels_table(result)]


def _heat_table(result: Grid) -> RenderableType:
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    ratios = [c.ratio for c in result.cells if c.ratio is not None]
    spread = max([0.05, *(abs(r - 1.0) for r in ratios)])
    # A title would wrap to the narrow table's width, so the explanation goes above it.
    note = Text(f"\nHeat map: pass rate / baseline pass rate at equal {result.unit} "
                "(O.O.B.: beyond the largest baseline budget)", style="italic")
    heat = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    heat.add_column("np \\ nfr", justify="right")
    for f in result.nfrs:
        heat.add_column(str(f), justify="center", min_width=7)
    for n in heat_rows(result):
        cells = [result.cell(n, f) for f in result.nfrs]
        heat.add_row(str(n), *(
            f"[{heat_style(c.ratio, spread)}] {'O.O.B.' if c.out_of_bounds else ('n/a' if c.ratio is None else f'{c.ratio:.2f}')} [/]"
            for c in cells
        ))
    return Group(note, heat)


def _shown_k(result: Grid) -> list[int]:
    """Baseline rows to print: all when few, else 1-5, multiples of 5, the np values, N."""
    top = len(result.baseline)
    if top <= 12:
        return list(range(1, top + 1))
    keep = {1, 2, 3, 4, 5, top, *(k for k in range(5, top + 1, 5)), *(n for n in result.nps if n <= top)}
    return sorted(keep)


def _baseline_table(result: Grid) -> RenderableType:
    from rich import box
    from rich.table import Table

    shown = _shown_k(result)
    note = "" if len(shown) == len(result.baseline) else " (some k shown; --json or --csv for all)"
    table = Table(title=f"Baseline: k programs, no repair{note}", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    conf = f"{result.confidence:.0%}"
    for col in ("k", "pass rate", f"{conf} CI", result.unit):
        table.add_column(col, justify="right")
    for k in shown:
        c = result.baseline[k - 1]
        table.add_row(str(k), _pct(c.pass_rate), _interval(c.ci_low, c.ci_high), amount(c.tokens, result.unit))
    return table


def _levels_table(result: Grid) -> list[RenderableType]:
    from rich import box
    from rich.table import Table

    deeper = [r for r in result.levels if r.level >= 2]
    if not deeper:
        return []
    fallback = " (batch: bfs has no exact form beyond one level)" if result.levels_mode != result.mode else ""
    table = Table(title=f"Deeper repair levels: what each level adds{fallback}", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    unit = result.unit
    for col in ("np", "nfr", "level", "pass rate", "+ pass rate", unit, f"+ {unit}"):
        table.add_column(col, justify="right")
    for r in deeper:
        added = "+" + money(r.added_tokens) if unit == "dollars" else f"{r.added_tokens:+,.0f}"
        table.add_row(str(r.np), str(r.nfr), str(r.level), _pct(r.pass_rate),
                      f"{100 * r.added_pass_rate:+.1f} pts", amount(r.tokens, unit), added)
    return [table]


def _console() -> Console:
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # piped: do not cut columns
        console = Console(width=max(console.width, 120))
    return console


def _print_tables(result: Grid, name: str, difficulty: str | None, cost: CostSummary | None = None,
                  prices: str = "") -> None:
    console = _console()
    for item in render(result, name, difficulty, cost, prices):
        console.print(item)
