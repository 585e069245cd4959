"""Prompts: their shape, versions, and that parse_prompt reads back what they hold."""

from __future__ import annotations

from string import Template

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from repair_tui.core.datasets.task import Task
from repair_tui.core.llm import prompts
from repair_tui.core.llm.extract import extract_code

HE_SPEC = 'def add(a: int, b: int) -> int:\n    """Return a + b.\n    >>> add(1, 2)\n    3\n    """\n'
STDIO_SPEC = "Read two integers and print their sum.\n\nUse Standard Input format."


def task(spec: str = HE_SPEC, style: str = "assert") -> Task:
    return Task(id="t/1", source="jsonl", spec=spec, tests={"style": style})


BUGGY = "def add(a: int, b: int) -> int:\n    return a - b\n"
ERROR = "AssertionError: assert add(1, 2) == 3\nExpected: 3\nGot: -1"


def all_kinds(t: Task) -> dict[str, list[dict[str, str]]]:
    return {
        "generate": prompts.generate_messages(t),
        "feedback": prompts.feedback_messages(t, BUGGY, ERROR),
        "repair": prompts.repair_messages(t, BUGGY, ERROR, "Line 2 subtracts; use a + b."),
        "tests-only": prompts.repair_messages(t, BUGGY, ERROR, None),
        "joint": prompts.joint_messages(t, BUGGY, ERROR),
    }


def test_every_kind_has_a_version_and_a_system_text() -> None:
    assert set(prompts.PROMPT_VERSIONS) == set(prompts.SYSTEM)
    assert len(set(prompts.PROMPT_VERSIONS.values())) == len(prompts.PROMPT_VERSIONS)


@pytest.mark.parametrize("style", ["assert", "stdio", "call"])
def test_shape_is_system_example_then_request(style: str) -> None:
    t = task(STDIO_SPEC if style == "stdio" else HE_SPEC, style)
    for kind, messages in all_kinds(t).items():
        assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
        assert messages[0]["content"] == prompts.SYSTEM[kind]
        assert messages[-1]["content"].startswith(prompts.QUESTION + "\n")
        assert t.spec.strip() in messages[-1]["content"]
        # The worked example matches the task's style.
        example = prompts.STDIO_EXAMPLE if style == "stdio" else prompts.FUNCTION_EXAMPLE
        assert example.spec.strip() in messages[1]["content"]


def test_feedback_prompt_forbids_code_and_repair_asks_for_a_fenced_program() -> None:
    assert "*not* write any code" in prompts.SYSTEM["feedback"]
    for kind in ("generate", "repair", "tests-only", "joint"):
        assert "```python" in prompts.SYSTEM[kind]
    assert "explanation" in prompts.SYSTEM["joint"] and "First" in prompts.SYSTEM["joint"]


def test_parse_prompt_reads_every_kind_back() -> None:
    t = task()
    for kind, messages in all_kinds(t).items():
        parsed = prompts.parse_prompt(messages)
        assert parsed.kind == kind
        assert parsed.version == prompts.PROMPT_VERSIONS[kind]
        assert parsed.spec == t.spec.strip()
        if kind == "generate":
            assert parsed.code is None
            continue
        assert parsed.code == BUGGY.rstrip("\n")
        assert parsed.error_message == ERROR
        expected = "Line 2 subtracts; use a + b." if kind == "repair" else None
        assert parsed.feedback == expected


def test_templates_raise_on_a_missing_variable() -> None:
    with pytest.raises(KeyError):
        prompts.REPAIR_USER.substitute(spec="x", fenced_code="y", error="z")
    assert isinstance(prompts.GENERATE_USER, Template)


def test_an_empty_error_message_gets_a_default() -> None:
    messages = prompts.feedback_messages(task(), BUGGY, "  ")
    assert prompts.parse_prompt(messages).error_message == "The code does not pass the tests."


def test_fence_is_longer_than_backticks_in_the_code() -> None:
    code = 'md = """\n```python\nx = 1\n```\n"""\n'
    block = prompts.fenced(code)
    assert block.startswith("````python\n") and block.endswith("\n````")
    assert extract_code(block) == code


_text = st.text(alphabet=st.sampled_from(list("ab #`:\n()=+-'\"\\xyz123")), max_size=120)


@settings(max_examples=150, deadline=None)
@given(spec=_text, code=_text, error=_text, feedback=_text)
def test_parse_prompt_round_trips_arbitrary_text(spec: str, code: str, error: str, feedback: str) -> None:
    assume(spec.strip() and prompts.CODE not in spec and prompts.QUESTION not in spec)
    assume(prompts.EXPLANATION not in error.split("\n"))
    t = task(spec)
    parsed = prompts.parse_prompt(prompts.repair_messages(t, code, error, feedback))
    assert parsed.kind == "repair"
    assert parsed.spec == spec.strip("\n").rstrip()
    assert parsed.code == code.rstrip("\n")
    assert parsed.error_message == (error.strip() or "The code does not pass the tests.")
    assert parsed.feedback == feedback.strip()


def test_parse_prompt_guesses_the_kind_of_foreign_prompts() -> None:
    t = task()
    repair = prompts.repair_messages(t, BUGGY, ERROR, "use +")
    joint = prompts.joint_messages(t, BUGGY, ERROR)
    feedback = prompts.feedback_messages(t, BUGGY, ERROR)
    tests_only = prompts.repair_messages(t, BUGGY, ERROR, None)
    cases = [
        ([{"role": "user", "content": prompts.GENERATE_USER.substitute(spec="x")}], "generate"),
        ([{"role": "system", "content": "Fix it."}, repair[-1]], "repair"),
        ([{"role": "system", "content": "Give an explanation first, then the code."}, joint[-1]], "joint"),
        ([{"role": "system", "content": "Explain the bug. Do not generate any code."}, feedback[-1]], "feedback"),
        ([{"role": "system", "content": "Fix the program."}, tests_only[-1]], "tests-only"),
    ]
    for messages, kind in cases:
        parsed = prompts.parse_prompt(messages)
        assert parsed.kind == kind
        assert parsed.version is None


def test_parse_prompt_rejects_prompts_without_a_question() -> None:
    with pytest.raises(ValueError):
        prompts.parse_prompt([{"role": "user", "content": "hello"}])
    with pytest.raises(ValueError):
        prompts.parse_prompt([{"role": "system", "content": "x"}])


def test_split_joint_on_the_papers_format() -> None:
    answer = prompts.JOINT_ANSWER.substitute(
        feedback="Line 2 subtracts.", fenced_code=prompts.fenced("def add(a, b):\n    return a + b")
    )
    explanation, program = prompts.split_joint(answer)
    assert explanation == "Line 2 subtracts."
    assert extract_code(program) == "def add(a, b):\n    return a + b\n"


@pytest.mark.parametrize(
    ("text", "explanation", "code"),
    [
        ("The sign is wrong.\n\n```python\nx = 1\n```\n", "The sign is wrong.", "x = 1\n"),
        ("```python\nx = 1\n```", "", "x = 1\n"),
        ("Off by one.\ndef f():\n    return 1\n", "Off by one.", "def f():\n    return 1\n"),
        ("Just words, no program.", "Just words, no program.", ""),
        ("Uses `x` wrongly.\n~~~\nx = 2\n~~~", "Uses `x` wrongly.", "x = 2\n"),
    ],
)
def test_split_joint_without_the_header(text: str, explanation: str, code: str) -> None:
    got_explanation, program = prompts.split_joint(text)
    assert got_explanation == explanation
    assert extract_code(program) == code
