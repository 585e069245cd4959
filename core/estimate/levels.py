"""What each further repair level adds: exact pass rate and tokens through level L.

The policy estimate (``metrics.task_grid``) uses the first repair level, as the
paper does. Trees made by this tool can go deeper: a failing repair is explained
and repaired again, nfr times, and so on. This module extends both exact modes:

- batch: level by level. Level L+1 is drawn (nfr repairs of every drawn node of
  level L) and paid only when every drawn node of levels 0..L failed.
- dfs: depth first. After a failing node, its nfr repairs are tried one at a time,
  each followed by its own repairs, until the first pass.

bfs with more than one level has no closed form here and is not offered. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
from repair_tui.core.estimate.exact import FrozenTask, LevelGain, Packed, check_policy, pack
from repair_tui.core.estimate.kernel import FloatArray, draw_all_cost, draw_stats

LEVEL_MODES = ("batch", "dfs")


def level_gains(
    tasks: Sequence[FrozenTask] | Packed,
    np_: int,
    nfr: int,
    *,
    mode: str = "batch",
    replacement: bool = False,
) -> tuple[LevelGain, ...]:
    """Pass rate and tokens using levels 0..L, for L = 0 .. the deepest level present.

    Level 0 is the programs alone (the baseline at np_); level 1 is the usual
    (np_, nfr) estimate; each further row says what one more level adds.
    """
    check_policy(np_, nfr, mode)
    if mode not in LEVEL_MODES:
        raise ValueError(f"the deeper-levels table supports {' and '.join(LEVEL_MODES)}, not {mode!r}")
    packed = pack(tasks)
    if packed.n_tasks == 0:
        return (LevelGain(0, 0.0, 0.0, 0.0, 0.0),)
    walker = _Walker(packed, nfr, replacement)
    rows: list[LevelGain] = []
    prev_p = prev_t = 0.0
    for depth in range(packed.depth + 1 if nfr > 0 else 1):
        p, t = walker.batch(np_, depth) if mode == "batch" else walker.dfs(np_, depth)
        rows.append(LevelGain(depth, p, t, p - prev_p, t - prev_t))
        prev_p, prev_t = p, t
    return tuple(rows)


class _Walker:
    """Bottom-up recursions over the padded levels of one packed frozen set."""

    def __init__(self, packed: Packed, nfr: int, replacement: bool) -> None:
        self.levels, self.nfr, self.replacement = packed.levels, nfr, replacement
        self.fail_through = cache(self._fail_through)
        self.cost_at = cache(self._cost_at)

    def _below(self, s: int, values: FloatArray) -> FloatArray:
        return values.reshape(self.levels[s].tokens.shape)

    def _fail_through(self, s: int, r: int) -> FloatArray:
        """P(a level-s node and its drawn descendants down to r levels below all fail)."""
        lv = self.levels[s]
        if r < 0:
            return np.ones_like(lv.fail)
        if r == 0 or s + 1 >= len(self.levels):
            return lv.fail
        ch = self.levels[s + 1]
        st = draw_stats(self.fail_through(s + 1, r - 1), ch.tokens, ch.count, self.nfr, replacement=self.replacement)
        return lv.fail * self._below(s, st.fail[:, self.nfr])

    def _cost_at(self, s: int, r: int) -> FloatArray:
        """E[tokens of drawn descendants r levels below a level-s node, times all above failing]."""
        lv = self.levels[s]
        if r == 0:
            return lv.tokens
        if s + 1 >= len(self.levels):
            return np.zeros_like(lv.tokens)
        ch = self.levels[s + 1]
        cost = self.cost_at(s + 1, r - 1)
        if r == 1:  # the children themselves: all drawn ones are paid
            paid = draw_all_cost(cost, ch.count, self.nfr, replacement=self.replacement)
        else:
            g = self.fail_through(s + 1, r - 2)
            paid = draw_stats(g, cost, ch.count, self.nfr, replacement=self.replacement).batch_cost
        return lv.fail * self._below(s, paid[:, self.nfr])

    def batch(self, np_: int, depth: int) -> tuple[float, float]:
        top = self.levels[0]
        fail = draw_stats(self.fail_through(0, depth), top.tokens, top.count, np_, replacement=self.replacement)
        tokens = draw_all_cost(top.tokens, top.count, np_, replacement=self.replacement)[:, np_]
        for level in range(1, depth + 1):
            st = draw_stats(
                self.fail_through(0, level - 1),
                self.cost_at(0, level),
                top.count,
                np_,
                replacement=self.replacement,
            )
            tokens = tokens + st.batch_cost[:, np_]
        return float(1.0 - fail.fail[:, np_].mean()), float(tokens.mean())

    def _dfs_unit(self, s: int, depth: int) -> tuple[FloatArray, FloatArray]:
        """(P(node fails after its dfs), E[tokens of the node and its dfs below])."""
        lv = self.levels[s]
        if s >= depth or s + 1 >= len(self.levels):
            return lv.fail, lv.tokens
        g, cost = self._dfs_unit(s + 1, depth)
        ch = self.levels[s + 1]
        st = draw_stats(g, cost, ch.count, self.nfr, replacement=self.replacement)
        fail = lv.fail * self._below(s, st.fail[:, self.nfr])
        return fail, lv.tokens + lv.fail * self._below(s, st.seq_cost[:, self.nfr])

    def dfs(self, np_: int, depth: int) -> tuple[float, float]:
        g, cost = self._dfs_unit(0, depth)
        top = self.levels[0]
        st = draw_stats(g, cost, top.count, np_, replacement=self.replacement)
        return float(1.0 - st.fail[:, np_].mean()), float(st.seq_cost[:, np_].mean())
