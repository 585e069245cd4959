"""Seeded, vectorised Monte Carlo of the pass@t policies, with standard errors.

Every mode has an exact form in ``metrics``; this module simulates the same
definitions independently (draw np programs, then nfr repairs of each failing one,
and follow batch, dfs or bfs), so the exact forms can be checked against it and it
can serve variants that have no closed form. First repair level only. Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from repair_tui.core.estimate.exact import (
    FrozenTask,
    Level,
    Packed,
    check_policy,
    pack,
    repair_level,
)
from repair_tui.core.estimate.kernel import FloatArray, IntArray

# Elements per random array in one chunk of samples, to bound memory.
_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Simulated:
    """Monte Carlo means over ``samples`` draws of the whole task set, with standard errors."""

    np: int
    nfr: int
    mode: str
    replacement: bool
    samples: int
    pass_rate: float
    pass_rate_se: float  # standard error of pass_rate (std over samples / sqrt(samples))
    tokens: float
    tokens_se: float


def simulate(
    tasks: Sequence[FrozenTask] | Packed,
    np_: int,
    nfr: int,
    *,
    mode: str = "batch",
    replacement: bool = False,
    samples: int = 1000,
    seed: int = 0,
) -> Simulated:
    """Simulate policy (np_, nfr) ``samples`` times; each sample averages over all tasks."""
    check_policy(np_, nfr, mode)
    if samples < 2:
        raise ValueError("simulate needs at least 2 samples for a standard error")
    packed = pack(tasks, max_depth=1)
    if packed.n_tasks == 0:
        return Simulated(np_, nfr, mode, replacement, samples, 0.0, 0.0, 0.0, 0.0)
    rng = np.random.default_rng(seed)
    progs, reps = packed.levels[0], repair_level(packed)
    per_sample = packed.n_tasks * max(np_, 1) * max(reps.width, nfr, 1)
    chunk = max(1, _CHUNK_ELEMENTS // per_sample)
    passes: list[FloatArray] = []
    tokens: list[FloatArray] = []
    done = 0
    while done < samples:
        s = min(chunk, samples - done)
        solved, paid = _simulate_chunk(rng, progs, reps, s, np_, nfr, mode, replacement)
        passes.append(solved.mean(axis=1))
        tokens.append(paid.mean(axis=1))
        done += s
    p, t = np.concatenate(passes), np.concatenate(tokens)
    root = np.sqrt(samples)
    return Simulated(
        np=np_,
        nfr=nfr,
        mode=mode,
        replacement=replacement,
        samples=samples,
        pass_rate=float(p.mean()),
        pass_rate_se=float(p.std(ddof=1) / root),
        tokens=float(t.mean()),
        tokens_se=float(t.std(ddof=1) / root),
    )


def _draw(
    rng: np.random.Generator, shape: tuple[int, ...], count: IntArray, k: int, replacement: bool, width: int
) -> tuple[IntArray, FloatArray]:
    """Ordered draws of k columns out of ``count`` (broadcast to ``shape``), and validity.

    Without replacement a row with fewer than k units draws all it has.
    """
    if replacement:
        idx = (rng.random((*shape, k)) * np.maximum(count, 1)[..., None]).astype(np.int64)
        valid = np.broadcast_to((count > 0)[..., None], (*shape, k))
        return idx, valid.astype(np.float64)
    keys = rng.random((*shape, width))
    keys = np.where(np.arange(width) < count[..., None], keys, 2.0)  # padding sorts last
    kk = min(k, width)
    idx = np.argsort(keys, axis=-1)[..., :kk]
    valid = np.arange(kk) < np.minimum(count, k)[..., None]
    return idx, np.broadcast_to(valid, (*shape, kk)).astype(np.float64)


def _until_first_pass(tokens: FloatArray, passed: FloatArray) -> FloatArray:
    """Tokens paid along the last axis up to and including the first pass."""
    before = np.cumsum(passed, axis=-1) - passed  # passes strictly earlier
    paid: FloatArray = (tokens * (before == 0)).sum(axis=-1)
    return paid


def _simulate_chunk(
    rng: np.random.Generator,
    progs: Level,
    reps: Level,
    s: int,
    np_: int,
    nfr: int,
    mode: str,
    replacement: bool,
) -> tuple[FloatArray, FloatArray]:
    """(solved, tokens) of shape (s, tasks) for s independent samples."""
    rows, width = progs.tokens.shape
    task = np.arange(rows)[None, :, None]
    idx, pvalid = _draw(rng, (s, rows), np.broadcast_to(progs.count, (s, rows)), np_, replacement, width)
    ppass = (1.0 - progs.fail[task, idx]) * pvalid
    ptok = progs.tokens[task, idx] * pvalid
    slot = task * width + idx  # the drawn program's row among the repair rows
    rcount = reps.count[slot]
    ridx, rvalid = _draw(rng, slot.shape, rcount, nfr, replacement, reps.width)
    rpass = (1.0 - reps.fail[slot[..., None], ridx]) * rvalid
    rtok = reps.tokens[slot[..., None], ridx] * rvalid
    prog_ok = ppass.any(axis=-1)
    if mode == "batch":
        paid = ptok.sum(axis=-1) + np.where(prog_ok, 0.0, rtok.sum(axis=(-1, -2)))
        solved = prog_ok | rpass.any(axis=(-1, -2))
    elif mode == "dfs":
        unit_ok = (ppass + (1.0 - ppass) * rpass.any(axis=-1)) > 0
        unit_cost = ptok + (1.0 - ppass) * _until_first_pass(rtok, rpass)
        paid = _until_first_pass(unit_cost, unit_ok.astype(np.float64))
        solved = unit_ok.any(axis=-1)
    else:  # bfs: programs in order, then all their repairs in program order
        flat_tok = rtok.reshape(s, rows, -1)
        flat_pass = rpass.reshape(s, rows, -1)
        paid = _until_first_pass(ptok, ppass) + np.where(prog_ok, 0.0, _until_first_pass(flat_tok, flat_pass))
        solved = prog_ok | flat_pass.any(axis=-1)
    return solved.astype(np.float64), paid
