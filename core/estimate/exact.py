"""pass@t estimation from frozen repair trees: exact per-task and averaged estimates.

A frozen set gives, per task, N first programs and, for each failing program, its
M feedback-repair samples. A policy (np, nfr) in a mode (batch, dfs, bfs) is judged
by its expected pass rate and expected tokens per task, averaged over tasks. All
modes are computed exactly here (no Monte Carlo); ``metrics_mc`` simulates the same
definitions as a cross-check, ``metrics_grid`` builds grids, confidence intervals
and the heat map. Definitions are in docs/estimate.md. Pure: no SQLite, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from repair_tui.core.estimate.frozen import FrozenTask, Sample
from repair_tui.core.estimate.kernel import (
    DrawStats,
    FloatArray,
    IntArray,
    binary_draw_stats,
    draw_all_cost,
    draw_stats,
)

MODES = ("batch", "dfs", "bfs")


@dataclass(frozen=True)
class Level:
    """One tree level as padded arrays: row r holds the children of slot r above.

    Level 0 has one row per task (its programs); level l+1 has one row per slot
    (rows x columns) of level l, in row-major order, holding that node's repairs.
    """

    tokens: FloatArray  # (rows, cols)
    fail: FloatArray  # (rows, cols): 1.0 for a failing node, 0.0 for passing or padding
    count: IntArray  # (rows,): real nodes in each row

    @property
    def width(self) -> int:
        return int(self.tokens.shape[1])


@dataclass(frozen=True)
class Packed:
    """A frozen set packed into arrays once, to estimate many policies quickly.

    Tasks without any program are left out (``task_ids`` lists those kept).
    """

    task_ids: tuple[str, ...]
    difficulties: tuple[str | None, ...]
    levels: tuple[Level, ...]

    @property
    def n_tasks(self) -> int:
        return len(self.task_ids)

    @property
    def max_programs(self) -> int:
        return self.levels[0].width if self.levels else 0

    @property
    def depth(self) -> int:
        """Repair levels present in the data (0: programs only)."""
        return sum(1 for lv in self.levels[1:] if lv.count.any())


@dataclass(frozen=True, eq=False)  # holds arrays, which have no single truth value
class Estimate:
    """Expected pass rate and tokens of one policy, averaged and per task."""

    np: int
    nfr: int
    mode: str
    replacement: bool
    pass_rate: float
    tokens: float
    task_pass: FloatArray  # (tasks,)
    task_tokens: FloatArray  # (tasks,)


@dataclass(frozen=True)
class LevelGain:
    """What repair level ``level`` adds to a policy (level 0: the programs alone)."""

    level: int
    pass_rate: float  # expected pass rate using levels 0..level
    tokens: float  # expected tokens using levels 0..level
    added_pass_rate: float  # gain over levels 0..level-1
    added_tokens: float


def pack(tasks: Sequence[FrozenTask] | Packed, max_depth: int | None = None) -> Packed:
    """Pack frozen tasks into padded arrays (levels below ``max_depth`` are dropped)."""
    if isinstance(tasks, Packed):
        return tasks
    kept = [t for t in tasks if t.programs]
    levels: list[Level] = []
    rows: list[tuple[Sample, ...]] = [t.programs for t in kept]
    while rows and any(rows) and (max_depth is None or len(levels) <= max_depth):
        levels.append(_pack_level(rows))
        rows = _next_rows(rows, levels[-1].width)
    return Packed(
        task_ids=tuple(t.task_id for t in kept),
        difficulties=tuple(t.difficulty for t in kept),
        levels=tuple(levels),
    )


def _pack_level(rows: list[tuple[Sample, ...]]) -> Level:
    count = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    width = int(count.max())
    flat = [s for row in rows for s in row]
    mask = np.arange(width)[None, :] < count[:, None]  # row-major, like ``flat``
    tokens = np.zeros((len(rows), width))
    fail = np.zeros((len(rows), width))
    tokens[mask] = np.fromiter((s.tokens for s in flat), dtype=np.float64, count=len(flat))
    fail[mask] = np.fromiter((not s.passed for s in flat), dtype=np.float64, count=len(flat))
    return Level(tokens, fail, count)


def _next_rows(rows: list[tuple[Sample, ...]], width: int) -> list[tuple[Sample, ...]]:
    """One row per slot of this level: a failing node's repairs; () for the rest."""
    below: list[tuple[Sample, ...]] = []
    pad: list[tuple[Sample, ...]] = [()] * width
    for row in rows:
        # A passing node's repairs are never drawn, so they are not packed.
        below.extend([() if s.passed else s.repairs for s in row])
        below.extend(pad[len(row):])
    return below


def check_policy(np_: int, nfr: int, mode: str) -> None:
    """Raise ValueError for an unknown mode, np < 1 or nfr < 0."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if np_ < 1 or nfr < 0:
        raise ValueError(f"np must be >= 1 and nfr >= 0 (got np={np_}, nfr={nfr})")


def repair_level(packed: Packed) -> Level:
    """The first repair level, or an empty one when no program has repairs."""
    if len(packed.levels) > 1:
        return packed.levels[1]
    slots = packed.levels[0].tokens.size
    # One padding column, so that indexing code needs no special case.
    return Level(np.zeros((slots, 1)), np.zeros((slots, 1)), np.zeros(slots, np.int64))


class _Stack:
    """Runs the kernel on (variants, tasks, programs) arrays as one batch of rows."""

    def __init__(self, progs: Level, variants: int, kmax: int, replacement: bool) -> None:
        self.rows, self.width = progs.tokens.shape
        self.variants, self.kmax, self.replacement = variants, kmax, replacement
        self.count = np.tile(progs.count, variants)

    def stats(
        self,
        g: FloatArray,
        d: FloatArray,
        count: IntArray | None = None,
        *,
        need_cost: bool = True,
        binary: bool = False,
    ) -> DrawStats:
        shape = (self.variants * self.rows, self.width)
        g2 = np.broadcast_to(g, (self.variants, self.rows, self.width)).reshape(shape)
        d2 = np.broadcast_to(d, (self.variants, self.rows, self.width)).reshape(shape)
        cnt = self.count if count is None else count
        if binary:
            return binary_draw_stats(g2, d2, cnt, self.kmax, replacement=self.replacement)
        return draw_stats(g2, d2, cnt, self.kmax, replacement=self.replacement, need_cost=need_cost)

    def at(self, values: FloatArray, nps: Sequence[int]) -> FloatArray:
        """Columns ``nps`` of a (variants * tasks, k) result, as (variants, len(nps), tasks)."""
        picked = values[:, np.asarray(nps)].reshape(-1, self.rows, len(nps))
        result: FloatArray = picked.transpose(0, 2, 1)
        return result


def task_grid(
    tasks: Sequence[FrozenTask] | Packed,
    nps: Sequence[int],
    nfrs: Sequence[int],
    *,
    mode: str = "batch",
    replacement: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """Per-task expected pass rate and tokens for every (nfr, np), first repair level.

    Returns two arrays of shape (len(nfrs), len(nps), tasks).
    """
    for n in nps:
        for f in nfrs:
            check_policy(n, f, mode)
    packed = pack(tasks, max_depth=1)
    if packed.n_tasks == 0 or not nps or not nfrs:
        shape = (len(nfrs), len(nps), packed.n_tasks)
        return np.zeros(shape), np.zeros(shape)
    progs, reps = packed.levels[0], repair_level(packed)
    rows, width = progs.tokens.shape
    nf = np.asarray(nfrs)

    def per_program(values: FloatArray) -> FloatArray:  # (slots, k) -> (nfrs, tasks, programs)
        return values[:, nf].T.reshape(len(nfrs), rows, width)

    # Repair level, once for every nfr: q = P(all drawn repairs fail), stop cost.
    rep = binary_draw_stats(reps.fail, reps.tokens, reps.count, max(nfrs), replacement=replacement)
    q, rep_seq = per_program(rep.fail), per_program(rep.seq_cost)
    fail, tok = progs.fail[None], progs.tokens[None]
    stack = _Stack(progs, len(nfrs), max(nps), replacement)
    if mode == "dfs":  # a unit is a program with its repairs; stop at the first success
        top = stack.stats(fail * q, tok + fail * rep_seq)
        return 1.0 - stack.at(top.fail, nps), stack.at(top.seq_cost, nps)
    one = _Stack(progs, 1, max(nps), replacement)
    alone = binary_draw_stats(progs.fail, progs.tokens, progs.count, max(nps), replacement=replacement)
    # The task is unsolved when every drawn program fails (closed form) and, given
    # that, every one of them (a uniform draw from the failing ones) fails its repairs.
    order = np.argsort(-progs.fail, axis=1, kind="stable")[None]
    n_fail = np.tile(progs.fail.sum(axis=1).astype(np.int64), len(nfrs))
    failing = stack.stats(
        np.take_along_axis(q, order, axis=2),
        np.take_along_axis(rep_seq, order, axis=2),
        count=n_fail,
        need_cost=mode == "bfs",
    )
    all_fail = one.at(alone.fail, nps)
    pass_ = 1.0 - all_fail * stack.at(failing.fail, nps)
    if mode == "bfs":  # programs up to the first pass, then their repairs in that order
        return pass_, one.at(alone.seq_cost, nps) + all_fail * stack.at(failing.seq_cost, nps)
    # batch: every drawn program is paid; their repairs are paid when all of them fail.
    paid = per_program(draw_all_cost(reps.tokens, reps.count, max(nfrs), replacement=replacement))
    repairs = stack.stats(fail, fail * paid, binary=True)
    first = draw_all_cost(progs.tokens, progs.count, max(nps), replacement=replacement)
    return pass_, one.at(first, nps) + stack.at(repairs.batch_cost, nps)


def baseline_tasks(
    tasks: Sequence[FrozenTask] | Packed,
    kmax: int | None = None,
    *,
    mode: str = "batch",
    replacement: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """Per-task pass rate and tokens of plain sampling, k = 1..kmax (default: max N).

    Returns arrays of shape (kmax, tasks). In dfs and bfs the programs are drawn one
    at a time and the search stops at the first pass, so fewer tokens are paid.
    Without replacement the pass rate is Chen et al.'s unbiased pass@k.
    """
    check_policy(1, 0, mode)
    packed = pack(tasks, max_depth=0)
    kmax = packed.max_programs if kmax is None else kmax
    if packed.n_tasks == 0 or kmax < 1:
        return np.zeros((max(kmax, 0), packed.n_tasks)), np.zeros((max(kmax, 0), packed.n_tasks))
    progs = packed.levels[0]
    st = binary_draw_stats(progs.fail, progs.tokens, progs.count, kmax, replacement=replacement)
    if mode == "batch":
        cost = draw_all_cost(progs.tokens, progs.count, kmax, replacement=replacement)
    else:
        cost = st.seq_cost
    return (1.0 - st.fail[:, 1:]).T, cost[:, 1:].T


def estimate(
    tasks: Sequence[FrozenTask] | Packed,
    np_: int,
    nfr: int,
    *,
    mode: str = "batch",
    replacement: bool = False,
) -> Estimate:
    """Exact expected pass rate and tokens of policy (np_, nfr), per task and averaged.

    ``nfr = 0`` is the baseline (plain sampling of np_ programs).
    """
    check_policy(np_, nfr, mode)
    if nfr == 0:
        p, t = baseline_tasks(tasks, np_, mode=mode, replacement=replacement)
        tp, tt = p[np_ - 1], t[np_ - 1]
    else:
        p3, t3 = task_grid(tasks, [np_], [nfr], mode=mode, replacement=replacement)
        tp, tt = p3[0, 0], t3[0, 0]
    return Estimate(
        np=np_,
        nfr=nfr,
        mode=mode,
        replacement=replacement,
        pass_rate=float(tp.mean()) if tp.size else 0.0,
        tokens=float(tt.mean()) if tt.size else 0.0,
        task_pass=tp,
        task_tokens=tt,
    )


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al.'s unbiased pass@k for n samples of which c pass (product form)."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
