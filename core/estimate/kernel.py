"""The array kernel of the pass@t estimator: drawing k of a row's units, exactly.

Every estimate in ``metrics`` reduces to one question asked of many rows at once:
a row holds up to C *units* (programs of a task, or repairs of a program), unit i
fails with probability ``g[i]`` and carries a cost ``d[i]``; draw k of the row's
units uniformly (without replacement, in random order, or with replacement). What
is the chance that every drawn unit fails, and what is the expected cost?

Without replacement the answers are elementary symmetric polynomials of ``g``
divided by binomials. Dividing inside the dynamic program (``A_k^(n)`` is the
*average* product over the k-subsets of the first n units) makes every update a
convex combination, so nothing overflows or cancels for N in the hundreds.
Pure numpy; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class DrawStats:
    """Per row and per k = 0..kmax (arrays of shape (R, kmax + 1)).

    ``fail[:, k]``: probability that every one of k drawn units fails.
    ``batch_cost[:, k]``: E[sum over drawn units i of d_i * prod over the other
    drawn units j of g_j] (cost of one unit, paid when all the others fail).
    ``seq_cost[:, k]``: E[cost paid drawing units one at a time in random order,
    paying each unit's d, up to and including the first unit that does not fail].

    A row with fewer than k units draws all it has (and pays for them): its
    values at k equal its values at its unit count. A row with no units never
    passes and costs nothing.
    """

    fail: FloatArray
    batch_cost: FloatArray
    seq_cost: FloatArray


def draw_stats(
    g: FloatArray,
    d: FloatArray,
    count: IntArray,
    kmax: int,
    *,
    replacement: bool = False,
    need_cost: bool = True,
) -> DrawStats:
    """Exact draw statistics for each row of ``g`` and ``d`` (shape (R, C)).

    Row r's units are its first ``count[r]`` columns; the rest is padding and is
    never read. With ``replacement`` each of the k draws is an independent
    uniform pick among the row's units. Without ``need_cost`` only ``fail`` is
    computed (the costs are zeros), which halves the work.
    """
    if g.shape != d.shape or g.ndim != 2 or count.shape != (g.shape[0],):
        raise ValueError(f"draw_stats: shapes {g.shape}, {d.shape}, {count.shape} do not match")
    kmax = max(int(kmax), 0)
    if replacement:
        return _with_replacement(g, d, count, kmax)
    return _without_replacement(g, d, count, kmax, need_cost)


def _without_replacement(
    g: FloatArray, d: FloatArray, count: IntArray, kmax: int, need_cost: bool
) -> DrawStats:
    rows, cols = g.shape
    avg_fail = np.zeros((rows, kmax + 1))  # A_k: average of prod g over k-subsets
    avg_cost = np.zeros((rows, kmax + 1))  # D_k: average of sum_i d_i prod_{j != i} g_j
    avg_fail[:, 0] = 1.0
    k = np.arange(1, kmax + 1, dtype=np.float64)
    for c in range(min(cols, int(count.max(initial=0)))):
        n = c + 1.0
        keep = np.clip(n - k, 0.0, None) / n  # C(n-1, k) / C(n, k)
        add = k / n  # C(n-1, k-1) / C(n, k)
        gc = g[:, c : c + 1]
        prev_fail = avg_fail[:, :-1]
        new_fail = keep * avg_fail[:, 1:] + add * gc * prev_fail
        if need_cost:
            dc = d[:, c : c + 1]
            new_cost = keep * avg_cost[:, 1:] + add * (gc * avg_cost[:, :-1] + dc * prev_fail)
        active = count > c
        if active.all():
            avg_fail[:, 1:] = new_fail
            if need_cost:
                avg_cost[:, 1:] = new_cost
        else:  # rows that ran out of units keep their final values
            avg_fail[:, 1:] = np.where(active[:, None], new_fail, avg_fail[:, 1:])
            if need_cost:
                avg_cost[:, 1:] = np.where(active[:, None], new_cost, avg_cost[:, 1:])
    # Drawing m units in random order, the m-th is a uniform member of a uniform
    # m-subset, so E[its cost * all earlier fail] = D_m / m.
    seq = np.zeros((rows, kmax + 1))
    if kmax:
        seq[:, 1:] = np.cumsum(avg_cost[:, 1:] / k, axis=1)
    clamp = np.minimum(np.arange(kmax + 1)[None, :], count[:, None])
    return DrawStats(
        fail=np.take_along_axis(avg_fail, clamp, axis=1),
        batch_cost=np.take_along_axis(avg_cost, clamp, axis=1),
        seq_cost=np.take_along_axis(seq, clamp, axis=1),
    )


def _with_replacement(g: FloatArray, d: FloatArray, count: IntArray, kmax: int) -> DrawStats:
    rows, cols = g.shape
    valid = np.arange(cols)[None, :] < count[:, None]
    safe = np.maximum(count, 1).astype(np.float64)
    g_mean = np.where(count > 0, (g * valid).sum(axis=1) / safe, 1.0)[:, None]
    d_mean = np.where(count > 0, (d * valid).sum(axis=1) / safe, 0.0)[:, None]
    k = np.arange(kmax + 1, dtype=np.float64)[None, :]
    fail = g_mean**k
    # The k draws are independent: one unit's cost times the other k-1 failing.
    batch = k * d_mean * g_mean ** np.maximum(k - 1.0, 0.0)
    powers = np.concatenate([np.zeros((rows, 1)), np.cumsum(fail[:, :-1], axis=1)], axis=1)
    seq = d_mean * powers  # sum over positions m < k of g_mean**m
    return DrawStats(fail=fail, batch_cost=batch, seq_cost=seq)


def binary_draw_stats(
    fail: FloatArray,
    d: FloatArray,
    count: IntArray,
    kmax: int,
    *,
    replacement: bool = False,
) -> DrawStats:
    """``draw_stats`` for units that surely fail or surely pass (``fail`` is 0 or 1).

    Closed forms through ratios of binomials, no loop over units: with F failing
    units among N, P(k drawn all fail) = C(F, k) / C(N, k); unit i is in a drawn
    k-subset whose other members all fail with probability
    (k / N) * C(F - fail_i, k - 1) / C(N - 1, k - 1); it is reached in a random
    order with probability (1 / N) * sum over m < k of C(F - fail_i, m) / C(N - 1, m).
    """
    if replacement:
        return _with_replacement(fail, d, count, max(int(kmax), 0))
    kmax = max(int(kmax), 0)
    valid = np.arange(fail.shape[1])[None, :] < count[:, None]
    f = fail * valid
    n_fail = f.sum(axis=1)[:, None]
    d_fail = (d * f).sum(axis=1)[:, None]
    d_pass = (d * (valid - f)).sum(axis=1)[:, None]
    n = count.astype(np.float64)[:, None]
    i = np.arange(kmax, dtype=np.float64)[None, :]

    def ratios(x: FloatArray, shift: float) -> FloatArray:
        # prod_{i<m} (x - i) / (n - shift - i) = C(x, m) / C(n - shift, m), m = 0..kmax
        den = n - shift - i
        fac = np.clip(x - i, 0.0, None) / np.where(den > 0, den, 1.0)
        ones = np.ones((fail.shape[0], 1))
        return np.concatenate([ones, np.cumprod(np.where(den > 0, fac, 0.0), axis=1)], axis=1)

    all_fail = ratios(n_fail, 0.0)
    others = d_fail * ratios(n_fail - 1.0, 1.0) + d_pass * ratios(n_fail, 1.0)  # index m
    safe_n = np.maximum(n, 1.0)
    k = np.arange(1, kmax + 1, dtype=np.float64)[None, :]
    batch = np.zeros_like(all_fail)
    seq = np.zeros_like(all_fail)
    batch[:, 1:] = k / safe_n * others[:, :-1]
    seq[:, 1:] = np.cumsum(others[:, :-1], axis=1) / safe_n
    clamp = np.minimum(np.arange(kmax + 1)[None, :], count[:, None])
    return DrawStats(
        fail=np.take_along_axis(all_fail, clamp, axis=1),
        batch_cost=np.take_along_axis(batch, clamp, axis=1),
        seq_cost=np.take_along_axis(seq, clamp, axis=1),
    )


def draw_all_cost(d: FloatArray, count: IntArray, kmax: int, *, replacement: bool = False) -> FloatArray:
    """E[sum of d over k drawn units] for k = 0..kmax, shape (R, kmax + 1).

    The closed form of ``batch_cost`` when no unit can fail early (g = 1).
    """
    cols = d.shape[1]
    valid = np.arange(cols)[None, :] < count[:, None]
    total = (d * valid).sum(axis=1)[:, None]
    n = np.maximum(count, 1).astype(np.float64)[:, None]
    k = np.arange(max(int(kmax), 0) + 1, dtype=np.float64)[None, :]
    drawn = k if replacement else np.minimum(k, count[:, None])
    result: FloatArray = np.where(count[:, None] > 0, drawn * total / n, 0.0)
    return result
