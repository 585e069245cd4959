"""The Monte Carlo simulation agrees with the exact forms within its reported error."""

from __future__ import annotations

import pytest
from repair_tui.core.estimate.exact import FrozenTask, Sample, estimate
from repair_tui.core.estimate.montecarlo import simulate
from repair_tui.core.estimate.synth import synthetic_tasks
from test_brute import brute_task

SAMPLES = 2000


def _within(exact: float, mean: float, se: float) -> bool:
    # 4.5 standard errors, plus the rule of three for events the samples never saw.
    return abs(exact - mean) <= 4.5 * se + 3.0 / SAMPLES * max(1.0, abs(exact))


@pytest.mark.parametrize("mode", ["batch", "dfs", "bfs"])
@pytest.mark.parametrize("replacement", [False, True])
def test_simulation_agrees_with_the_exact_estimate(mode: str, replacement: bool) -> None:
    tasks = synthetic_tasks(12, 8, 4, seed=3, short_repairs=0.3)
    for seed, (np_, nfr) in enumerate([(1, 1), (2, 3), (5, 2), (10, 5)]):
        exact = estimate(tasks, np_, nfr, mode=mode, replacement=replacement)
        sim = simulate(tasks, np_, nfr, mode=mode, replacement=replacement, samples=SAMPLES, seed=seed)
        assert sim.tokens_se > 0 and (np_ > 1 or sim.pass_rate_se > 0)
        assert _within(exact.pass_rate, sim.pass_rate, sim.pass_rate_se), (np_, nfr, exact, sim)
        assert _within(exact.tokens, sim.tokens, sim.tokens_se), (np_, nfr, exact, sim)


def test_simulation_agrees_with_enumeration_on_a_small_task() -> None:
    task = FrozenTask("t", (
        Sample(3, False, (Sample(2, True), Sample(5, False), Sample(1, False))),
        Sample(4, False, (Sample(6, False),)),
        Sample(9, True),
    ))
    for mode in ("batch", "dfs", "bfs"):
        p, t = brute_task(task, 2, 2, mode)
        sim = simulate([task], 2, 2, mode=mode, samples=SAMPLES, seed=11)
        assert _within(p, sim.pass_rate, sim.pass_rate_se) and _within(t, sim.tokens, sim.tokens_se)


def test_simulation_is_seeded() -> None:
    tasks = synthetic_tasks(5, 5, 3, seed=1)
    a = simulate(tasks, 2, 1, samples=50, seed=4)
    assert a == simulate(tasks, 2, 1, samples=50, seed=4)
    assert a != simulate(tasks, 2, 1, samples=50, seed=5)
    with pytest.raises(ValueError):
        simulate(tasks, 2, 1, samples=1)
