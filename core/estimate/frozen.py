"""A frozen sample of repair trees, as the estimator reads it: per task, its first
programs, each with its repairs. Plain data without numpy, so that the store (which
builds these from its rows) can be imported without loading the estimator's arrays.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """One sampled program in a frozen tree.

    For a first program, ``tokens`` counts the program's tokens. For a repair,
    ``tokens`` counts its feedback and its program (as the paper's data does).
    ``repairs`` holds this program's repair samples when it failed (a deeper level
    for a repair).
    """

    tokens: float
    passed: bool
    repairs: tuple[Sample, ...] = ()


@dataclass(frozen=True)
class FrozenTask:
    """One task's frozen sample: N first programs, each with its repairs."""

    task_id: str
    programs: tuple[Sample, ...]
    difficulty: str | None = None
