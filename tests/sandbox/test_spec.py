"""The test JSON form: the three styles validate, and bad input names the field and file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from repair_tui.sandbox import TestSpecError, load_tests_file, parse_tests

STDIO = {"style": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}]}
CALL = {"style": "call", "fn_name": "add", "cases": [{"input": [1, 2], "output": 3}]}
ASSERT = {"style": "assert", "entry_point": "add", "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n"}


@pytest.mark.parametrize("tests", [STDIO, CALL, ASSERT])
def test_the_three_styles_are_accepted_and_normalized(tests: dict[str, object]) -> None:
    spec = parse_tests({**tests, "extra": "ignored"})
    assert spec == tests  # unknown keys dropped, known ones kept as they are
    assert spec is not tests


@pytest.mark.parametrize(
    ("tests", "message"),
    [
        ([], "tests must be an object with a style field (got list)"),
        ({}, "style is missing (one of stdio, call, assert)"),
        ({"style": "exec"}, "style must be one of stdio, call, assert (got 'exec')"),
        ({"style": "stdio"}, "cases is missing"),
        ({"style": "stdio", "cases": {}}, "cases must be a list (got object)"),
        ({"style": "stdio", "cases": []}, "cases is empty"),
        ({"style": "stdio", "cases": ["x"]}, "cases[0] must be an object with input and output (got string)"),
        ({"style": "stdio", "cases": [{"input": "", "output": ""}] * 3 + [{"input": "1"}]},
         "cases[3].output is missing"),
        ({"style": "stdio", "cases": [{"output": "1"}]}, "cases[0].input is missing"),
        ({"style": "stdio", "cases": [{"input": 1, "output": "1"}]}, "cases[0].input must be a string (got number)"),
        ({"style": "stdio", "cases": [{"input": "1", "output": None}]}, "cases[0].output must be a string (got null)"),
        ({"style": "call", "cases": [{"input": [], "output": 1}]}, "fn_name is missing"),
        ({"style": "call", "fn_name": "not a name", "cases": []}, "fn_name must be a Python identifier (got 'not a name')"),
        ({"style": "call", "fn_name": "f", "cases": [{"input": "1", "output": 1}]},
         "cases[0].input must be a list of arguments (got string)"),
        ({"style": "assert", "test": "def check(c): pass"}, "entry_point is missing"),
        ({"style": "assert", "entry_point": "f"}, "test is missing"),
        ({"style": "assert", "entry_point": "f", "test": "  "}, "test must be a non-empty string of Python code (got string)"),
        ({"style": "assert", "entry_point": "f", "test": "def check(:\n"}, "test does not parse: line 1: invalid syntax"),
        ({"style": "assert", "entry_point": "f", "test": "x = 1\n"}, "test defines no check(candidate) function"),
    ],
)
def test_bad_tests_name_the_field(tests: object, message: str) -> None:
    with pytest.raises(TestSpecError) as info:
        parse_tests(tests)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_call_outputs_may_be_any_json_value() -> None:
    cases = [{"input": [], "output": value} for value in (None, [1, [2]], {"a": 1}, "s", 1.5, True)]
    assert parse_tests({"style": "call", "fn_name": "f", "cases": cases})["cases"] == cases


def test_load_tests_file_reads_and_validates(tmp_path: Path) -> None:
    path = tmp_path / "tests.json"
    path.write_text(json.dumps(CALL))
    assert load_tests_file(path) == CALL


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b'{"style": "stdio",\n "cases": [}', "not valid JSON: line 2 column 12: Expecting value"),
        (b'{"style": "stdio", "cases": [{"input": "1"}]}', "cases[0].output is missing"),
    ],
)
def test_load_tests_file_errors_name_the_file(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "tests.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TestSpecError) as info:
        load_tests_file(path)
    assert str(info.value) == f"{path}: {message}"


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TestSpecError, match=r"cannot read \(Is a directory\)"):
        load_tests_file(tmp_path)


def test_a_preamble_runs_before_the_program_without_shifting_its_line_numbers() -> None:
    from repair_tui.sandbox import Sandbox

    tests = {"style": "call", "fn_name": "f", "preamble": "from typing import List\n",
             "cases": [{"input": [[1, 2]], "output": 3}]}
    program = "class Solution:\n    def f(self, xs: List[int]) -> int:\n        return sum(xs) // 0\n"
    with Sandbox(workers=1) as box:
        verdict = box.run(program, tests)
    assert verdict.results[0].status.value == "runtime_error"
    assert verdict.results[0].line == 3  # the program's own line, not shifted by the preamble


def test_a_preamble_must_be_a_string() -> None:
    with pytest.raises(TestSpecError, match="preamble must be a string"):
        parse_tests({"style": "stdio", "preamble": 3, "cases": [{"input": "", "output": ""}]})
