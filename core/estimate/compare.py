"""Comparing runs on the tasks they share: per-task outcomes, each run's best policy at
a budget, and the difference in pass rate at matched budgets with a paired bootstrap.

A run's *policies* are its baseline points (k plain samples, ``nfr = 0``) and its
(np, nfr) cells. Its best policy at budget ``b`` is the one with the highest expected
pass rate among those whose expected cost is at most ``b`` (what a user with ``b`` to
spend per task would pick). The difference between two runs at ``b`` is the
difference of their best pass rates; its interval resamples the shared tasks, the same
ones for both runs (paired), for the two policies chosen on the whole sample.
Costs are in whatever unit the samples' ``tokens`` hold (tokens or dollars). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from repair_tui.core.estimate.exact import FrozenTask, Sample, baseline_tasks, pack, task_grid
from repair_tui.core.estimate.kernel import FloatArray


@dataclass(frozen=True, eq=False)
class Policies:
    """Every policy of one run on a fixed task list: per-task pass rates and costs."""

    labels: tuple[tuple[int, int], ...]  # (np, nfr); nfr = 0 for a baseline point
    task_pass: FloatArray  # (policies, tasks)
    task_cost: FloatArray  # (policies, tasks)

    @property
    def pass_rate(self) -> FloatArray:
        result: FloatArray = self.task_pass.mean(axis=1)
        return result

    @property
    def cost(self) -> FloatArray:
        result: FloatArray = self.task_cost.mean(axis=1)
        return result


@dataclass(frozen=True)
class Best:
    """A run's best policy at one budget (None fields when nothing fits the budget)."""

    budget: float
    np: int | None
    nfr: int | None
    pass_rate: float | None
    cost: float | None


@dataclass(frozen=True)
class Difference:
    """Best pass rate of run a minus run b at one budget, with its paired interval."""

    budget: float
    a: float | None
    b: float | None
    estimate: float | None
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class Outcomes:
    """Shared tasks by which run solved them (some program or repair passed)."""

    a_only: tuple[str, ...]
    b_only: tuple[str, ...]
    both: tuple[str, ...]
    neither: tuple[str, ...]


def solved(task: FrozenTask) -> bool:
    """Whether any program of the task's sample passed, first or repair, at any depth."""
    def passes(s: Sample) -> bool:
        return s.passed or any(passes(r) for r in s.repairs)

    return any(passes(p) for p in task.programs)


def shared(runs: Sequence[Sequence[FrozenTask]]) -> list[list[FrozenTask]]:
    """Each run's tasks cut to those every run has, in the first run's order."""
    common = set.intersection(*(set(t.task_id for t in r) for r in runs)) if runs else set()
    order = [t.task_id for t in runs[0] if t.task_id in common] if runs else []
    return [[{t.task_id: t for t in r}[tid] for tid in order] for r in runs]


def outcomes(a: Sequence[FrozenTask], b: Sequence[FrozenTask]) -> Outcomes:
    """Which of the tasks both lists hold each run solved (ids in ``a``'s order)."""
    in_b = {t.task_id: solved(t) for t in b}
    groups: dict[tuple[bool, bool], list[str]] = {(x, y): [] for x in (True, False) for y in (True, False)}
    for t in a:
        if t.task_id in in_b:
            groups[solved(t), in_b[t.task_id]].append(t.task_id)
    return Outcomes(tuple(groups[True, False]), tuple(groups[False, True]),
                    tuple(groups[True, True]), tuple(groups[False, False]))


def policies(
    tasks: Sequence[FrozenTask], nps: Sequence[int], nfrs: Sequence[int], *,
    mode: str = "batch", replacement: bool = False,
) -> Policies:
    """The baseline k = 1..N and every (np, nfr) cell, per task, on ``tasks`` in order.

    Every task needs a program (``shared`` of frozen sets guarantees it)."""
    packed = pack(tasks)
    if packed.n_tasks != len(tasks):
        raise ValueError("every task needs at least one program")
    base_p, base_t = baseline_tasks(packed, max(packed.max_programs, 1), mode=mode, replacement=replacement)
    cell_p, cell_t = task_grid(packed, nps, nfrs, mode=mode, replacement=replacement)
    labels = [(k + 1, 0) for k in range(base_p.shape[0])]
    rows_p, rows_t = [base_p], [base_t]
    for i, n in enumerate(nps):
        for j, f in enumerate(nfrs):
            labels.append((n, f))
            rows_p.append(cell_p[j, i][None])
            rows_t.append(cell_t[j, i][None])
    return Policies(tuple(labels), np.concatenate(rows_p), np.concatenate(rows_t))


def best_at(runs: Policies, budgets: Sequence[float]) -> list[Best]:
    """The run's best policy at each budget."""
    out: list[Best] = []
    for b in budgets:
        fits = np.flatnonzero(runs.cost <= b * (1 + 1e-12))  # a budget taken from a cost fits it
        if not fits.size:
            out.append(Best(float(b), None, None, None, None))
            continue
        # Highest pass rate; among ties the cheapest.
        i = int(fits[np.lexsort((runs.cost[fits], -runs.pass_rate[fits]))[0]])
        n, f = runs.labels[i]
        out.append(Best(float(b), n, f, float(runs.pass_rate[i]), float(runs.cost[i])))
    return out


def matched_budgets(a: Policies, b: Policies, points: int = 6) -> list[float]:
    """Budgets where both runs have some policy: from the larger of their cheapest costs
    to the smaller of their dearest, spaced evenly on a log scale (empty if none)."""
    lo = max(float(a.cost.min()), float(b.cost.min()))
    hi = min(float(a.cost.max()), float(b.cost.max()))
    if hi < lo:
        return []
    if hi == lo or points < 2:
        return [hi]
    if lo <= 0:
        return [float(x) for x in np.linspace(hi / points, hi, points)]
    return [float(x) for x in np.geomspace(lo, hi, points)]


def difference(
    a: Policies, b: Policies, budgets: Sequence[float], *,
    bootstrap: int = 1000, seed: int = 0, confidence: float = 0.95,
) -> list[Difference]:
    """a's best pass rate minus b's at each budget, with a paired bootstrap over tasks:
    the same resampled tasks for both runs' chosen policies."""
    if a.task_pass.shape[1] != b.task_pass.shape[1]:
        raise ValueError("the runs must be cut to the same tasks (see shared())")
    n_tasks = a.task_pass.shape[1]
    weights: FloatArray | None = None
    if bootstrap > 0 and n_tasks:
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, n_tasks, size=(bootstrap, n_tasks))
        weights = np.stack([np.bincount(row, minlength=n_tasks) for row in picks]) / n_tasks
    q = (50.0 * (1.0 - confidence), 50.0 * (1.0 + confidence))
    out: list[Difference] = []
    for x, y in zip(best_at(a, budgets), best_at(b, budgets), strict=True):
        if x.pass_rate is None or y.pass_rate is None:
            out.append(Difference(x.budget, x.pass_rate, y.pass_rate, None))
            continue
        per_task = a.task_pass[a.labels.index((x.np, x.nfr))] - b.task_pass[b.labels.index((y.np, y.nfr))]
        lo = hi = None
        if weights is not None:
            lo, hi = (float(v) for v in np.percentile(weights @ per_task, q))
        out.append(Difference(x.budget, x.pass_rate, y.pass_rate, x.pass_rate - y.pass_rate, lo, hi))
    return out


