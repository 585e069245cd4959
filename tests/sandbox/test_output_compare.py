"""Output comparison: every stdio rule and every call-style rule, one test each."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from repair_tui.sandbox._values import DecodeError, Opaque, decode, encode
from repair_tui.sandbox.compare import normalize_lines, stdio_equal, values_equal


def test_exact_output_matches() -> None:
    assert stdio_equal("3\n", "3\n")


def test_trailing_whitespace_on_a_line_is_ignored() -> None:
    assert stdio_equal("1 2   \n3\t\n", "1 2\n3\n")


def test_trailing_blank_lines_are_ignored() -> None:
    assert stdio_equal("3\n\n\n", "3")
    assert stdio_equal("3", "3\n\n")


def test_windows_line_ends_are_ignored() -> None:
    assert stdio_equal("1\r\n2\r\n", "1\n2\n")


def test_whitespace_separated_tokens_are_compared() -> None:
    assert stdio_equal("1  2\n3", "1 2 3\n")
    assert stdio_equal("  1\n2", "1 2")


def test_numbers_match_within_the_tolerance() -> None:
    assert stdio_equal("0.3333333\n", "0.333333333333\n")
    assert stdio_equal("1000000.0000001", "1e6")
    assert stdio_equal("2.0 abc", "2 abc")


def test_numbers_outside_the_tolerance_differ() -> None:
    assert not stdio_equal("0.33\n", "0.333333\n")
    assert not stdio_equal("1", "2")


def test_words_are_compared_exactly() -> None:
    assert not stdio_equal("YES", "yes")
    assert not stdio_equal("inf", "1e999")  # only decimal numbers get the tolerance
    assert not stdio_equal("1_000", "1000")


def test_missing_or_extra_tokens_differ() -> None:
    assert not stdio_equal("1 2", "1 2 3")
    assert not stdio_equal("", "0")
    assert stdio_equal("", "\n")


def test_normalize_lines() -> None:
    assert normalize_lines("a  \nb\n\n") == ["a", "b"]


@given(st.lists(st.text(alphabet="ab1.5 -", min_size=1, max_size=6), max_size=6))
def test_any_output_matches_itself_reformatted(tokens: list[str]) -> None:
    words = " ".join(tokens).split()
    assert stdio_equal("\n".join(words) + "\n\n", "  ".join(words))


def test_tuples_equal_lists_at_any_depth() -> None:
    assert values_equal((1, (2, 3)), [1, [2, 3]])
    assert values_equal([(1, 2), (3, 4)], [[1, 2], [3, 4]])


def test_one_element_wrapping_is_tolerated_both_ways() -> None:
    assert values_equal(5, [5])
    assert values_equal([[1, 2]], [1, 2])
    assert values_equal([1, 2], [[1, 2]])
    assert not values_equal(5, [5, 5])


def test_floats_match_within_the_tolerance() -> None:
    assert values_equal(1 / 3, 0.3333333)
    assert values_equal([0.1 + 0.2], [0.3])
    assert not values_equal(0.5, 0.6)
    assert values_equal(2, 2.0000000001)


def test_other_values_compare_with_equality() -> None:
    assert values_equal({"a": [1, 2]}, {"a": (1, 2)})
    assert not values_equal({"a": 1}, {"b": 1})
    assert values_equal("x", "x")
    assert not values_equal("1", 1)
    assert values_equal(None, None)


def test_an_opaque_value_equals_nothing() -> None:
    assert not values_equal(Opaque("X()", "X"), "X()")
    assert not values_equal(Opaque("1", "X"), 1)


def test_values_cross_the_boundary_by_builtin_type() -> None:
    class Sneaky(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    class Always:
        def __eq__(self, other: object) -> bool:
            return True

    assert decode(encode(Sneaky(4))) == 4 and type(decode(encode(Sneaky(4)))) is int
    assert isinstance(decode(encode(Always())), Opaque)
    value = {"a": (1, [2.5, None]), 3: {True, "s"}, "b": b"\x00\xff"}
    assert decode(encode(value)) == value


@pytest.mark.parametrize("value", [float("inf"), 10**5000, list(range(300_000))], ids=["inf", "huge-int", "long-list"])
def test_awkward_values_still_encode(value: object) -> None:
    with contextlib.suppress(DecodeError):  # no other exception, whatever the size
        decode(encode(value))


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False),
                    lambda children: st.lists(children) | st.tuples(children, children)
                    | st.dictionaries(st.text(), children), max_leaves=20))
def test_plain_values_round_trip(value: object) -> None:
    assert values_equal(decode(encode(value)), value)
