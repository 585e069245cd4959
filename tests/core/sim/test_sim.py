"""The simulated model: determinism, answer formats, skills, and how it uses feedback."""

from __future__ import annotations

import asyncio
import random
from functools import cache

import pytest
from repair_tui.core.datasets.load import load_dataset
from repair_tui.core.datasets.task import Task
from repair_tui.core.errors import ModelError
from repair_tui.core.llm import prompts
from repair_tui.core.llm.extract import extract_code
from repair_tui.core.llm.tokens import count_tokens
from repair_tui.core.models import make_model
from repair_tui.core.sim.diff import find_bug
from repair_tui.core.sim.model import PRESETS, SimModel
from repair_tui.core.sim.mutate import mutate
from repair_tui.core.sim.source import dump, parse, syntax_error
from repair_tui.core.sim.tasks import TaskIndex, difficulty, solution_start, unknown_program


@cache
def humaneval() -> tuple[Task, ...]:
    return tuple(load_dataset("humaneval"))


def model(name: str = "sim") -> SimModel:
    return SimModel(name, tasks=humaneval(), load_datasets=False)


def is_reference(task: Task, code: str) -> bool:
    a, b = parse(code), parse(task.references[0])
    return a is not None and b is not None and dump(a) == dump(b)


def buggy(task: Task, seed: int) -> str:
    ref = task.references[0]
    planted = mutate(ref, random.Random(seed), min_line=solution_start(task, ref))
    assert planted is not None
    return planted[0]


async def test_same_request_same_answer_in_any_order() -> None:
    m = model()
    t1, t2 = humaneval()[1], humaneval()[2]
    a1 = await m.complete(prompts.generate_messages(t1), n=4, seed=7)
    a2 = await m.complete(prompts.generate_messages(t2), n=4, seed=7)
    fresh = model()
    both = await asyncio.gather(
        fresh.complete(prompts.generate_messages(t2), n=4, seed=7),
        fresh.complete(prompts.generate_messages(t1), n=4, seed=7),
    )
    assert [c.text for c in a1.completions] == [c.text for c in both[1].completions]
    assert [c.text for c in a2.completions] == [c.text for c in both[0].completions]
    other_seed = await m.complete(prompts.generate_messages(t1), n=4, seed=8)
    assert [c.text for c in other_seed.completions] != [c.text for c in a1.completions]


async def test_temperature_zero_gives_identical_choices() -> None:
    reply = await model().complete(prompts.generate_messages(humaneval()[5]), n=3, temperature=0.0)
    assert len({c.text for c in reply.completions}) == 1


async def test_generation_answers_like_a_chat_model() -> None:
    task = humaneval()[0]
    reply = await model().complete(prompts.generate_messages(task), n=5, seed=1)
    assert reply.model == "sim" and reply.requests == 1
    assert reply.raw[0]["simulated"] is True
    assert reply.usage.completion_tokens == sum(c.tokens for c in reply.completions)
    assert reply.usage.prompt_tokens and reply.usage.prompt_tokens > 100
    for c in reply.completions:
        assert c.finish_reason == "stop"
        assert c.tokens == count_tokens(c.text)
        first_line = c.text.split("\n")[0]
        assert first_line and not first_line.startswith("```")
        code = extract_code(c.text)
        assert code.startswith(("from typing", "#"))
        assert "def has_close_elements" in code


def test_skill_presets_order_generation_success() -> None:
    tasks = humaneval()[::4]
    rates = {}
    for name in PRESETS:
        m = model(name)
        hits = 0
        for t in tasks:
            texts = m.answer(prompts.generate_messages(t), n=5, seed=0)
            hits += sum(is_reference(t, extract_code(c.text)) for c in texts)
        rates[name] = hits / (5 * len(tasks))
    assert rates["sim-weak"] < rates["sim"] < rates["sim-strong"]
    assert 0.45 < rates["sim"] < 0.8


def test_difficulty_is_deterministic_with_a_wide_spread() -> None:
    values = [difficulty(t) for t in humaneval()]
    assert values == [difficulty(t) for t in humaneval()]
    assert min(values) < -3 and max(values) > 3
    apps = [Task(id=f"x/{i}", source="apps", spec="s", tests={}, difficulty=level)
            for i in range(50) for level in ("introductory", "competition")]
    intro = sum(difficulty(t) for t in apps if t.difficulty == "introductory")
    comp = sum(difficulty(t) for t in apps if t.difficulty == "competition")
    assert intro < comp


def test_feedback_explains_the_actual_bug_without_code() -> None:
    accurate = dict.fromkeys(PRESETS, 0)
    total = 0
    for index in range(0, 164, 12):
        task = humaneval()[index]
        code = buggy(task, index)
        bug = find_bug(code, task.references)
        assert bug is not None
        total += 10
        for name in PRESETS:
            texts = [c.text for c in model(name).answer(
                prompts.feedback_messages(task, code, "AssertionError"), n=10, seed=0)]
            assert all("```" not in t for t in texts)
            accurate[name] += sum(f"line {bug.line}" in t.lower() for t in texts)
    assert accurate["sim-weak"] < accurate["sim"] < accurate["sim-strong"] < total
    assert accurate["sim-strong"] > 0.6 * total


def repair_success(m: SimModel, task: Task, code: str, feedback: str | None, n: int = 40) -> int:
    msgs = prompts.repair_messages(task, code, "AssertionError: failed", feedback)
    return sum(is_reference(task, extract_code(c.text)) for c in m.answer(msgs, n=n, seed=1))


def test_a_correct_human_explanation_helps_more_than_none_or_a_wrong_one() -> None:
    m = model("sim")
    good = blind = wrong = 0
    for index in (3, 12, 25, 40, 57, 80):
        task = humaneval()[index]
        code = buggy(task, index)
        bug = find_bug(code, task.references)
        assert bug is not None
        good += repair_success(m, task, code, f"The bug is on line {bug.line}.")
        blind += repair_success(m, task, code, None)
        wrong += repair_success(m, task, code, "The function does not handle negative numbers.")
    assert good > blind > wrong
    assert good > 2 * wrong


def test_joint_answers_explain_then_fix() -> None:
    task = humaneval()[20]
    code = buggy(task, 1)
    answers = model("sim-strong").answer(prompts.joint_messages(task, code, "AssertionError"), n=6, seed=2)
    for c in answers:
        explanation, program = prompts.split_joint(c.text)
        assert explanation and "```" not in explanation
        assert extract_code(program).strip()


def test_max_tokens_cuts_honestly_and_stop_sequences_apply() -> None:
    task = humaneval()[0]
    full = model().answer(prompts.generate_messages(task), n=1, seed=3)[0]
    cut = model().answer(prompts.generate_messages(task), n=1, seed=3, max_tokens=20)[0]
    assert cut.finish_reason == "length" and cut.tokens <= 20
    assert full.text.startswith(cut.text)
    stopped = model().answer(prompts.generate_messages(task), n=1, seed=3, stop=["```"])[0]
    assert stopped.finish_reason == "stop"
    assert stopped.text == full.text[: full.text.index("```")]


def test_unknown_specs_get_a_plausible_failing_program() -> None:
    m = SimModel("sim", load_datasets=False)
    spec = 'def mystery(xs: list[int]) -> int:\n    """Something nobody knows."""\n'
    t = Task(id="u/1", source="jsonl", spec=spec, tests={"style": "assert"})
    code = extract_code(m.answer(prompts.generate_messages(t), seed=0)[0].text)
    assert syntax_error(code) is None and "def mystery(xs: list[int]) -> int:" in code
    assert "return 0" in code or "result = 0" in code
    stdio = unknown_program("Read numbers and print the answer.", random.Random(0))
    assert syntax_error(stdio) is None and "input()" in stdio or "stdin" in stdio
    method = unknown_program("Do it.\nclass Solution:\n    def go(self, s: str) -> bool:\n", random.Random(1))
    assert syntax_error(method) is None and method.startswith("class Solution:")
    feedback = m.answer(prompts.feedback_messages(t, code, "AssertionError"), seed=0)[0].text
    assert feedback and "```" not in feedback


def test_a_foreign_prompt_with_a_known_spec_still_finds_the_task() -> None:
    task = humaneval()[7]
    answers = model("sim-strong").answer([{"role": "user", "content": task.spec}], n=10, seed=0)
    assert any(is_reference(task, extract_code(c.text)) for c in answers)


def test_datasets_are_loaded_lazily_on_the_first_unknown_spec() -> None:
    index = TaskIndex()
    assert len(index) == 0
    assert index.lookup(humaneval()[0].spec) is not None
    assert len(index) >= 164
    assert TaskIndex(load_datasets=False).lookup(humaneval()[0].spec) is None


async def test_latency_is_awaited(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("repair_tui.core.sim.model.asyncio.sleep", fake_sleep)
    m = SimModel("sim", latency=0.25, load_datasets=False)
    await m.complete([{"role": "user", "content": "hello"}])
    assert slept == [0.25]


async def test_make_model_and_labels() -> None:
    m = make_model("sim-strong", tasks=humaneval()[:2], sim_latency=0.0)
    assert isinstance(m, SimModel) and m.simulated and m.name == "sim-strong"
    await m.aclose()
    with pytest.raises(ModelError, match="unknown simulated model"):
        SimModel("sim-huge")
