"""The paper's paired comparison of human and model feedback, with a bootstrap over programs.

Take the programs that have a person's feedback. For each (program, repair model) where
repairs were sampled both from the person's feedback and from the model's, count the
executed repairs and the passing ones on each side. The pass rate of a side is its
passing repairs over its executed repairs, pooled over the pairs; the difference is
human minus model. Its confidence interval resamples programs (with replacement, all
of a program's pairs together), so programs with many repairs do not count as many
independent observations. Pure numpy, seeded: the same rows give the same interval.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Side:
    """One side of the comparison: its programs, executed repairs and passing ones."""

    programs: int
    repairs: int
    passed: int

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.repairs if self.repairs else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pass_rate": self.pass_rate}


@dataclass(frozen=True)
class PairedComparison:
    """Human versus model feedback on the same programs (and repair models)."""

    human: Side
    model: Side
    estimate: float | None  # human pass rate minus model pass rate
    ci: tuple[float, float] | None  # bootstrap percentile interval over programs
    confidence: float = CONFIDENCE
    samples: int = BOOTSTRAP_SAMPLES

    def to_dict(self) -> dict[str, Any]:
        return {"human": self.human.to_dict(), "model": self.model.to_dict(),
                "difference": {"estimate": self.estimate,
                               "ci": None if self.ci is None else list(self.ci),
                               "confidence": self.confidence, "samples": self.samples}}


def paired_comparison(
    rows: Iterable[tuple[Any, str, str, int, int]], *, samples: int = BOOTSTRAP_SAMPLES,
    confidence: float = CONFIDENCE, seed: int = 0,
) -> PairedComparison:
    """The comparison from (program, repair model, origin, executed, passed) rows, where
    origin is ``human`` or ``model`` (other origins are ignored). Only (program, repair
    model) pairs with executed repairs on both sides count."""
    cells: dict[tuple[Any, str], dict[str, list[int]]] = defaultdict(
        lambda: {"human": [0, 0], "model": [0, 0]})
    for program, repair_model, origin, executed, passed in rows:
        if origin in ("human", "model"):
            cell = cells[(program, repair_model)][origin]
            cell[0] += int(executed)
            cell[1] += int(passed)
    paired = {k: v for k, v in cells.items() if v["human"][0] and v["model"][0]}
    by_program: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (program, _), sides in paired.items():
        acc = by_program[program]
        acc[0] += sides["human"][0]
        acc[1] += sides["human"][1]
        acc[2] += sides["model"][0]
        acc[3] += sides["model"][1]
    table = np.array(list(by_program.values()), dtype=float).reshape(-1, 4)
    n = len(table)
    h_rep, h_ok, m_rep, m_ok = (int(x) for x in table.sum(axis=0)) if n else (0, 0, 0, 0)
    human, model = Side(n, h_rep, h_ok), Side(n, m_rep, m_ok)
    if not n:
        return PairedComparison(human, model, None, None, confidence, samples)
    estimate = h_ok / h_rep - m_ok / m_rep
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(samples, n))
    sums = table[picks].sum(axis=1)  # (samples, 4)
    diffs = sums[:, 1] / sums[:, 0] - sums[:, 3] / sums[:, 2]
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(diffs, [tail, 1 - tail])
    return PairedComparison(human, model, float(estimate), (float(lo), float(hi)),
                            confidence, samples)


def by_repair_model(
    rows: Iterable[tuple[Any, str, str, int, int]], **kwargs: Any
) -> dict[str, PairedComparison]:
    """``paired_comparison`` for each repair model on its own."""
    grouped: dict[str, list[tuple[Any, str, str, int, int]]] = defaultdict(list)
    for row in rows:
        grouped[row[1]].append(row)
    return {model: paired_comparison(group, **kwargs) for model, group in sorted(grouped.items())}
