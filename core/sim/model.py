"""The simulated model: a deterministic, offline stand-in for a code LLM.

`SimModel` implements `ChatModel`. It reads repair-tui prompts back (`parse_prompt`),
recognises the task by its spec text, and answers like a model of a given skill:

- generate: the task's reference solution with cosmetic changes, with P(correct) =
  sigmoid(ability), ability = skill.code - difficulty(task); else a buggy variant of
  it (`sim_mutate`), with more bugs the further the task is beyond the model;
- feedback: an accurate explanation of the program's first difference from the
  reference (`sim_diff`) with P = skill.feedback (lower on hard tasks), else a
  plausible explanation pointing at another line;
- repair / tests-only / joint: fixes that difference with P = sigmoid(ability +
  offset), the offset being skill.identified when the explanation in the prompt
  identifies the bug (`sim_feedback.identifies`), skill.misled when it points
  elsewhere and skill.blind without one; a failed repair is another buggy variant.
  Joint writes its own explanation first.

Every choice draws from its own RNG seeded with SHA-256 of (model name, seed, messages,
temperature, choice index), so answers do not depend on timing or call order. At
temperature 0 all choices of a request are the same. The model is labelled simulated:
``simulated = True``, and every answer body says ``"simulated": true``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from repair_tui.core.datasets.task import Task
from repair_tui.core.errors import ModelError
from repair_tui.core.llm.client import Completion, ModelReply, Usage
from repair_tui.core.llm.prompts import EXPLANATION_LEAD, FIXED, ParsedPrompt, fenced, parse_prompt
from repair_tui.core.llm.tokens import count_tokens, truncate_to_tokens
from repair_tui.core.sim.diff import Bug, find_bug
from repair_tui.core.sim.feedback import (
    accurate,
    identifies,
    mentioned_lines,
    misleading,
    no_bug_found,
    unknown_task,
)
from repair_tui.core.sim.mutate import mutate, restyle
from repair_tui.core.sim.source import parse
from repair_tui.core.sim.tasks import (
    TaskIndex,
    difficulty,
    logit,
    sigmoid,
    solution_start,
    unknown_program,
)


@dataclass(frozen=True)
class SimSkill:
    """How good a simulated model is.

    Writing and fixing share one ability on a task, ``code - difficulty(task)`` (logit
    scale): P(correct program) = sigmoid(ability); P(a repair fixes the bug) =
    sigmoid(ability + offset), with the offset set by what the prompt's explanation
    does (`identified`, `misled`, or `blind` when there is none). Feedback is accurate
    with P = sigmoid(logit(feedback) - FEEDBACK_SLOPE * difficulty).
    """

    code: float  # logit ability at difficulty 0
    feedback: float  # P(an explanation is accurate) at difficulty 0
    identified: float  # repair logit offset when the explanation identifies the bug
    misled: float  # ... when an explanation is given but points elsewhere
    blind: float  # ... when there is none (tests-only repair)


PRESETS: dict[str, SimSkill] = {
    "sim-weak": SimSkill(code=-1.0, feedback=0.20, identified=1.5, misled=-2.0, blind=-1.2),
    "sim": SimSkill(code=0.9, feedback=0.45, identified=2.0, misled=-1.8, blind=-1.0),
    "sim-strong": SimSkill(code=2.4, feedback=0.85, identified=2.5, misled=-1.5, blind=-0.8),
}
# How much harder accurate feedback gets per unit of task difficulty (logit scale).
FEEDBACK_SLOPE = 0.5
SYNTAX_BONUS = 1.5  # logit bonus for syntax errors: the error message names the line
MAX_BUGS = 3
_SAY_PROGRAM = ("Here is a solution:", "The following program solves the problem.",
                "Here is my implementation:", "This program follows the specification:")
_SAY_FIX = ("Here is the fixed program:", "The corrected program:",
            "Here is a version with the bug fixed:")


class SimModel:
    """The simulated model (see the module docstring). Implements `ChatModel`."""

    simulated = True

    def __init__(
        self,
        name: str = "sim",
        *,
        tasks: Iterable[Task] = (),
        latency: float = 0.0,
        skill: SimSkill | None = None,
        load_datasets: bool = True,
        index: TaskIndex | None = None,
    ) -> None:
        if skill is None and name not in PRESETS:
            raise ModelError(f"unknown simulated model {name!r}: use one of {', '.join(PRESETS)}")
        self.name = name
        self.skill = skill or PRESETS[name]
        self.latency = latency
        self.tasks = index if index is not None else TaskIndex(load_datasets=load_datasets)
        self.tasks.register(tasks)

    def register(self, tasks: Iterable[Task]) -> None:
        """Make tasks known by their spec text."""
        self.tasks.register(tasks)

    async def aclose(self) -> None:
        """Nothing to close."""

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        n: int = 1,
        temperature: float = 0.8,
        max_tokens: int = 1024,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> ModelReply:
        """Answer like a chat model; sleeps `latency` seconds first."""
        start = time.monotonic()
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        completions = self.answer(
            messages, n=n, temperature=temperature, max_tokens=max_tokens, stop=stop, seed=seed
        )
        usage = Usage(prompt_tokens(messages), sum(c.tokens for c in completions))
        body = completion_body(self.name, completions, usage, seed=seed)
        return ModelReply(completions, self.name, usage, time.monotonic() - start, 1, [body])

    def answer(
        self,
        messages: list[dict[str, str]],
        *,
        n: int = 1,
        temperature: float = 0.8,
        max_tokens: int = 1024,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> list[Completion]:
        """The choices for a request, computed synchronously (the server calls this)."""
        parsed = _parse(messages)
        task = self.tasks.lookup(parsed.spec)
        out = []
        head = self._rng_head(messages, seed, temperature)
        for index in range(max(1, n)):
            rng = _rng_for(head, index if temperature > 0 else 0)
            text = self.respond(parsed, task, rng)
            out.append(_finish(text, max_tokens, stop))
        return out

    def _rng_head(self, messages: list[dict[str, str]], seed: int | None, temperature: float) -> str:
        """The choice's seed text without its index: ``json.dumps([name, seed, messages,
        temperature, choice])`` up to the choice, made once for all choices of a request."""
        whole = json.dumps([self.name, seed, messages, round(temperature, 6), 0],
                           sort_keys=True, ensure_ascii=False)
        return whole[: -len("0]")]

    def respond(self, parsed: ParsedPrompt, task: Task | None, rng: random.Random) -> str:
        """One answer text for a parsed prompt."""
        if parsed.kind == "generate":
            return self._generate(task, parsed.spec, rng)
        code = parsed.code or ""
        if parsed.kind == "feedback":
            return self._explain(task, code, parsed.error_message, rng)[0]
        if parsed.kind == "joint":
            explanation, identified = self._explain(task, code, parsed.error_message, rng)
            program = self._repair(task, parsed.spec, code, explanation, rng, identified)
            return f"{EXPLANATION_LEAD} {explanation}\n\n{FIXED}\n{fenced(program)}\n"
        feedback = parsed.feedback if parsed.kind == "repair" else None
        program = self._repair(task, parsed.spec, code, feedback, rng, None)
        return f"{rng.choice(_SAY_FIX)}\n\n{fenced(program)}\n"

    def _generate(self, task: Task | None, spec: str, rng: random.Random) -> str:
        if task is None or not task.references:
            code = unknown_program(spec, rng)
        elif rng.random() < sigmoid(self.ability(task)):
            code = restyle(task.references[0], rng)
        else:
            code = restyle(self._buggy(task, rng), rng)
        return f"{rng.choice(_SAY_PROGRAM)}\n\n{fenced(code)}\n"

    def ability(self, task: Task) -> float:
        """This model's logit ability on the task: skill minus difficulty."""
        value: float = self.skill.code - difficulty(task)
        return value

    def _buggy(self, task: Task, rng: random.Random) -> str:
        """The reference with one bug, or more the further the task is beyond the model:
        each further bug comes with P = sigmoid(-ability - 1), at most MAX_BUGS."""
        code: str = task.references[0]
        more = sigmoid(-self.ability(task) - 1.0)
        touched: list[int] = []
        for _ in range(MAX_BUGS):
            planted = mutate(code, rng, min_line=solution_start(task, code), avoid_lines=tuple(touched))
            if planted is None:
                break
            code, site = planted
            touched.append(site.line)
            if site.kind == "syntax" or rng.random() >= more:
                break  # a program that does not parse cannot take another AST bug
        return code

    def _explain(
        self, task: Task | None, code: str, error: str | None, rng: random.Random
    ) -> tuple[str, bool]:
        """(explanation, whether it is accurate)."""
        if task is None or not task.references:
            return unknown_task(rng), False
        bug = find_bug(code, task.references)
        if bug is None:
            return no_bug_found(error, rng), False
        score = logit(self.skill.feedback) - FEEDBACK_SLOPE * difficulty(task)
        if bug.kind == "syntax":
            score += SYNTAX_BONUS  # the error message already names the line
        p = sigmoid(score)
        if rng.random() < p:
            return accurate(bug, error, rng), True
        return misleading(bug, code, rng, solution_start(task, code)), False

    def _repair(
        self,
        task: Task | None,
        spec: str,
        code: str,
        feedback: str | None,
        rng: random.Random,
        identified: bool | None,
    ) -> str:
        if task is None or not task.references:
            fallback: str = unknown_program(spec, rng)
            return fallback
        bug = find_bug(code, task.references)
        if bug is None:
            return code  # nothing it can see to change: the same program again
        if identified is None:
            identified = feedback is not None and identifies(feedback, bug)
        skill = self.skill
        offset = skill.identified if identified else skill.blind if feedback is None else skill.misled
        if bug.kind == "syntax" and not identified:
            offset += SYNTAX_BONUS  # the error message already names the line
        p = sigmoid(self.ability(task) + offset)
        roll = rng.random()
        fixed: str = bug.fix.apply(code)
        if roll < p:
            return restyle(fixed, rng) if rng.random() < 0.3 else fixed
        if identified:
            # Understood the bug, fixed it, and broke something else on the way.
            other = mutate(fixed, rng, min_line=solution_start(task, fixed), avoid_lines=bug.lines)
            return other[0] if other else code
        return self._wrong_repair(task, code, bug, feedback, rng)

    def _wrong_repair(
        self, task: Task, code: str, bug: Bug, feedback: str | None, rng: random.Random
    ) -> str:
        start = solution_start(task, code)
        if parse(code) is not None:
            pointed = [n for n in mentioned_lines(feedback or "") if n not in bug.lines]
            if pointed:
                # Follow the (wrong) advice: change the line it names, keep the real bug.
                changed = mutate(code, rng, only_line=pointed[0])
                if changed:
                    return str(changed[0])
            if rng.random() < 0.5:
                changed = mutate(code, rng, min_line=start, avoid_lines=bug.lines)
                if changed:
                    return str(changed[0])
        fresh = self._buggy(task, rng)
        return fresh if fresh != code else code


def _rng_for(head: str, choice: int) -> random.Random:
    payload = f"{head}{choice}]"  # json.dumps of the whole list: an int prints as itself
    return random.Random(int.from_bytes(hashlib.sha256(payload.encode()).digest()[:8], "big"))


def _parse(messages: list[dict[str, str]]) -> ParsedPrompt:
    try:
        parsed: ParsedPrompt = parse_prompt(messages)
        return parsed
    except ValueError:
        # A foreign prompt: treat the last user message as a bare spec (e.g. a raw
        # HumanEval prompt sent by another tool still finds its task).
        users = [m.get("content", "") for m in messages if m.get("role") == "user"]
        return ParsedPrompt(kind="generate", spec=users[-1] if users else "")


def _finish(text: str, max_tokens: int, stop: Sequence[str] | None) -> Completion:
    """Apply stop sequences, then the token limit (cut honestly, finish_reason 'length')."""
    cuts = [text.find(s) for s in (stop or ()) if s and s in text]
    if cuts:
        text = text[: min(cuts)]
    tokens = count_tokens(text)
    if tokens > max_tokens:
        text = truncate_to_tokens(text, max_tokens)
        return Completion(text, min(count_tokens(text), max_tokens), "length")
    return Completion(text, tokens, "stop")


def prompt_tokens(messages: list[dict[str, str]]) -> int:
    """Prompt tokens the way chat APIs count them: contents plus a few per message."""
    return int(sum(count_tokens(str(m.get("content", ""))) + 4 for m in messages)) + 2


def completion_body(
    model: str, completions: list[Completion], usage: Usage, *, seed: int | None = None
) -> dict[str, Any]:
    """An OpenAI chat.completion body for these choices (stored, and served over HTTP)."""
    ident = hashlib.sha256(
        json.dumps([model, seed, [c.text for c in completions]]).encode()
    ).hexdigest()[:24]
    return {
        "id": f"chatcmpl-sim-{ident}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "repair-tui-sim",
        "simulated": True,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": c.text},
                "finish_reason": c.finish_reason,
                "logprobs": None,
            }
            for i, c in enumerate(completions)
        ],
        "usage": {
            "prompt_tokens": usage.prompt_tokens or 0,
            "completion_tokens": usage.completion_tokens or 0,
            "total_tokens": (usage.prompt_tokens or 0) + (usage.completion_tokens or 0),
        },
    }
