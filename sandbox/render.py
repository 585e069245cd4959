"""Failures as text: the prompt-ready error message and the one-line fault.

The error message follows the paper's feedback inputs: for a wrong answer the input,
what the program produced and what was expected; for a crash the exception, its line
in the program and the input; for a compile error the message and line; for a time
out the input. Long values are cut with a visible marker.
"""

from __future__ import annotations

from typing import Any

from repair_tui.sandbox.result import Limits, Status, TestResult

TRUNCATE = 2000  # characters kept of each input / expected / got value


def truncate(text: str | None, limit: int = TRUNCATE) -> str | None:
    """``text`` cut to ``limit`` characters with a marker saying how much is missing."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}... [truncated: {len(text) - limit} more characters]"


def _block(text: str | None) -> str:
    if text is None or not text.strip("\n"):
        return "(nothing)"
    return text.rstrip("\n")


def _size(n: int) -> str:
    return f"{n / 1024**2:g} MiB" if n >= 1024**2 else f"{n / 1024:g} KiB"


def _where(detail: dict[str, Any]) -> str:
    line, text = detail.get("line"), detail.get("text")
    if line is None:
        return ""
    place = "of the tests" if detail.get("place") == "tests" else "of the program"
    return f" at line {line} {place}" + (f":\n    {text}" if text else "")


def _subject(style: str, r: TestResult) -> tuple[str, str]:
    """(what ran, who did it) phrases, e.g. ("Given input:\\n3 4\\n", "the program")."""
    if style == "stdio":
        return f"Given input:\n{_block(r.input)}\n", "the program"
    if style == "call":
        return "", f"Calling {r.input}"
    return "", "Running the tests, the program"


def error_message(r: TestResult, detail: dict[str, Any], style: str, limits: Limits) -> str:
    """The first failure rendered for a feedback or repair prompt.

    ``detail`` holds what TestResult has no field for: the phase ("load" when the
    program failed while being imported), the failing line's text and its place.
    """
    status = r.status
    if detail.get("sentence"):
        return str(detail["sentence"])
    if status is Status.COMPILE_ERROR:
        where = f" (line {r.line})" if r.line else ""
        text = f"\n    {detail['text']}" if detail.get("text") else ""
        return f"The program does not compile: {r.error_type}: {r.message}{where}{text}"
    given, who = _subject(style, r)
    if detail.get("phase") == "load":
        given, who = "", "Loading the program"
    if status is Status.WRONG_ANSWER:
        return given + _wrong_answer(r, style)
    if status is Status.TIMEOUT:
        seconds = detail.get("seconds") or max(limits.timeout, limits.min_timeout)
        verb = "did not return" if style == "call" else "did not finish"
        unit = "second" if seconds == 1 else "seconds"
        if detail.get("wall"):
            return f"{given}{who} {verb} within {seconds:g} {unit} of wall-clock time (time limit exceeded)"
        return f"{given}{who} {verb} within {seconds:g} {unit} of CPU time (time limit exceeded)"
    if status is Status.MEMORY_LIMIT:
        return f"{given}{who} ran out of memory (limit {_size(limits.memory_bytes)})"
    if status is Status.OUTPUT_LIMIT:
        return f"{given}{who} printed more than {_size(limits.output_bytes)} (output limit exceeded)"
    if detail.get("exception"):
        raised = f"raised {r.error_type}: {r.message}" if r.message else f"raised {r.error_type}"
        return f"{given}{who} {raised}{_where(detail)}"
    text = f"{given}{who} {r.message or 'failed'}"
    if detail.get("stderr"):
        text += f"\nits standard error ended with:\n{detail['stderr']}"
    return text


def _wrong_answer(r: TestResult, style: str) -> str:
    if style == "stdio":
        return f"the program printed:\n{_block(r.got)}\nbut the expected output was:\n{_block(r.expected)}"
    if style == "call":
        return f"Calling {r.input} returned:\n{r.got}\nbut the expected return value was:\n{r.expected}"
    text = f"The test assertion failed (line {r.line} of the tests):\n{r.input}"
    if r.got is not None and r.expected is not None:
        text += f"\nits left side evaluated to:\n{r.got}\nand its right side to:\n{r.expected}"
    if r.message:
        text += f"\nassertion message: {r.message}"
    return text


def fault(r: TestResult, style: str) -> str:
    """A one-line summary for tree labels, e.g. "wrong answer on test 2" (its ``number``)."""
    n = r.number
    status = r.status
    if status is Status.COMPILE_ERROR:
        return f"{r.error_type or 'compile error'} line {r.line}" if r.line else "compile error"
    if status is Status.WRONG_ANSWER:
        if style == "assert":
            return f"assertion failed line {r.line}" if r.line else "assertion failed"
        return f"wrong answer on test {n}"
    if status is Status.RUNTIME_ERROR:
        if r.error_type:
            return f"{r.error_type} line {r.line}" if r.line else f"{r.error_type} on test {n}"
        return f"runtime error on test {n}"
    labels = {Status.TIMEOUT: "timeout", Status.MEMORY_LIMIT: "memory limit", Status.OUTPUT_LIMIT: "output limit"}
    return f"{labels.get(status, status.value)} on test {n}"


def render_call(fn_name: str, args: list[Any]) -> str:
    """``add(1, 2)`` for a call-style input."""
    return f"{fn_name}({', '.join(repr(a) for a in args)})"
