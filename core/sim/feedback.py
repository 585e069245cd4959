"""What the simulated model says about a bug, and whether an explanation identifies it.

The identification rule (documented in docs/models.md): an explanation *identifies* a
bug when it does at least one of

1. names one of the bug's line numbers ("line 7", "lines 6-8", "lines 6 and 7");
2. quotes the buggy code: the differing fragment or the whole buggy line, compared
   with all whitespace removed (fragments shorter than 3 characters do not count);
3. names the fix: the corrected fragment, compared the same way.

An accurate explanation from the simulated model always does all three; a wrong one
points at another line with a plausible but false cause and is checked not to match.
"""

from __future__ import annotations

import ast
import random
import re

from repair_tui.core.sim.diff import Bug
from repair_tui.core.sim.source import Source, is_docstring, parse, squash

_LINES = re.compile(r"\blines?\s*(\d+)((?:\s*(?:-|–|to|and|,|&)\s*\d+)*)", re.IGNORECASE)


def mentioned_lines(text: str) -> list[int]:
    """Line numbers an explanation names, in order ("lines 3-5" gives 3, 4, 5)."""
    out: list[int] = []
    for m in _LINES.finditer(text):
        first = int(m.group(1))
        nums = [first] + [int(x) for x in re.findall(r"\d+", m.group(2) or "")]
        ranged = re.search(r"-|–|to", m.group(2) or "")
        if ranged and len(nums) == 2 and 0 <= nums[1] - nums[0] <= 50:
            nums = list(range(nums[0], nums[1] + 1))
        out.extend(n for n in nums if n not in out)
    return out


def identifies(explanation: str, bug: Bug) -> bool:
    """True if the explanation names the bug's line, quotes its code or names its fix."""
    if any(n in bug.lines for n in mentioned_lines(explanation)):
        return True
    text = squash(explanation)
    return any(fragment in text for fragment in bug.fragments())


_ACCURATE: dict[str, tuple[str, ...]] = {
    "comparison": (
        "The condition on line {line} is the wrong way round: `{buggy}` should be `{fixed}`, "
        "so the branch is taken in exactly the wrong cases.",
        "On line {line} the comparison `{buggy}` is inverted; it should read `{fixed}`.",
    ),
    "bound": (
        "There is an off-by-one error on line {line}: `{buggy}` should be `{fixed}`.",
        "Line {line} gets a boundary wrong. `{buggy}` includes or skips one element too "
        "many; use `{fixed}` instead.",
    ),
    "operator": (
        "Line {line} uses the wrong operator: `{buggy}` should be `{fixed}`.",
        "The expression `{buggy}` on line {line} combines its operands the wrong way; it "
        "should be `{fixed}`.",
    ),
    "constant": (
        "The constant in `{buggy}` on line {line} is wrong; it should be `{fixed}`.",
        "Line {line} uses the wrong number: `{buggy}` should be `{fixed}`.",
    ),
    "return": (
        "Line {line} returns the wrong value: it returns `{buggy}` where it should return "
        "`{fixed}`.",
        "The return value on line {line} is wrong; `{buggy}` should be `{fixed}`.",
    ),
    "missing": (
        "The code forgets a step near line {line}: the statement `{fixed}` is missing, so "
        "the result is never updated correctly.",
        "A statement is missing around line {line}: the program needs `{fixed}` there.",
    ),
    "extra": (
        "Line {line} (`{buggy}`) should not be there: it changes the result and must be "
        "removed.",
        "The statement `{buggy}` on line {line} is wrong and should be deleted.",
    ),
    "syntax": (
        "Line {line} has a syntax error: `{buggy}` is not valid Python; it should be "
        "`{fixed}`.",
    ),
    "other": (
        "Line {line} is wrong: `{buggy}` should be `{fixed}`.",
        "The bug is on line {line}, where `{buggy}` should be `{fixed}`.",
    ),
}

_WRONG: tuple[tuple[str, str], ...] = (
    ("range(", "The loop on line {line} stops one iteration too early; its range should "
               "include the last index."),
    ("return", "Line {line} returns too early, before all of the input has been processed."),
    ("<", "The comparison on line {line} should not be strict: equal values must be "
          "accepted too."),
    (">", "The comparison on line {line} should be strict: equal values must be rejected."),
    ("==", "The equality test on line {line} compares values of different types, so it "
           "is never true."),
    ("+=", "The update on line {line} happens in the wrong place; it must come before the "
           "check, not after it."),
    ("input(", "Line {line} reads the input in the wrong format; the numbers are on one "
               "line, not one per line."),
    ("", "Line {line} does not handle the case where the input is empty."),
)
_GENERIC = (
    "The program does not handle the edge case of an empty input or a single element.",
    "The function does not handle negative numbers correctly.",
    "The result is computed for the wrong part of the input; the first element should "
    "be treated separately.",
)


def accurate(bug: Bug, error_message: str | None, rng: random.Random) -> str:
    """An explanation that names the bug's line, quotes it and says what it should be."""
    key = bug.detail if bug.detail in _ACCURATE else "other"
    if bug.kind == "syntax" and not bug.fixed:
        text = (f"The program is incomplete: it breaks off at line {bug.line} "
                f"(`{bug.buggy}`), so it does not even compile.")
    else:
        text = rng.choice(_ACCURATE[key]).format(line=bug.line, buggy=bug.buggy, fixed=bug.fixed)
    first = _first_line(error_message)
    if first and rng.random() < 0.5:
        text += f" That is why the test fails ({first})."
    return text


def misleading(bug: Bug, code: str, rng: random.Random, min_line: int = 1) -> str:
    """A plausible explanation that points at another line (from `min_line` on),
    checked not to identify `bug`."""
    tree = parse(code)
    candidates: list[int] = []
    if tree is not None:
        src = Source(code)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.stmt)
                and not is_docstring(node)
                and src.owns_lines(node)
                and node.lineno >= min_line
                and node.lineno not in bug.lines
                and node.lineno not in candidates
            ):
                candidates.append(node.lineno)
        candidates.sort()
        rng.shuffle(candidates)
        for line in candidates[:6]:
            text = src.line(line)
            template = next(t for key, t in _WRONG if key in text)
            draft = template.format(line=line)
            if not identifies(draft, bug):
                return draft
    for draft in rng.sample(_GENERIC, len(_GENERIC)):
        if not identifies(draft, bug):
            return draft
    return _GENERIC[0]


def no_bug_found(error_message: str | None, rng: random.Random) -> str:
    """What the model says when it sees nothing wrong (e.g. a correct but slow program)."""
    first = _first_line(error_message)
    base = rng.choice((
        "The logic looks right, but the program is too slow for the largest tests; it "
        "needs a more efficient approach.",
        "The algorithm seems correct, so the failure is probably an edge case in the "
        "input format that the code does not expect.",
    ))
    return f"{base} The failing test was: {first}." if first else base


def unknown_task(rng: random.Random) -> str:
    """What the model says about a program for a task it does not know."""
    return rng.choice((
        "The program does not compute what the question asks: it returns a fixed value "
        "instead of working through the input.",
        "The code ignores most of the input, so it can only be right by chance.",
    ))


def _first_line(text: str | None) -> str:
    for line in (text or "").split("\n"):
        line = " ".join(line.split())
        if line:
            return line if len(line) <= 120 else line[:117] + "..."
    return ""
