"""Deeper repair levels: exact batch and dfs through level L against enumeration."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from repair_tui.core.estimate.exact import FrozenTask, Sample, estimate
from repair_tui.core.estimate.levels import level_gains
from test_brute import brute_levels, frozen_tasks


@settings(max_examples=150, deadline=None)
@given(
    tasks=st.lists(frozen_tasks(max_programs=3, depth=2, max_repairs=2), min_size=1, max_size=2),
    np_=st.integers(1, 3),
    nfr=st.integers(1, 2),
    mode=st.sampled_from(["batch", "dfs"]),
    replacement=st.booleans(),
)
def test_levels_equal_enumeration(tasks: list[FrozenTask], np_: int, nfr: int, mode: str, replacement: bool) -> None:
    if replacement:
        np_ = min(np_, 2)
    rows = level_gains(tasks, np_, nfr, mode=mode, replacement=replacement)
    assert [r.level for r in rows] == list(range(len(rows)))
    for r in rows:
        want = [brute_levels(t, np_, nfr, r.level, mode, replacement) for t in tasks]
        assert r.pass_rate == pytest.approx(sum(p for p, _ in want) / len(tasks), abs=1e-9)
        assert r.tokens == pytest.approx(sum(t for _, t in want) / len(tasks), rel=1e-9, abs=1e-9)
    assert sum(r.added_pass_rate for r in rows) == pytest.approx(rows[-1].pass_rate)
    if len(rows) > 1:  # level 1 is the usual policy estimate
        one = estimate(tasks, np_, nfr, mode=mode, replacement=replacement)
        assert rows[1].pass_rate == pytest.approx(one.pass_rate)
        assert rows[1].tokens == pytest.approx(one.tokens)


def test_a_second_level_adds_what_it_solves() -> None:
    # One program fails; its only repair fails; that repair's only repair passes.
    deep = Sample(10, False, (Sample(6, False, (Sample(4, True),)),))
    rows = level_gains([FrozenTask("t", (deep,))], 1, 1)
    assert [(r.level, r.pass_rate, r.tokens) for r in rows] == [(0, 0.0, 10.0), (1, 0.0, 16.0), (2, 1.0, 20.0)]
    assert rows[2].added_pass_rate == 1.0 and rows[2].added_tokens == 4.0


def test_bfs_has_no_deeper_form() -> None:
    with pytest.raises(ValueError, match="batch and dfs"):
        level_gains([FrozenTask("t", (Sample(1, True),))], 1, 1, mode="bfs")
