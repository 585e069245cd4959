"""The draw kernel against its definitions, enumerated over every subset and order."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from repair_tui.core.estimate.kernel import binary_draw_stats, draw_all_cost, draw_stats


def _definitions(g: list[float], d: list[float], k: int, replacement: bool) -> tuple[float, float, float]:
    """(P(all k fail), batch cost, sequential cost) straight from the definitions."""
    n = len(g)
    if n == 0:
        return 1.0, 0.0, 0.0
    if replacement:
        draws = list(itertools.product(range(n), repeat=k))
    else:
        draws = list(itertools.permutations(range(n), min(k, n)))
    fail = batch = seq = 0.0
    for order in draws:
        fail += math.prod(g[i] for i in order)
        for m, i in enumerate(order):
            batch += d[i] * math.prod(g[j] for pos, j in enumerate(order) if pos != m)
            seq += d[i] * math.prod(g[j] for j in order[:m])
    return fail / len(draws), batch / len(draws), seq / len(draws)


rows = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 50)), max_size=5)


@settings(max_examples=200, deadline=None)
@given(data=st.lists(rows, min_size=1, max_size=3), kmax=st.integers(0, 6), replacement=st.booleans())
def test_draw_stats_match_their_definitions(data: list[list[tuple[float, float]]], kmax: int, replacement: bool) -> None:
    if replacement:
        kmax = min(kmax, 4)
    width = max(1, max(len(r) for r in data))
    g = np.zeros((len(data), width))
    d = np.zeros((len(data), width))
    for i, r in enumerate(data):
        for j, (gi, di) in enumerate(r):
            g[i, j], d[i, j] = gi, di
    # padding must never be read: fill it with junk
    count = np.array([len(r) for r in data], dtype=np.int64)
    pad = np.arange(width)[None, :] >= count[:, None]
    g[pad], d[pad] = 0.5, 1e6
    got = draw_stats(g, d, count, kmax, replacement=replacement)
    for i, r in enumerate(data):
        for k in range(kmax + 1):
            want = _definitions([x for x, _ in r], [y for _, y in r], k, replacement)
            assert np.allclose([got.fail[i, k], got.batch_cost[i, k], got.seq_cost[i, k]], want,
                               rtol=1e-9, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    fails=st.lists(st.lists(st.booleans(), max_size=9), min_size=1, max_size=4),
    kmax=st.integers(0, 12),
    replacement=st.booleans(),
    seed=st.integers(0, 100),
)
def test_binary_closed_forms_equal_the_dynamic_program(
    fails: list[list[bool]], kmax: int, replacement: bool, seed: int
) -> None:
    width = max(1, max(len(f) for f in fails))
    g = np.zeros((len(fails), width))
    for i, f in enumerate(fails):
        g[i, : len(f)] = f
    d = np.random.default_rng(seed).uniform(1, 100, size=g.shape)
    count = np.array([len(f) for f in fails], dtype=np.int64)
    a = draw_stats(g, d, count, kmax, replacement=replacement)
    b = binary_draw_stats(g, d, count, kmax, replacement=replacement)
    for x, y in ((a.fail, b.fail), (a.batch_cost, b.batch_cost), (a.seq_cost, b.seq_cost)):
        assert np.allclose(x, y, rtol=1e-10, atol=1e-9)
    ones = draw_stats(np.ones_like(g), d, count, kmax, replacement=replacement)
    assert np.allclose(draw_all_cost(d, count, kmax, replacement=replacement), ones.batch_cost)


def test_large_rows_stay_probabilities() -> None:
    """500 units, k up to 400: values stay in [0, 1] with no overflow or NaN."""
    rng = np.random.default_rng(0)
    g = rng.uniform(0.9, 1.0, size=(3, 500))
    st_ = draw_stats(g, np.ones_like(g), np.array([500, 300, 10]), 400)
    assert np.isfinite(st_.fail).all() and (st_.fail >= 0).all() and (st_.fail <= 1).all()
    # a row of identical g: the average product over k-subsets is g**k exactly
    same = draw_stats(np.full((1, 400), 0.97), np.ones((1, 400)), np.array([400]), 400)
    assert np.allclose(same.fail[0], 0.97 ** np.arange(401), rtol=1e-9)
