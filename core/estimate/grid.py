"""pass@t grids: every (np, nfr) cell and the baseline curve, with bootstrap intervals
and the paper's normalised heat map.

One call computes what the ``estimate`` command prints and what the app's live
tallies show: exact per-task estimates (``metrics``), a bootstrap over tasks for
confidence intervals (one multinomial weight matrix, so all cells share the same
resamples), and each cell's pass rate divided by the baseline's pass rate at the
same expected tokens (linear interpolation on the baseline curve). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from repair_tui.core.estimate.exact import (
    FrozenTask,
    LevelGain,
    Packed,
    baseline_tasks,
    pack,
    task_grid,
)
from repair_tui.core.estimate.kernel import FloatArray
from repair_tui.core.estimate.levels import LEVEL_MODES, level_gains

DEFAULT_NP: tuple[int, ...] = (1, 2, 5, 10, 25)
DEFAULT_NFR: tuple[int, ...] = (1, 3, 5, 10)


def sampled_axes(tasks: Sequence[FrozenTask]) -> tuple[list[int], list[int]]:
    """The (np, nfr) values worth estimating for a frozen set: the paper's grid cut to
    what was sampled (more programs or repairs than the data holds would only repeat
    the largest), plus those largest values themselves."""
    most = max((len(t.programs) for t in tasks), default=1) or 1
    repairs = max((len(p.repairs) for t in tasks for p in t.programs), default=0)
    nfr = max(repairs, 1)
    nps = sorted({n for n in DEFAULT_NP if n <= most} | {most})
    nfrs = sorted({f for f in DEFAULT_NFR if f <= nfr} | {nfr})
    return nps, nfrs


@dataclass(frozen=True)
class Cell:
    """One policy's estimate. ``nfr == 0`` marks a baseline point (np plain samples)."""

    np: int
    nfr: int
    pass_rate: float
    tokens: float
    ci_low: float | None = None  # bootstrap interval of pass_rate
    ci_high: float | None = None
    tokens_ci_low: float | None = None
    tokens_ci_high: float | None = None
    ratio: float | None = None  # pass_rate / baseline pass rate at the same tokens
    ratio_ci_low: float | None = None
    ratio_ci_high: float | None = None
    out_of_bounds: bool = False  # tokens beyond the largest baseline budget

    def to_dict(self) -> dict[str, Any]:
        """A flat JSON-ready dict (None for values that do not apply)."""
        return asdict(self)


@dataclass(frozen=True)
class LevelRow:
    """Deeper-levels table row: policy (np, nfr) using repair levels 0..level."""

    np: int
    nfr: int
    level: int
    pass_rate: float
    tokens: float
    added_pass_rate: float
    added_tokens: float


@dataclass(frozen=True)
class Grid:
    """The result of :func:`grid`: cells (np-major order), the baseline curve, levels."""

    mode: str
    replacement: bool
    n_tasks: int
    nps: tuple[int, ...]
    nfrs: tuple[int, ...]
    cells: tuple[Cell, ...]
    baseline: tuple[Cell, ...]  # k = 1 .. max programs per task, nfr = 0
    bootstrap: int
    confidence: float
    seed: int
    depth: int  # repair levels present in the data
    levels_mode: str | None = None  # mode of the deeper-levels table (None: not computed)
    levels: tuple[LevelRow, ...] = field(default=())
    unit: str = "tokens"  # what the ``tokens`` fields count: "tokens" or "dollars"

    def cell(self, np_: int, nfr: int) -> Cell:
        """The cell of policy (np_, nfr); nfr = 0 for a baseline point."""
        for c in self.cells if nfr else self.baseline:
            if c.np == np_ and c.nfr == nfr:
                return c
        raise KeyError((np_, nfr))

    def rows(self) -> list[Cell]:
        """Every cell, then every baseline point (the rows of --json and --csv)."""
        return [*self.cells, *self.baseline]

    def heat_map(self) -> list[list[float | None]]:
        """Ratios indexed [np row][nfr column]; None where out of bounds or undefined."""
        return [[self.cell(n, f).ratio for f in self.nfrs] for n in self.nps]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: settings, ``rows`` and ``levels``."""
        return {
            "mode": self.mode,
            "replacement": self.replacement,
            "tasks": self.n_tasks,
            "np": list(self.nps),
            "nfr": list(self.nfrs),
            "bootstrap": self.bootstrap,
            "confidence": self.confidence,
            "seed": self.seed,
            "depth": self.depth,
            "unit": self.unit,
            "rows": [c.to_dict() for c in self.rows()],
            "levels_mode": self.levels_mode,
            "levels": [asdict(r) for r in self.levels],
        }


def grid(
    tasks: Sequence[FrozenTask] | Packed,
    nps: Sequence[int] = DEFAULT_NP,
    nfrs: Sequence[int] = DEFAULT_NFR,
    *,
    mode: str = "batch",
    replacement: bool = False,
    bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    levels: bool = True,
    unit: str = "tokens",
) -> Grid:
    """Estimate every (np, nfr) policy and the baseline k = 1..N on a frozen set.

    ``bootstrap`` resamples of the tasks give the intervals (0: none). With
    ``levels`` and trees deeper than one repair level, also the deeper-levels table
    (batch or dfs; bfs falls back to batch for that table). ``unit`` names what the
    samples' ``tokens`` count (e.g. "dollars" for tasks from a cost function).
    """
    if not nps or not nfrs or min(nps) < 1 or min(nfrs) < 1:
        raise ValueError("grid needs non-empty np and nfr lists of positive integers")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    packed = pack(tasks)
    nps, nfrs = tuple(nps), tuple(nfrs)
    cell_p, cell_t = task_grid(packed, nps, nfrs, mode=mode, replacement=replacement)
    # (nfr, np, task) -> (cells in np-major order, task)
    cell_p = cell_p.transpose(1, 0, 2).reshape(len(nps) * len(nfrs), -1)
    cell_t = cell_t.transpose(1, 0, 2).reshape(len(nps) * len(nfrs), -1)
    base_p, base_t = baseline_tasks(packed, max(packed.max_programs, 1), mode=mode, replacement=replacement)
    cells, baseline = _summarise(cell_p, cell_t, base_p, base_t, bootstrap, seed, confidence)
    pairs = [(n, f) for n in nps for f in nfrs]
    levels_mode = (mode if mode in LEVEL_MODES else "batch") if levels and packed.depth > 1 else None
    return Grid(
        mode=mode,
        replacement=replacement,
        n_tasks=packed.n_tasks,
        nps=nps,
        nfrs=nfrs,
        cells=tuple(Cell(n, f, **c) for (n, f), c in zip(pairs, cells, strict=True)),
        baseline=tuple(Cell(k + 1, 0, **c) for k, c in enumerate(baseline)),
        bootstrap=bootstrap,
        confidence=confidence,
        seed=seed,
        depth=packed.depth,
        levels_mode=levels_mode,
        levels=_levels(packed, pairs, levels_mode, replacement) if levels_mode else (),
        unit=unit,
    )


def _levels(packed: Packed, pairs: list[tuple[int, int]], mode: str, replacement: bool) -> tuple[LevelRow, ...]:
    out: list[LevelRow] = []
    for n, f in pairs:
        gains: tuple[LevelGain, ...] = level_gains(packed, n, f, mode=mode, replacement=replacement)
        out.extend(LevelRow(n, f, g.level, g.pass_rate, g.tokens, g.added_pass_rate, g.added_tokens) for g in gains)
    return tuple(out)


def _summarise(
    cell_p: FloatArray,
    cell_t: FloatArray,
    base_p: FloatArray,
    base_t: FloatArray,
    bootstrap: int,
    seed: int,
    confidence: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Point estimates, bootstrap intervals and heat-map ratios, as Cell keyword dicts."""
    if cell_p.shape[1] == 0:  # no task has a program yet (a run that just started)
        empty = {"pass_rate": 0.0, "tokens": 0.0}
        return [dict(empty) for _ in range(cell_p.shape[0])], [dict(empty) for _ in range(base_p.shape[0])]
    cp, ct, bp, bt = (v.mean(axis=1)[None, :] for v in (cell_p, cell_t, base_p, base_t))
    point = _ratios(cp, ct, bp, bt)[0]
    largest_budget = float(bt.max())
    cells: list[dict[str, Any]] = [
        {
            "pass_rate": float(cp[0, i]),
            "tokens": float(ct[0, i]),
            "ratio": None if np.isnan(point[i]) else float(point[i]),
            "out_of_bounds": bool(ct[0, i] > largest_budget),
        }
        for i in range(cp.shape[1])
    ]
    baseline: list[dict[str, Any]] = [
        {"pass_rate": float(bp[0, k]), "tokens": float(bt[0, k])} for k in range(bp.shape[1])
    ]
    if bootstrap > 0:
        _add_intervals(cells, baseline, (cell_p, cell_t, base_p, base_t), bootstrap, seed, confidence)
    return cells, baseline


def _add_intervals(
    cells: list[dict[str, Any]],
    baseline: list[dict[str, Any]],
    per_task: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    bootstrap: int,
    seed: int,
    confidence: float,
) -> None:
    """Percentile intervals from ``bootstrap`` resamples of the tasks, in place."""
    n_tasks = per_task[0].shape[1]
    rng = np.random.default_rng(seed)
    # Row b counts how often each task appears in resample b, so all the resampled
    # means are one matrix product.
    picks = rng.integers(0, n_tasks, size=(bootstrap, n_tasks))
    picks += n_tasks * np.arange(bootstrap)[:, None]
    counts = np.bincount(picks.ravel(), minlength=bootstrap * n_tasks).reshape(bootstrap, n_tasks)
    means = (counts / n_tasks) @ np.concatenate(per_task, axis=0).T
    sizes = np.cumsum([v.shape[0] for v in per_task])[:-1]
    cp, ct, bp, bt = np.split(means, sizes, axis=1)
    lo_q, hi_q = 50.0 * (1.0 - confidence), 50.0 * (1.0 + confidence)
    lo, hi = _quantiles(means, (lo_q, hi_q))
    lo_c, lo_t, lo_bp, lo_bt = np.split(lo, sizes)
    hi_c, hi_t, hi_bp, hi_bt = np.split(hi, sizes)
    ratios = _ratios(cp, ct, bp, bt)
    # Resamples where a cell falls outside the baseline curve are dropped; if most
    # do, its ratio interval is not reported.
    finite = np.isfinite(ratios)
    r_lo, r_hi = _quantiles(ratios, (lo_q, hi_q))
    for i, c in enumerate(cells):
        c.update(ci_low=float(lo_c[i]), ci_high=float(hi_c[i]))
        c.update(tokens_ci_low=float(lo_t[i]), tokens_ci_high=float(hi_t[i]))
        if c["ratio"] is not None and finite[:, i].mean() >= 0.5:
            c.update(ratio_ci_low=float(r_lo[i]), ratio_ci_high=float(r_hi[i]))
    for k, b in enumerate(baseline):
        b.update(ci_low=float(lo_bp[k]), ci_high=float(hi_bp[k]))
        b.update(tokens_ci_low=float(lo_bt[k]), tokens_ci_high=float(hi_bt[k]))


def _quantiles(values: FloatArray, qs: Sequence[float]) -> FloatArray:
    """Column percentiles ignoring NaN (numpy's default linear rule), one sort for all.

    Returns (len(qs), columns); NaN for a column with no finite value.
    """
    ordered = np.sort(values, axis=0)  # NaN sorts last
    last = np.maximum(np.isfinite(values).sum(axis=0) - 1, 0)
    out = np.empty((len(qs), values.shape[1]))
    for j, q in enumerate(qs):
        pos = q / 100.0 * last
        below = np.floor(pos).astype(np.int64)
        above = np.minimum(below + 1, last)
        a = np.take_along_axis(ordered, below[None], axis=0)[0]
        b = np.take_along_axis(ordered, above[None], axis=0)[0]
        out[j] = a + (pos - below) * (b - a)
    return out


def _ratios(cp: FloatArray, ct: FloatArray, bp: FloatArray, bt: FloatArray) -> FloatArray:
    """Row-wise pass rate / interpolated baseline pass rate at equal tokens.

    Each row is one resample: ``cp``, ``ct`` (rows, cells); ``bp``, ``bt``
    (rows, k). The baseline curve starts at (0 tokens, 0 pass rate). NaN where the
    cell's tokens exceed the largest baseline budget or the baseline is 0 there.
    """
    rows = cp.shape[0]
    xp = np.concatenate([np.zeros((rows, 1)), np.maximum.accumulate(bt, axis=1)], axis=1)
    fp = np.concatenate([np.zeros((rows, 1)), bp], axis=1)
    right = np.clip((xp[:, None, :] < ct[:, :, None]).sum(axis=2), 1, xp.shape[1] - 1)
    x0 = np.take_along_axis(xp, right - 1, axis=1)
    x1 = np.take_along_axis(xp, right, axis=1)
    f0 = np.take_along_axis(fp, right - 1, axis=1)
    f1 = np.take_along_axis(fp, right, axis=1)
    span = x1 - x0
    w = np.divide(ct - x0, span, out=np.ones_like(span), where=span > 0)
    base = f0 + np.clip(w, 0.0, 1.0) * (f1 - f0)
    ok = (ct <= xp[:, -1:]) & (base > 0)
    ratio: FloatArray = np.full_like(cp, np.nan)
    np.divide(cp, base, out=ratio, where=ok)
    return ratio
