"""Deciding whether a program's output matches the expected one (outside its process).

Stdio (APPS standard input problems), tried in order, first match wins:

1. exact, after removing trailing whitespace from each line and trailing blank lines;
2. the same whitespace-separated tokens (line breaks and runs of spaces do not matter);
3. the same number of tokens, and each pair equal as text or, when both parse as
   decimal numbers, within ``FLOAT_TOLERANCE`` (relative or absolute).

Call style (APPS ``fn_name`` problems), as APPS compares: tuples equal lists (at any
depth), an expected one-element list also accepts its only element (APPS wraps outputs
that way) and vice versa, floats within ``FLOAT_TOLERANCE``; everything else with ==.
"""

from __future__ import annotations

import math
import re

FLOAT_TOLERANCE = 1e-6
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def normalize_lines(text: str) -> list[str]:
    """Lines with trailing whitespace removed and trailing blank lines dropped."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _close(a: float | str, b: float | str) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    except OverflowError:  # an int too large for a float
        return a == b


def tokens_match(got: str, expected: str) -> bool:
    """Token equality, or numeric tokens within the tolerance."""
    if got == expected:
        return True
    if _NUMBER.fullmatch(got) and _NUMBER.fullmatch(expected):
        return _close(got, expected)
    return False


def stdio_equal(got: str, expected: str) -> bool:
    """Whether printed output ``got`` matches ``expected`` by the stdio rules above."""
    if normalize_lines(got) == normalize_lines(expected):
        return True
    got_tokens, expected_tokens = got.split(), expected.split()
    if got_tokens == expected_tokens:
        return True
    if len(got_tokens) != len(expected_tokens):
        return False
    return all(tokens_match(g, e) for g, e in zip(got_tokens, expected_tokens, strict=True))


def _equal(got: object, expected: object) -> bool:
    if isinstance(got, tuple):
        got = list(got)
    if isinstance(expected, tuple):
        expected = list(expected)
    if isinstance(got, list) and isinstance(expected, list):
        return len(got) == len(expected) and all(_equal(g, e) for g, e in zip(got, expected, strict=True))
    if isinstance(got, dict) and isinstance(expected, dict):
        return got.keys() == expected.keys() and all(_equal(got[k], expected[k]) for k in got)
    numeric = (int, float)
    if isinstance(got, numeric) and isinstance(expected, numeric) and (
        isinstance(got, float) or isinstance(expected, float)
    ):
        if isinstance(got, bool) or isinstance(expected, bool):
            return False
        return _close(got, expected)
    try:
        return bool(got == expected)
    except Exception:
        return False


def values_equal(got: object, expected: object) -> bool:
    """Whether a returned value matches the expected one by the call-style rules above."""
    if _equal(got, expected):
        return True
    if isinstance(expected, list) and len(expected) == 1 and _equal(got, expected[0]):
        return True
    return isinstance(got, list | tuple) and len(got) == 1 and _equal(got[0], expected)
