"""Planted bugs, cosmetic variation, and finding and fixing a program's first difference."""

from __future__ import annotations

import ast
import random
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from repair_tui.core.datasets.load import load_dataset
from repair_tui.core.datasets.task import Task
from repair_tui.core.sim.diff import find_bug
from repair_tui.core.sim.feedback import accurate, identifies, mentioned_lines, misleading
from repair_tui.core.sim.mutate import KIND_WEIGHTS, mutate, mutation_sites, restyle, valid_mutant
from repair_tui.core.sim.source import dump, parse, syntax_error


@cache
def humaneval() -> tuple[Task, ...]:
    return tuple(load_dataset("humaneval"))


def same_program(a: str, b: str) -> bool:
    ta, tb = parse(a), parse(b)
    return ta is not None and tb is not None and dump(ta) == dump(tb)


def check_every_site(reference: str) -> int:
    """Each site yields a real mutant whose bug is found and whose fix restores it."""
    count = 0
    for i, site in enumerate(mutation_sites(reference)):
        mutant = valid_mutant(reference, site)
        if mutant is None:
            continue
        count += 1
        if site.kind == "syntax":
            assert syntax_error(mutant) is not None
        else:
            assert not same_program(mutant, reference)
        shown = restyle(mutant, random.Random(i)) if i % 2 else mutant
        bug = find_bug(shown, [reference])
        assert bug is not None, (site, shown)
        if shown is mutant:
            assert site.line in bug.lines or site.kind == "drop", (site, bug)
        assert find_bug(bug.fix.apply(shown), [reference]) is None, (site, bug, shown)
    return count


@pytest.mark.parametrize("index", range(0, 164, 16))
def test_bugs_in_humaneval_references_are_found_and_fixed(index: int) -> None:
    assert check_every_site(humaneval()[index].references[0]) > 0


@pytest.mark.slow
def test_bugs_in_every_humaneval_and_apps_sample_reference() -> None:
    tasks = [*humaneval(), *load_dataset("apps-sample")]
    assert sum(check_every_site(t.references[0]) for t in tasks) > 2000


def test_every_kind_of_bug_is_planted() -> None:
    kinds = {s.kind for t in humaneval()[:40] for s in mutation_sites(t.references[0])}
    assert kinds == set(KIND_WEIGHTS)


def test_mutate_respects_min_line_and_only_line() -> None:
    ref = humaneval()[0].references[0]
    rng = random.Random(0)
    for _ in range(20):
        result = mutate(ref, rng, min_line=12)
        assert result is not None and result[1].line >= 12
    result = mutate(ref, rng, only_line=16)
    assert result is not None and result[1].line == 16
    assert mutate(ref, rng, min_line=999) is None
    assert mutate("def f(:\n", rng) is None


def test_while_loop_counters_are_never_touched() -> None:
    code = "i = 0\ntotal = 0\nwhile i < 10 and total >= 0:\n    total += i\n    i += 1\nprint(total)\n"
    for site in mutation_sites(code):
        mutant = site.apply(code)
        assert "i += 1" in mutant, site  # dropping or changing it would loop forever
        assert "while i < 10 and" in mutant or "while i <= 10 and" in mutant, site


def test_what_decides_whether_a_loop_ends_is_never_touched() -> None:
    """HumanEval/32's bisection: `begin, end = -1., 1.` as `1., 1.` never ends, nor does
    a wrong midpoint or a dropped `if` that moves one end; nothing there is changed."""
    code = next(t for t in humaneval() if t.id == "HumanEval/32").references[0]
    lines = code.splitlines()
    loop = [i + 1 for i, line in enumerate(lines) if "begin" in line or "end" in line.split("#")[0]]
    assert "begin, end = -1., 1." in lines[loop[0] - 1]
    for site in mutation_sites(code):
        if site.kind != "syntax":
            assert site.line not in loop, (site, lines[site.line - 1])


def test_a_counter_set_in_an_if_that_a_loop_waits_for_is_never_touched() -> None:
    code = ("def f(n):\n    i = 0\n    while True:\n        i += 1\n        if i % 3 == 0:\n"
            "            n -= 1\n        if n == 0:\n            return i * 2\n")
    sites = [s for s in mutation_sites(code) if s.kind != "syntax"]
    assert sites  # `return i * 2` can still be wrong
    for site in sites:
        mutant = site.apply(code)
        assert "n -= 1" in mutant and "if i % 3 == 0:" in mutant and "i += 1" in mutant, site


def test_restyle_changes_text_but_not_the_program() -> None:
    for t in humaneval()[:30]:
        ref = t.references[0]
        styled = restyle(ref, random.Random(t.id))
        assert styled != ref
        assert same_program(styled, ref)


def test_a_reference_has_no_bug_and_extra_references_are_used() -> None:
    ref = "def f(x):\n    return x + 1\n"
    other = "def f(x):\n    y = x\n    return y + 1\n"
    assert find_bug(ref, [ref]) is None
    assert find_bug("# a comment\n" + ref, [ref]) is None
    assert find_bug(other, [ref, other]) is None
    assert find_bug(ref, []) is None


def test_bug_kinds_and_fixes() -> None:
    ref = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n"
    missing = find_bug("def f(xs):\n    total = 0\n    for x in xs:\n        pass\n    return total\n", [ref])
    assert missing is not None and missing.kind in ("changed", "missing")
    dropped = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n"
    bug = find_bug(dropped, [ref])
    assert bug is not None and bug.kind == "missing" and bug.fixed == "return total"
    assert same_program(bug.fix.apply(dropped), ref)
    extra = ref.replace("    return total", "    total = -total\n    return total")
    bug = find_bug(extra, [ref])
    assert bug is not None and bug.kind == "extra" and bug.line == 5
    assert same_program(bug.fix.apply(extra), ref)
    broken = ref.replace("for x in xs:", "for x in xs")
    bug = find_bug(broken, [ref])
    assert bug is not None and bug.kind == "syntax" and bug.line == 3
    assert same_program(bug.fix.apply(broken), ref)
    assert find_bug("", [ref]) is not None


def test_a_truncated_program_is_fixed_by_the_whole_reference() -> None:
    ref = humaneval()[3].references[0]
    cut = ref[: len(ref) // 2] + "\n    if (\n"
    bug = find_bug(cut, [ref])
    assert bug is not None and bug.kind == "syntax"
    assert same_program(bug.fix.apply(cut), ref)


def test_identification_rule() -> None:
    ref = "def f(xs):\n    n = len(xs)\n    return [xs[i] for i in range(n - 1)]\n"
    buggy = ref.replace("range(n - 1)", "range(n - 2)")
    bug = find_bug(buggy, [ref])
    assert bug is not None and bug.line == 3 and bug.detail == "bound"
    assert identifies("The problem is on line 3.", bug)
    assert identifies("Lines 2-4 are wrong", bug)
    assert identifies("it calls range(n-2)", bug)  # quotes the buggy code, spaces aside
    assert identifies("use range(n - 1) instead", bug)  # names the fix
    assert not identifies("Line 2 reads the length wrongly.", bug)
    assert not identifies("The function is wrong.", bug)


def test_mentioned_lines() -> None:
    assert mentioned_lines("line 3 and Line 7; lines 10-12, lines 4 and 5") == [3, 7, 10, 11, 12, 4, 5]
    assert mentioned_lines("no numbers here, 12 apples") == []


@settings(max_examples=40, deadline=None)
@given(index=st.integers(0, 163), seed=st.integers(0, 2**32))
def test_explanations_identify_exactly_when_accurate(index: int, seed: int) -> None:
    task = humaneval()[index]
    ref = task.references[0]
    rng = random.Random(seed)
    planted = mutate(ref, rng)
    if planted is None:
        return
    bug = find_bug(planted[0], [ref])
    assert bug is not None
    good = accurate(bug, "AssertionError", rng)
    assert identifies(good, bug)
    assert "```" not in good
    bad = misleading(bug, planted[0], rng)
    assert not identifies(bad, bug)


def test_a_dropped_statement_inside_a_one_line_body_is_not_offered() -> None:
    code = "def f(x):\n    if x: return 1\n    return 2\n"
    for site in mutation_sites(code):
        mutant = valid_mutant(code, site)
        if mutant is not None and site.kind != "syntax":
            ast.parse(mutant)
