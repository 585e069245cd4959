"""The test JSON form: validation with one-line errors naming the field at fault.

Three styles (docs/sandbox.md has the full description)::

    {"style": "stdio", "cases": [{"input": "1 2\\n", "output": "3\\n"}, ...]}
    {"style": "call", "fn_name": "add", "cases": [{"input": [1, 2], "output": 3}, ...]}
    {"style": "assert", "entry_point": "add", "test": "def check(candidate): ...",
     "prompt": "def add(a, b):\n    \"\"\"...\"\"\"\n"}

Unknown keys are ignored, so datasets may carry extra fields.
"""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path
from typing import Any

from repair_tui.sandbox import pyast

STYLES = ("stdio", "call", "assert")


class TestSpecError(ValueError):
    """A tests object or file is malformed; the message names the field (and file)."""

    __test__ = False  # not a pytest test class, despite the name


def _kind(value: object) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number",
             float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _identifier(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        raise TestSpecError(f"{key} is missing")
    if not isinstance(value, str) or not value.isidentifier():
        raise TestSpecError(f"{key} must be a Python identifier (got {value!r})")
    return value


def _assert_spec(obj: dict[str, Any]) -> dict[str, Any]:
    entry_point = _identifier(obj, "entry_point")
    test = obj.get("test")
    if test is None:
        raise TestSpecError("test is missing")
    if not isinstance(test, str) or not test.strip():
        raise TestSpecError(f"test must be a non-empty string of Python code (got {_kind(test)})")
    problem = _check_problem(test)
    if problem:
        raise TestSpecError(problem)
    spec = {"style": "assert", "entry_point": entry_point, "test": test}
    prompt = obj.get("prompt")
    if prompt is not None:
        if not isinstance(prompt, str):
            raise TestSpecError(f"prompt must be a string of Python code (got {_kind(prompt)})")
        problem = _prompt_problem(prompt)
        if problem:
            raise TestSpecError(problem)
        if prompt.strip():
            spec["prompt"] = prompt
    return spec


@functools.lru_cache(maxsize=1024)
def _prompt_problem(prompt: str) -> str | None:
    try:
        pyast.parse(prompt)
    except SyntaxError as exc:
        return f"prompt does not parse: line {exc.lineno}: {exc.msg}"
    except (ValueError, MemoryError, RecursionError) as exc:
        return f"prompt does not parse: {exc}"
    return None


@functools.lru_cache(maxsize=1024)
def _check_problem(test: str) -> str | None:
    """Why assert-style test code is unusable, or None. Cached: a run submits the same
    task's check with every one of its programs."""
    try:
        tree = pyast.parse(test)
    except SyntaxError as exc:
        return f"test does not parse: line {exc.lineno}: {exc.msg}"
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if "check" not in defined:
        return "test defines no check(candidate) function"
    return None


def _cases(obj: dict[str, Any], style: str) -> list[dict[str, Any]]:
    cases = obj.get("cases")
    if cases is None:
        raise TestSpecError("cases is missing")
    if not isinstance(cases, list):
        raise TestSpecError(f"cases must be a list (got {_kind(cases)})")
    if not cases:
        raise TestSpecError("cases is empty")
    out: list[dict[str, Any]] = []
    for i, case in enumerate(cases):
        if not isinstance(case, dict):
            raise TestSpecError(f"cases[{i}] must be an object with input and output (got {_kind(case)})")
        for key in ("input", "output"):
            if key not in case:
                raise TestSpecError(f"cases[{i}].{key} is missing")
        inp, output = case["input"], case["output"]
        if style == "stdio":
            for key, value in (("input", inp), ("output", output)):
                if not isinstance(value, str):
                    raise TestSpecError(f"cases[{i}].{key} must be a string (got {_kind(value)})")
        elif not isinstance(inp, list):
            raise TestSpecError(f"cases[{i}].input must be a list of arguments (got {_kind(inp)})")
        out.append({"input": inp, "output": output})
    return out


def parse_tests(obj: object) -> dict[str, Any]:
    """Validate a tests object and return its normalized form (a new dict).

    Raises TestSpecError with a one-line message naming the field, e.g.
    ``cases[3].output is missing``.
    """
    if not isinstance(obj, dict):
        raise TestSpecError(f"tests must be an object with a style field (got {_kind(obj)})")
    style = obj.get("style")
    if style is None:
        raise TestSpecError("style is missing (one of stdio, call, assert)")
    if style not in STYLES:
        raise TestSpecError(f"style must be one of stdio, call, assert (got {style!r})")
    if style == "assert":
        spec = _assert_spec(obj)
    else:
        spec = {"style": style}
        if style == "call":
            spec["fn_name"] = _identifier(obj, "fn_name")
        spec["cases"] = _cases(obj, style)
    preamble = obj.get("preamble")
    if preamble is not None:
        if not isinstance(preamble, str):
            raise TestSpecError(f"preamble must be a string of Python code (got {_kind(preamble)})")
        if preamble.strip():
            spec["preamble"] = preamble
    return spec


def load_tests_file(path: str | Path) -> dict[str, Any]:
    """Read and validate a tests JSON file; TestSpecError messages start with the path."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TestSpecError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise TestSpecError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise TestSpecError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TestSpecError(f"{path}: not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    try:
        return parse_tests(obj)
    except TestSpecError as exc:
        raise TestSpecError(f"{path}: {exc}") from None


def case_count(spec: dict[str, Any]) -> int:
    """How many test results a verdict for ``spec`` has (an assert check is one)."""
    return 1 if spec["style"] == "assert" else len(spec["cases"])
