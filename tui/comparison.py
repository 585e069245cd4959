"""Comparing stored runs: what ``repair-tui compare`` prints and the Compare screen shows.

``compare_runs`` reads each run's sample from the store (in tokens or dollars), cuts
every run to the tasks all of them share, estimates each one's grid there, and pairs
them up (core/estimate/compare.py: outcomes per task, best policy at matched budgets,
the difference with a paired bootstrap). Plain data out; no printing, no widgets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

from repair_tui.core.errors import UserError
from repair_tui.tui.untrusted import visible

if TYPE_CHECKING:
    from repair_tui.core.estimate.compare import Best, Difference, Outcomes, Policies
    from repair_tui.core.estimate.costs import CostSummary, PriceTable
    from repair_tui.core.estimate.exact import FrozenTask
    from repair_tui.core.estimate.grid import Grid
    from repair_tui.core.store.records import Run
    from repair_tui.core.store.store import Store


@dataclass(frozen=True)
class CompareOptions:
    """The settings every compared run is estimated with."""

    nps: tuple[int, ...] | None = None  # None: the paper's grid cut to what the runs sampled
    nfrs: tuple[int, ...] | None = None
    mode: str = "batch"
    difficulty: str | None = None
    budget: str = "tokens"  # or "dollars"
    bootstrap: int = 1000
    seed: int = 0
    confidence: float = 0.95


@dataclass(frozen=True, eq=False)
class RunSide:
    """One compared run: its identity, costs, grid and best policies on the shared tasks."""

    run: Run
    tasks: list[FrozenTask]
    grid: Grid
    policies: Policies
    cost: CostSummary
    best: list[Best] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.run.name)

    @property
    def models(self) -> str:
        c = self.run.config
        return c.model if not c.feedback_model else f"{c.model} + {c.feedback_model} feedback"


@dataclass(frozen=True, eq=False)
class Pair:
    """Two compared runs: per-task outcomes and the difference at matched budgets."""

    a: RunSide
    b: RunSide
    outcomes: Outcomes
    differences: list[Difference]


@dataclass(frozen=True, eq=False)
class Comparison:
    """Everything ``compare`` shows: the runs, their pairs, the budgets and notes."""

    runs: list[RunSide]
    pairs: list[Pair]
    budgets: list[float]
    options: CompareOptions
    prices: str
    notes: list[str]

    @property
    def unit(self) -> str:
        return self.options.budget


def compare_runs(store: Store, names: list[str], options: CompareOptions, prices: PriceTable) -> Comparison:
    """Compare the named runs (two or more) on the tasks they all share."""
    from repair_tui.core.estimate.compare import matched_budgets, shared
    from repair_tui.core.estimate.costs import summarise
    from repair_tui.tui.cli.costs import sample_tasks

    if len(names) < 2:
        raise UserError("compare needs two runs or more")
    runs = [store.get_run(n) for n in names]
    seen: set[int] = set()
    for r in runs:
        if r.id in seen:
            raise UserError(f"run {r.name!r} is listed twice")
        seen.add(r.id)
    samples = [sample_tasks(store, r, options.difficulty, options.budget, prices) for r in runs]
    costs = [summarise(store.token_parts(r.id, options.difficulty), prices) for r in runs]
    _check_shared(runs, samples, options.difficulty)
    cut = shared(samples)
    sides = [_side(r, t, c, options) for r, t, c in zip(runs, cut, costs, strict=True)]
    budgets = _budgets(sides, matched_budgets)
    sides = [_with_best(s, budgets) for s in sides]
    pairs = [_pair(a, b, budgets, options) for a, b in combinations(sides, 2)]
    return Comparison(sides, pairs, budgets, options, prices.source, _notes(runs, samples, cut))


def _check_shared(runs: list[Run], samples: list[list[FrozenTask]], difficulty: str | None) -> None:
    ids = [{t.task_id for t in s} for s in samples]
    which = f" of difficulty {difficulty!r}" if difficulty else ""
    for run, got in zip(runs, ids, strict=True):
        if not got:
            raise UserError(f"run {run.name!r} has no task{which} with an executed program to compare")
    for (ra, a), (rb, b) in combinations(zip(runs, ids, strict=True), 2):
        if not a & b:
            raise UserError(f"runs {ra.name!r} ({ra.dataset}) and {rb.name!r} ({rb.dataset}) share no "
                            f"task{which}: nothing to compare")
    if not set.intersection(*ids):
        raise UserError(f"the runs {', '.join(repr(r.name) for r in runs)} have no task{which} in common")


def _side(run: Run, tasks: list[FrozenTask], cost: CostSummary, options: CompareOptions) -> RunSide:
    from repair_tui.core.estimate.compare import policies
    from repair_tui.core.estimate.grid import grid, sampled_axes

    nps, nfrs = sampled_axes(tasks)
    nps_, nfrs_ = sorted(set(options.nps or nps)), sorted(set(options.nfrs or nfrs))
    result = grid(tasks, nps_, nfrs_, mode=options.mode, bootstrap=options.bootstrap, seed=options.seed,
                  confidence=options.confidence, unit=options.budget)
    return RunSide(run, tasks, result, policies(tasks, nps_, nfrs_, mode=options.mode), cost)


def _budgets(sides: list[RunSide], matched: Any) -> list[float]:
    """Budgets where every run has a policy (from the dearest cheapest to the cheapest dearest)."""
    budgets: list[float] = matched(sides[0].policies, sides[1].policies)
    for other in sides[2:]:
        if budgets:
            lo, hi = budgets[0], budgets[-1]
            lo, hi = max(lo, float(other.policies.cost.min())), min(hi, float(other.policies.cost.max()))
            budgets = [] if hi < lo else [b for b in budgets if lo <= b <= hi] or [hi]
    return budgets


def _with_best(side: RunSide, budgets: list[float]) -> RunSide:
    from dataclasses import replace

    from repair_tui.core.estimate.compare import best_at

    return replace(side, best=best_at(side.policies, budgets))


def _pair(a: RunSide, b: RunSide, budgets: list[float], options: CompareOptions) -> Pair:
    from repair_tui.core.estimate.compare import difference, outcomes

    diffs = difference(a.policies, b.policies, budgets, bootstrap=options.bootstrap, seed=options.seed,
                       confidence=options.confidence)
    return Pair(a, b, outcomes(a.tasks, b.tasks), diffs)


def _notes(runs: list[Run], samples: list[list[FrozenTask]], cut: list[list[FrozenTask]]) -> list[str]:
    notes: list[str] = []
    datasets = [r.dataset for r in runs]
    if len(set(datasets)) > 1:
        notes.append("the runs are on different datasets (" + ", ".join(
            f"{visible(r.name, keep_newlines=False)}: {visible(r.dataset, keep_newlines=False)}" for r in runs
        ) + "): compared on the task ids they share")
    models = [(r.config.model, r.config.feedback_model) for r in runs]
    if len(set(models)) > 1:
        notes.append("the runs use different models (" + ", ".join(
            f"{visible(r.name, keep_newlines=False)}: {visible(m, keep_newlines=False)}"
            + (f" + {visible(f, keep_newlines=False)} feedback" if f else "")
            for r, (m, f) in zip(runs, models, strict=True)
        ) + ")")
    kept = len(cut[0])
    for r, s in zip(runs, samples, strict=True):
        if len(s) > kept:
            notes.append(f"{visible(r.name, keep_newlines=False)}: {len(s) - kept} of its {len(s)} tasks are "
                         "not in every run and are left out")
    return notes


def outcomes_dict(pair: Pair) -> dict[str, Any]:
    o = pair.outcomes
    return {"a": pair.a.name, "b": pair.b.name, "a_only": list(o.a_only), "b_only": list(o.b_only),
            "both": list(o.both), "neither": list(o.neither)}


def difference_dict(pair: Pair, unit: str) -> dict[str, Any]:
    return {"a": pair.a.name, "b": pair.b.name, "unit": unit, "budgets": [
        {"budget": d.budget, "a_pass_rate": d.a, "b_pass_rate": d.b, "estimate": d.estimate,
         "ci": None if d.ci_low is None else [d.ci_low, d.ci_high]}
        for d in pair.differences
    ]}


def best_dict(best: Best) -> dict[str, Any]:
    body = asdict(best)
    return {"budget": body["budget"], "np": body["np"], "nfr": body["nfr"], "pass_rate": body["pass_rate"],
            "cost": body["cost"]}
