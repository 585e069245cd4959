"""The prompts of the four self-repair stages, and their inverse.

Shape follows Olausson et al. (ICLR 2024): a system instruction, one worked example
(user turn + assistant turn), then the real request. Each request is one user message
with ``### HEADER`` sections (question, incorrect code, error, explanation); the
simulated model reads them back with `parse_prompt`, so the formats here and the parser
change together (bump the version in `PROMPT_VERSIONS` when a text changes).

Kinds: ``generate``, ``feedback`` (explain the bug, no code), ``repair`` (fix with a
given explanation), ``tests-only`` (fix from the error message alone, the paper's
ablation) and ``joint`` (explain, then fix, in one answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Template

from repair_tui.core.datasets.task import Task

PROMPT_VERSIONS: dict[str, str] = {
    "generate": "generate-v1",
    "feedback": "feedback-v1",
    "repair": "repair-v1",
    "tests-only": "tests-only-v1",
    "joint": "joint-v1",
}

QUESTION = "### QUESTION"
CODE = "### INCORRECT PYTHON CODE"
ERROR = "### ERROR"
EXPLANATION = "### EXPLANATION"
FIXED = "### FIXED PYTHON CODE"
# Lead-in of an explanation, as in the paper's few-shot answers; stripped by split_joint.
EXPLANATION_LEAD = "The following is a concise explanation of the issue:"

_FORMAT = "Put your program within code delimiters, for example: ```python\n# YOUR CODE HERE\n```."

SYSTEM: dict[str, str] = {
    "generate": (
        "You are an expert Python programmer. You will be given a question (a problem "
        "specification) and will write a correct, complete Python program that matches the "
        "specification and passes all tests. Follow the input/output format the question "
        "asks for. " + _FORMAT
    ),
    "feedback": (
        "You are a helpful programming assistant and an expert Python programmer. You are "
        "helping a user debug a program that does not pass its tests. Give a concise "
        "explanation (at most 2-3 sentences) of what is wrong with the code: where the "
        "bug is and what the code should do instead. You will *not* write any code, "
        "because the user wants to fix the code themselves."
    ),
    "repair": (
        "You are a helpful programming assistant and an expert Python programmer. You are "
        "helping a user write a program that does not pass its tests. The user has "
        "debugged the program and gives you a concise explanation of what is wrong. Use "
        "this explanation to write a fixed version of the whole program. " + _FORMAT
    ),
    "tests-only": (
        "You are a helpful programming assistant and an expert Python programmer. You are "
        "helping a user write a program that does not pass its tests. You are given the "
        "program and the error it produced. Write a fixed version of the whole program. "
        + _FORMAT
    ),
    "joint": (
        "You are a helpful programming assistant and an expert Python programmer. You are "
        "helping a user write a program that does not pass its tests. First give a concise "
        "explanation (at most 2-3 sentences) of what is wrong with the code. Then write a "
        "fixed version of the whole program. " + _FORMAT
    ),
}

GENERATE_USER = Template(f"{QUESTION}\n$spec\n")
# The incorrect program and its test failure; the kinds that need more append to it.
_CODE_PART = f"{QUESTION}\n$spec\n\n{CODE}\n$fenced_code\n\n{ERROR}\n$error\n"
FEEDBACK_USER = Template(_CODE_PART)
REPAIR_USER = Template(_CODE_PART + f"\n{EXPLANATION}\n$feedback\n")
TESTS_ONLY_USER = Template(_CODE_PART)
JOINT_USER = Template(_CODE_PART)
ANSWER = Template("$fenced_code")
JOINT_ANSWER = Template(f"{EXPLANATION_LEAD} $feedback\n\n{FIXED}\n$fenced_code")


@dataclass(frozen=True)
class Example:
    """A worked example: a spec, a wrong program, its error, the explanation, a fix."""

    spec: str
    wrong: str
    error: str
    feedback: str
    fixed: str


STDIO_EXAMPLE = Example(
    spec=(
        "You are given a sequence of N integers. Print the largest difference between an "
        "element and the element just before it (a[i+1] - a[i]). If N is 1, print 0.\n\n"
        "-----Input-----\nThe first line contains N (1 <= N <= 10^5). The second line "
        "contains N integers a_1 ... a_N (|a_i| <= 10^9).\n\n-----Output-----\nPrint one "
        "integer.\n\n-----Examples-----\nInput\n4\n1 5 2 8\n\nOutput\n6\n\n"
        "Use Standard Input format: read the input with input() and print the answer."
    ),
    wrong=(
        "n = int(input())\na = list(map(int, input().split()))\nbest = 0\nif n >= 2:\n"
        "    best = max(a[i + 1] - a[i] for i in range(n - 2))\nprint(best)"
    ),
    error="Wrong answer.\nInput:\n4\n1 5 2 8\nExpected output:\n6\nGot:\n4",
    feedback=(
        "On line 5 the loop runs over `range(n - 2)`, so the last pair of neighbours "
        "(a[n-2], a[n-1]) is never compared; in the example the jump from 2 to 8 is "
        "missed. The range should be `range(n - 1)`."
    ),
    fixed=(
        "n = int(input())\na = list(map(int, input().split()))\nbest = 0\nif n >= 2:\n"
        "    best = max(a[i + 1] - a[i] for i in range(n - 1))\nprint(best)"
    ),
)

FUNCTION_EXAMPLE = Example(
    spec=(
        "def count_vowel_words(sentence: str) -> int:\n"
        '    """Return how many words of the sentence start with a vowel (a, e, i, o, u),\n'
        "    ignoring case. Words are separated by spaces.\n"
        '    >>> count_vowel_words("An apple fell")\n    2\n'
        '    >>> count_vowel_words("")\n    0\n    """\n'
    ),
    wrong=(
        "def count_vowel_words(sentence: str) -> int:\n"
        '    return sum(1 for word in sentence.split() if word[0] in "aeiou")'
    ),
    error=(
        "Wrong answer.\nassert candidate(\"An apple fell\") == 2\nExpected: 2\nGot: 1"
    ),
    feedback=(
        'The test `word[0] in "aeiou"` on line 2 is case-sensitive, so a word that starts '
        'with an upper-case vowel such as "An" is not counted. Lower-case the first letter '
        'before the test: `word[0].lower() in "aeiou"`.'
    ),
    fixed=(
        "def count_vowel_words(sentence: str) -> int:\n"
        '    return sum(1 for word in sentence.split() if word[0].lower() in "aeiou")'
    ),
)


@dataclass(frozen=True)
class ParsedPrompt:
    """What a prompt asks for, read back from its messages."""

    kind: str  # a key of PROMPT_VERSIONS
    spec: str
    code: str | None = None
    error_message: str | None = None
    feedback: str | None = None
    version: str | None = None  # None when the system text is not one of ours


def fenced(code: str) -> str:
    """A ```python block holding `code`, with a fence longer than any backtick run in it."""
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}python\n{code.rstrip(chr(10))}\n{fence}"


def example_for(task: Task) -> Example:
    """The worked example matching the task's test style (stdin/stdout or a function)."""
    return STDIO_EXAMPLE if task.style == "stdio" else FUNCTION_EXAMPLE


def _code_vars(spec: str, code: str, error_message: str) -> dict[str, str]:
    error = error_message.strip() or "The code does not pass the tests."
    return {"spec": spec.rstrip(), "fenced_code": fenced(code), "error": error}


def _messages(kind: str, example_user: str, example_answer: str, user: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM[kind]},
        {"role": "user", "content": example_user},
        {"role": "assistant", "content": example_answer},
        {"role": "user", "content": user},
    ]


def generate_messages(task: Task) -> list[dict[str, str]]:
    """Messages asking for a program that solves `task`."""
    ex = example_for(task)
    return _messages(
        "generate",
        GENERATE_USER.substitute(spec=ex.spec.rstrip()),
        ANSWER.substitute(fenced_code=fenced(ex.fixed)),
        GENERATE_USER.substitute(spec=task.spec.rstrip()),
    )


def feedback_messages(task: Task, code: str, error_message: str) -> list[dict[str, str]]:
    """Messages asking for a short explanation (no code) of why `code` fails."""
    ex = example_for(task)
    return _messages(
        "feedback",
        FEEDBACK_USER.substitute(_code_vars(ex.spec, ex.wrong, ex.error)),
        ex.feedback,
        FEEDBACK_USER.substitute(_code_vars(task.spec, code, error_message)),
    )


def repair_messages(
    task: Task, code: str, error_message: str, feedback: str | None
) -> list[dict[str, str]]:
    """Messages asking for a fixed program; `feedback=None` gives the tests-only prompt."""
    ex = example_for(task)
    answer = ANSWER.substitute(fenced_code=fenced(ex.fixed))
    if feedback is None:
        return _messages(
            "tests-only",
            TESTS_ONLY_USER.substitute(_code_vars(ex.spec, ex.wrong, ex.error)),
            answer,
            TESTS_ONLY_USER.substitute(_code_vars(task.spec, code, error_message)),
        )
    return _messages(
        "repair",
        REPAIR_USER.substitute(_code_vars(ex.spec, ex.wrong, ex.error), feedback=ex.feedback),
        answer,
        REPAIR_USER.substitute(
            _code_vars(task.spec, code, error_message), feedback=feedback.strip()
        ),
    )


def joint_messages(task: Task, code: str, error_message: str) -> list[dict[str, str]]:
    """Messages asking for an explanation followed by a fixed program, in one answer."""
    ex = example_for(task)
    return _messages(
        "joint",
        JOINT_USER.substitute(_code_vars(ex.spec, ex.wrong, ex.error)),
        JOINT_ANSWER.substitute(feedback=ex.feedback, fenced_code=fenced(ex.fixed)),
        JOINT_USER.substitute(_code_vars(task.spec, code, error_message)),
    )


def split_joint(text: str) -> tuple[str, str]:
    """Split a joint answer into (explanation, raw program text).

    The program part starts at the ``### FIXED PYTHON CODE`` header or at the first
    code fence, whichever comes first; without either, at the first line that looks
    like code. The explanation loses the paper's lead-in sentence if it has one.
    """
    cut = _program_start(text)
    explanation = text[:cut].strip()
    if explanation.startswith(EXPLANATION_LEAD):
        explanation = explanation[len(EXPLANATION_LEAD) :].strip()
    program = text[cut:]
    if program.startswith(FIXED):
        program = program[len(FIXED) :]
    return explanation, program.strip("\n")


_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
_CODE_LINE = re.compile(r"^(def |class |import |from \S+ import |async def |@)", re.MULTILINE)


def _program_start(text: str) -> int:
    starts = [m.start() for m in (_FENCE_LINE.search(text),) if m]
    header = re.search(rf"^{re.escape(FIXED)}\s*$", text, re.MULTILINE)
    if header:
        starts.append(header.start())
    if starts:
        return min(starts)
    code = _CODE_LINE.search(text)
    return code.start() if code else len(text)


def parse_prompt(messages: list[dict[str, str]]) -> ParsedPrompt:
    """Read back the kind, spec, code, error and feedback of a prompt made here.

    The kind comes from the system message (exact match gives the version too); for a
    foreign system text it is guessed from the sections present. Raises ValueError when
    the last user message has no ``### QUESTION`` section.
    """
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    users = [m["content"] for m in messages if m.get("role") == "user"]
    if not users:
        raise ValueError("prompt has no user message")
    sections = _sections(users[-1])
    if QUESTION not in sections:
        raise ValueError(f"prompt's last user message has no {QUESTION} section")
    kind = _kind(system.strip(), sections)
    return ParsedPrompt(
        kind=kind,
        spec=sections[QUESTION],
        code=sections.get(CODE),
        error_message=sections.get(ERROR),
        feedback=sections.get(EXPLANATION),
        version=PROMPT_VERSIONS[kind] if SYSTEM[kind] == system.strip() else None,
    )


def _sections(text: str) -> dict[str, str]:
    """Header -> body, read in the order the templates write them.

    The code section is the fenced block right after its header, closed by the same
    fence (`fenced` makes it longer than any backtick run in the code), so code that
    contains header-like lines stays whole. ERROR and EXPLANATION are the first such
    headers after the code; everything after EXPLANATION is feedback.
    """
    lines = text.split("\n")
    if QUESTION not in lines:
        return {}
    q = lines.index(QUESTION)
    c = next(
        (i for i in range(q + 1, len(lines) - 1)
         if lines[i] == CODE and _FENCE_LINE.match(lines[i + 1])),
        None,
    )
    if c is None:
        return {QUESTION: _join(lines[q + 1 :])}
    out = {QUESTION: _join(lines[q + 1 : c])}
    match = _FENCE_LINE.match(lines[c + 1])
    fence = match.group(1) if match else "```"
    close = next((i for i in range(c + 2, len(lines)) if lines[i].strip() == fence), len(lines))
    out[CODE] = "\n".join(lines[c + 2 : close])
    rest = lines[close + 1 :]
    e = rest.index(ERROR) if ERROR in rest else None
    if e is None:
        return out
    x = next((i for i in range(e + 1, len(rest)) if rest[i] == EXPLANATION), None)
    out[ERROR] = _join(rest[e + 1 : x])
    if x is not None:
        out[EXPLANATION] = _join(rest[x + 1 :])
    return out


def _join(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n")


def _kind(system: str, sections: dict[str, str]) -> str:
    for kind, text in SYSTEM.items():
        if text == system:
            return kind
    if CODE not in sections:
        return "generate"
    if EXPLANATION in sections:
        return "repair"
    low = system.lower()
    if "not write any code" in low or "no code" in low or "not generate any code" in low:
        return "feedback"
    if "explanation" in low and ("then" in low or "first" in low):
        return "joint"
    return "tests-only"
