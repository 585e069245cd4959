"""Comparing runs: outcomes per task, best policy at a budget, paired differences."""

from __future__ import annotations

import pytest
from repair_tui.core.estimate.compare import (
    best_at,
    difference,
    matched_budgets,
    outcomes,
    policies,
    shared,
    solved,
)
from repair_tui.core.estimate.exact import FrozenTask, Sample
from repair_tui.core.estimate.synth import synthetic_tasks


def _task(tid: str, first: bool, repaired: bool = False) -> FrozenTask:
    return FrozenTask(tid, (Sample(10, first, () if first else (Sample(20, repaired),)),))


def test_solved_counts_repairs_at_any_depth() -> None:
    deep = FrozenTask("t", (Sample(1, False, (Sample(1, False, (Sample(1, True),)),)),))
    assert solved(deep) and not solved(_task("u", False))


def test_outcomes_and_shared_tasks() -> None:
    a = [_task("1", True), _task("2", False, True), _task("3", False), _task("9", True)]
    b = [_task("3", True), _task("2", False), _task("1", True), _task("4", False)]
    o = outcomes(a, b)
    assert (o.both, o.a_only, o.b_only, o.neither) == (("1",), ("2",), ("3",), ())
    cut_a, cut_b = shared([a, b])
    assert [t.task_id for t in cut_a] == [t.task_id for t in cut_b] == ["1", "2", "3"]


def test_best_policy_is_the_highest_pass_rate_within_budget() -> None:
    tasks = synthetic_tasks(30, n_programs=6, n_repairs=3, seed=3)
    pol = policies(tasks, [1, 2, 5], [1, 3])
    for best in best_at(pol, [0.5 * float(pol.cost.min()), float(pol.cost.max())]):
        fits = pol.cost <= best.budget * (1 + 1e-12)
        if not fits.any():
            assert best.pass_rate is None
        else:
            assert best.pass_rate == pytest.approx(float(pol.pass_rate[fits].max()))
            assert best.cost is not None and best.cost <= best.budget * (1 + 1e-12)


def test_a_run_against_itself_differs_by_nothing() -> None:
    tasks = synthetic_tasks(40, n_programs=5, n_repairs=2, seed=1)
    pol = policies(tasks, [1, 2, 5], [1, 2])
    budgets = matched_budgets(pol, pol)
    assert len(budgets) == 6 and budgets[0] == pytest.approx(float(pol.cost.min()))
    for d in difference(pol, pol, budgets, bootstrap=200):
        assert d.estimate == 0.0 and (d.ci_low, d.ci_high) == (0.0, 0.0)


def test_paired_interval_covers_a_real_difference() -> None:
    """Run b solves every task with one program; run a half of them: a - b = -0.5 at any
    budget both reach, and the paired interval sits below zero."""
    a = [_task(str(i), i % 2 == 0) for i in range(40)]
    b = [_task(str(i), True) for i in range(40)]
    pa, pb = policies(a, [1], [1]), policies(b, [1], [1])
    (d,) = difference(pa, pb, [10.0], bootstrap=300, seed=2)
    assert d.estimate == pytest.approx(-0.5)
    assert d.ci_low is not None and d.ci_high is not None and d.ci_low <= -0.5 <= d.ci_high < 0
    assert matched_budgets(pa, pb, points=3)[-1] == pytest.approx(10.0)
