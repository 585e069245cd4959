"""HumanEval is judged as HumanEval judges: a program is prompt + completion, and the
check runs in a process of its own against plain data only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from repair_tui.core.datasets.load import find_task, load_dataset
from repair_tui.core.datasets.task import Task
from repair_tui.sandbox import Sandbox, Status


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(workers=2) as sandbox:
        yield sandbox


def _body(task: Task) -> str:
    """The canonical solution as HumanEval ships it: a bare function body."""
    return task.references[0][len(task.spec):]


@pytest.mark.slow
def test_all_164_canonical_solutions_pass(box: Sandbox) -> None:
    tasks = load_dataset("humaneval")
    verdicts = box.run_many([(t.references[0], t.tests) for t in tasks])
    failed = [(t.id, v.error_message) for t, v in zip(tasks, verdicts, strict=True) if not v.passed]
    assert failed == []
    bodies = box.run_many([(_body(t), t.tests) for t in tasks])  # completions alone
    failed = [(t.id, v.error_message) for t, v in zip(tasks, bodies, strict=True) if not v.passed]
    assert failed == []


@pytest.mark.parametrize("task_id", ["HumanEval/10", "HumanEval/32", "HumanEval/38", "HumanEval/50"])
def test_the_tasks_with_prompt_helpers_pass_their_canonical_solution(box: Sandbox, task_id: str) -> None:
    task = find_task(f"humaneval:{task_id}")
    assert box.run(task.references[0], task.tests).passed
    assert box.run(_body(task), task.tests).passed


def test_a_full_function_without_the_prompts_imports_gets_them(box: Sandbox) -> None:
    task = find_task("humaneval:HumanEval/0")  # from typing import List
    program = (
        "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
    )
    assert box.run(program, task.tests).passed


def test_an_answer_that_uses_a_prompt_helper_without_defining_it(box: Sandbox) -> None:
    task = find_task("humaneval:HumanEval/38")
    program = "def decode_cyclic(s: str):\n    return encode_cyclic(encode_cyclic(s))\n"
    assert box.run(program, task.tests).passed


def test_an_answer_that_redefines_a_helper_keeps_its_own(box: Sandbox) -> None:
    """Nothing the answer defines is overridden: its own (wrong) helper is the one it uses."""
    task = find_task("humaneval:HumanEval/38")
    program = "def encode_cyclic(s):\n    return s\ndef decode_cyclic(s: str):\n    return encode_cyclic(s)\n"
    verdict = box.run(program, task.tests)
    assert verdict.results[0].status is Status.WRONG_ANSWER


def test_an_answer_that_imports_differently(box: Sandbox) -> None:
    task = find_task("humaneval:HumanEval/0")
    program = (
        "import typing\n\n"
        "def has_close_elements(numbers: typing.List[float], threshold: float) -> bool:\n"
        "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
    )
    assert box.run(program, task.tests).passed


def test_line_numbers_stay_those_of_the_program(box: Sandbox) -> None:
    task = find_task("humaneval:HumanEval/0")
    body = "    x = 1\n    return numbers[100]\n"  # a bare body: line 2 of what the model wrote
    verdict = box.run(body, task.tests)
    assert verdict.results[0].error_type == "IndexError" and verdict.results[0].line == 2
    assert "at line 2 of the program:\n    return numbers[100]" in (verdict.error_message or "")
    full = "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n    return numbers[100]\n"
    verdict = box.run(full, task.tests)
    assert verdict.results[0].line == 2
    broken = "    x = (\n"
    verdict = box.run(broken, task.tests)
    assert verdict.results[0].status is Status.COMPILE_ERROR
