"""Brute-force references for the estimator tests: enumerate every draw and ordering.

The other test_metrics* modules import these helpers and strategies; the tests here
check the enumerator itself on cases worked out by hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import strategies as st
from repair_tui.core.estimate.exact import FrozenTask, Sample


def _draws(n: int, k: int, replacement: bool) -> list[tuple[int, ...]]:
    """Every equally likely ordered draw of k of n items (all n when k > n, no replacement)."""
    if n == 0:
        return [()]
    if replacement:
        return list(itertools.product(range(n), repeat=k))
    return list(itertools.permutations(range(n), min(k, n)))


def _outcomes(
    node: Sample, nfr: int, replacement: bool
) -> Iterator[tuple[tuple[Sample, ...], float]]:
    """Every ordered repair draw of one drawn program, with its probability."""
    options = _draws(len(node.repairs), nfr, replacement)
    for pick in options:
        yield tuple(node.repairs[i] for i in pick), 1.0 / len(options)


def _run(mode: str, progs: Sequence[Sample], repairs: Sequence[tuple[Sample, ...]]) -> tuple[bool, float]:
    tokens = 0.0
    if mode == "batch":
        tokens = sum(p.tokens for p in progs)
        if any(p.passed for p in progs):
            return True, tokens
        drawn = [r for rs in repairs for r in rs]
        return any(r.passed for r in drawn), tokens + sum(r.tokens for r in drawn)
    if mode == "dfs":
        for p, rs in zip(progs, repairs, strict=True):
            tokens += p.tokens
            if p.passed:
                return True, tokens
            for r in rs:
                tokens += r.tokens
                if r.passed:
                    return True, tokens
        return False, tokens
    for p in progs:  # bfs
        tokens += p.tokens
        if p.passed:
            return True, tokens
    for rs in repairs:
        for r in rs:
            tokens += r.tokens
            if r.passed:
                return True, tokens
    return False, tokens


def brute_task(
    task: FrozenTask, np_: int, nfr: int, mode: str = "batch", replacement: bool = False
) -> tuple[float, float]:
    """Expected (pass, tokens) of one task by enumerating every draw and order."""
    seqs = _draws(len(task.programs), np_, replacement)
    total_p = total_t = 0.0
    for seq in seqs:
        progs = [task.programs[i] for i in seq]
        per_prog = [list(_outcomes(p, nfr if not p.passed else 0, replacement)) for p in progs]
        for combo in itertools.product(*per_prog):
            weight = 1.0
            for _, w in combo:
                weight *= w
            ok, tok = _run(mode, progs, [rs for rs, _ in combo])
            total_p += weight * ok
            total_t += weight * tok
    return total_p / len(seqs), total_t / len(seqs)


Forest = list[tuple[Sample, "Forest"]]


def _forests(nodes: Sequence[Sample], nfr: int, depth: int, replacement: bool) -> Iterator[tuple[Forest, float]]:
    """Every drawn subtree below an ordered list of drawn nodes, with its probability."""
    if not nodes:
        yield [], 1.0
        return
    head, rest = nodes[0], nodes[1:]
    for sub, p_sub in _node_draws(head, nfr, depth, replacement):
        for tail, p_tail in _forests(rest, nfr, depth, replacement):
            yield [(head, sub), *tail], p_sub * p_tail


def _node_draws(node: Sample, nfr: int, depth: int, replacement: bool) -> Iterator[tuple[Forest, float]]:
    if node.passed or depth == 0:
        yield [], 1.0
        return
    options = _draws(len(node.repairs), nfr, replacement)
    for pick in options:
        children = [node.repairs[i] for i in pick]
        for forest, p in _forests(children, nfr, depth - 1, replacement):
            yield forest, p / len(options)


def _visit_batch(forest: Forest) -> tuple[bool, float]:
    tokens = 0.0
    while forest:
        tokens += sum(n.tokens for n, _ in forest)
        if any(n.passed for n, _ in forest):
            return True, tokens
        forest = [child for _, sub in forest for child in sub]
    return False, tokens


def _visit_dfs(forest: Forest) -> tuple[bool, float]:
    tokens = 0.0
    for node, sub in forest:
        tokens += node.tokens
        if node.passed:
            return True, tokens
        ok, t = _visit_dfs(sub)
        tokens += t
        if ok:
            return True, tokens
    return False, tokens


def brute_levels(
    task: FrozenTask, np_: int, nfr: int, depth: int, mode: str = "batch", replacement: bool = False
) -> tuple[float, float]:
    """Expected (pass, tokens) using repair levels 1..depth, by full enumeration."""
    seqs = _draws(len(task.programs), np_, replacement)
    total_p = total_t = 0.0
    visit = _visit_batch if mode == "batch" else _visit_dfs
    for seq in seqs:
        for forest, p in _forests([task.programs[i] for i in seq], nfr, depth, replacement):
            ok, tok = visit(forest)
            total_p += p * ok
            total_t += p * tok
    return total_p / len(seqs), total_t / len(seqs)


# ---------------------------------------------------------------- strategies

tokens = st.integers(min_value=1, max_value=30)


@st.composite
def nodes(draw: st.DrawFn, depth: int = 1, max_repairs: int = 3) -> Sample:
    """A program (or repair) that passes, or fails with up to max_repairs repairs below."""
    if draw(st.booleans()) and draw(st.booleans()):
        return Sample(draw(tokens), True)
    repairs: tuple[Sample, ...] = ()
    if depth > 0:
        repairs = tuple(draw(st.lists(nodes(depth - 1, max_repairs), max_size=max_repairs)))
    return Sample(draw(tokens), False, repairs)


@st.composite
def frozen_tasks(draw: st.DrawFn, max_programs: int = 4, depth: int = 1, max_repairs: int = 3) -> FrozenTask:
    programs = draw(st.lists(nodes(depth, max_repairs), min_size=1, max_size=max_programs))
    return FrozenTask(f"t{draw(st.integers(0, 99))}", tuple(programs))


MODES = st.sampled_from(["batch", "dfs", "bfs"])


# ---------------------------------------------------------------- the enumerator itself

P, F = Sample(10, True), Sample(4, False)


def test_one_passing_and_one_failing_program() -> None:
    task = FrozenTask("t", (P, F))
    assert brute_task(task, 1, 0) == (0.5, 7.0)  # either program, half the time
    assert brute_task(task, 2, 0) == (1.0, 14.0)  # batch pays both
    # dfs: P first (stop, 10) or F then P (14): mean 12
    assert brute_task(task, 2, 0, "dfs") == (1.0, 12.0)


def test_repairs_are_paid_only_when_every_program_failed() -> None:
    fixed = Sample(4, False, (Sample(3, True), Sample(5, False)))
    task = FrozenTask("t", (fixed,))
    assert brute_task(task, 1, 1) == (0.5, 8.0)  # 4 + (3 or 5)
    assert brute_task(task, 1, 2, "batch") == (1.0, 12.0)  # 4 + 3 + 5
    # dfs with both repairs: the passing one first (4 + 3) or second (4 + 5 + 3)
    assert brute_task(task, 1, 2, "dfs") == (1.0, 9.5)


def test_with_replacement_draws_repeat() -> None:
    task = FrozenTask("t", (P, F))
    assert brute_task(task, 2, 0, replacement=True) == (pytest.approx(0.75), pytest.approx(14.0))


def test_levels_enumerator_matches_the_first_level_one() -> None:
    deep = Sample(4, False, (Sample(3, False, (Sample(2, True),)), Sample(5, False)))
    task = FrozenTask("t", (deep, P))
    for mode in ("batch", "dfs"):
        assert brute_levels(task, 2, 1, 1, mode) == pytest.approx(brute_task(task, 2, 1, mode))
    # batch, np = 1, nfr = 1, two levels: P (10) half the time; else 4 + (3 + 2 passes | 5 fails)
    assert brute_levels(task, 1, 1, 2) == pytest.approx((0.5 + 0.25, 0.5 * 10 + 0.25 * 9 + 0.25 * 9))
