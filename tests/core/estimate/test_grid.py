"""Grids: cells and baseline, bootstrap intervals, the normalised heat map, JSON rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from repair_tui.core.estimate.exact import FrozenTask, Sample, baseline_tasks, estimate, task_grid
from repair_tui.core.estimate.grid import _quantiles, grid
from repair_tui.core.estimate.synth import synthetic_tasks

TASKS = synthetic_tasks(30, 12, 5, seed=2)


def test_cells_and_baseline_are_the_exact_estimates() -> None:
    g = grid(TASKS, [1, 2, 5], [1, 3], bootstrap=0)
    assert [(c.np, c.nfr) for c in g.cells] == [(n, f) for n in (1, 2, 5) for f in (1, 3)]
    assert [c.np for c in g.baseline] == list(range(1, 13)) and {c.nfr for c in g.baseline} == {0}
    for c in g.rows():
        e = estimate(TASKS, c.np, c.nfr)
        assert c.pass_rate == pytest.approx(e.pass_rate) and c.tokens == pytest.approx(e.tokens)
        assert c.ci_low is None


def test_heat_map_divides_by_the_interpolated_baseline() -> None:
    g = grid(TASKS, bootstrap=0)
    xs = [0.0] + [c.tokens for c in g.baseline]
    ys = [0.0] + [c.pass_rate for c in g.baseline]
    largest = xs[-1]
    seen_in, seen_out = False, False
    for c in g.cells:
        if c.tokens > largest:
            assert c.out_of_bounds and c.ratio is None
            seen_out = True
        else:
            assert not c.out_of_bounds
            assert c.ratio == pytest.approx(c.pass_rate / np.interp(c.tokens, xs, ys))
            seen_in = True
    assert seen_in and seen_out  # the default grid reaches past 12 programs' budget
    assert g.heat_map()[0][0] == g.cell(1, 1).ratio


def test_ratio_is_undefined_when_the_baseline_never_passes() -> None:
    never = FrozenTask("t", tuple(Sample(5, False, (Sample(5, True),)) for _ in range(6)))
    g = grid([never], [1], [1], bootstrap=0)
    assert g.cell(1, 1).pass_rate == 1.0 and g.cell(1, 1).ratio is None and not g.cell(1, 1).out_of_bounds


def test_bootstrap_matches_a_plain_loop_and_is_seeded() -> None:
    g = grid(TASKS, [2], [3], bootstrap=300, seed=9)
    assert g == grid(TASKS, [2], [3], bootstrap=300, seed=9)
    p, t = task_grid(TASKS, [2], [3])
    rng = np.random.default_rng(9)
    picks = rng.integers(0, len(TASKS), size=(300, len(TASKS)))
    means = np.array([p[0, 0][row].mean() for row in picks])
    lo, hi = np.percentile(means, [2.5, 97.5])
    cell = g.cell(2, 3)
    assert cell.ci_low == pytest.approx(lo) and cell.ci_high == pytest.approx(hi)
    assert cell.ci_low <= cell.pass_rate <= cell.ci_high
    tmeans = np.array([t[0, 0][row].mean() for row in picks])
    assert cell.tokens_ci_low == pytest.approx(np.percentile(tmeans, 2.5))
    bp, _ = baseline_tasks(TASKS)
    assert g.baseline[0].ci_high == pytest.approx(np.percentile([bp[0][row].mean() for row in picks], 97.5))
    assert cell.ratio_ci_low is not None and cell.ratio_ci_low <= cell.ratio <= cell.ratio_ci_high


def test_wider_confidence_gives_wider_intervals() -> None:
    narrow = grid(TASKS, [2], [1], bootstrap=400, confidence=0.5).cell(2, 1)
    wide = grid(TASKS, [2], [1], bootstrap=400, confidence=0.99).cell(2, 1)
    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high  # type: ignore[operator]


def test_one_task_has_no_spread() -> None:
    c = grid(TASKS[:1], [1], [1], bootstrap=50).cell(1, 1)
    assert c.ci_low == pytest.approx(c.pass_rate) == pytest.approx(c.ci_high)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.one_of(st.floats(-5, 5), st.just(float("nan"))), min_size=3, max_size=3),
                min_size=1, max_size=30),
       st.floats(0, 100))
def test_quantiles_match_numpy(values: list[list[float]], q: float) -> None:
    arr = np.array(values)
    got = _quantiles(arr, [q])[0]
    for j in range(arr.shape[1]):
        col = arr[:, j][~np.isnan(arr[:, j])]
        if col.size:
            assert got[j] == pytest.approx(np.percentile(col, q))
        else:
            assert np.isnan(got[j])


def test_empty_sets_and_bad_arguments() -> None:
    g = grid([FrozenTask("empty", ())], [1, 2], [1])
    assert g.n_tasks == 0 and all(c.pass_rate == 0 and c.ratio is None for c in g.rows())
    for kwargs in ({"nps": []}, {"nfrs": [0]}, {"confidence": 1.0}):
        with pytest.raises(ValueError):
            grid(TASKS, **kwargs)  # type: ignore[arg-type]


def test_dict_rows_and_deeper_levels() -> None:
    deep = synthetic_tasks(10, 5, 3, seed=4, depth=2)
    g = grid(deep, [1, 2], [1, 2], mode="bfs", bootstrap=20)
    d = g.to_dict()
    assert len(d["rows"]) == 4 + 5
    assert {"np", "nfr", "pass_rate", "tokens", "ci_low", "ci_high", "ratio", "out_of_bounds"} <= set(d["rows"][0])
    assert g.depth == 2 and g.levels_mode == "batch"  # bfs falls back to batch for that table
    assert {(r["np"], r["nfr"], r["level"]) for r in d["levels"]} == {
        (n, f, lv) for n in (1, 2) for f in (1, 2) for lv in (0, 1, 2)
    }
    assert grid(deep, [1], [1], levels=False, bootstrap=0).levels == ()
    assert grid(TASKS, [1], [1], bootstrap=0).levels_mode is None  # one level only
