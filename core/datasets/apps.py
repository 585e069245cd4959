"""APPS problems: the original folder layout and the Hugging Face JSONL export.

Folder layout: ``ROOT/{train,test}/NNNN/`` holding ``question.txt``,
``input_output.json`` (``{"inputs": [...], "outputs": [...], "fn_name"?: str}``),
``solutions.json`` (a list of programs), ``metadata.json`` (``{"difficulty": ...}``) and,
for call-based problems, ``starter_code.py``. ROOT may also be one split folder.

JSONL export (``codeparrot/apps``): one problem per line with ``problem_id``,
``question``, ``solutions`` and ``input_output`` (both JSON *strings*, possibly empty),
``difficulty``, ``url`` and ``starter_code``.

Both become `Task` objects through one function, `make_task`. Task ids are
``SPLIT/NNNN`` (the folder names); the big files are read only for tasks that survive
the filters, so ``--limit 5`` on a full checkout stays fast.
"""

from __future__ import annotations

import json
import re
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from repair_tui.core.datasets.task import (
    Task,
    TaskStub,
    json_lines,
    read_text,
    str_field,
    validate_tests,
)
from repair_tui.core.errors import DatasetError

__all__ = ["folder_stubs", "make_spec", "make_task", "make_tests", "stubs"]

STDIN_INSTRUCTION = "Use Standard Input format"
CALL_INSTRUCTION = "Use Call-Based format"
_SPLITS = ("test", "train")
_SPLIT_IN_NAME = re.compile(r"(?:^|[^a-z])(train|test)(?:[^a-z]|$)")


def stubs(path: Path, ref: str, split: str | None, *, difficulty: bool = True) -> list[TaskStub]:
    """Stubs for ``apps:PATH``: a folder (checkout or split) or a JSONL export file.

    For a JSONL export whose file name does not say ``train`` or ``test``, `split` (the
    user's ``--split``) names its split; otherwise its ids are bare problem numbers.
    `difficulty` False skips reading every metadata.json up front (stubs then carry no
    difficulty; the loaded tasks still do).
    """
    if path.is_dir():
        return folder_stubs(path, ref, difficulty=difficulty)
    if path.is_file():
        return _export_stubs(path, ref, split)
    raise DatasetError(f"{path}: no such file or folder")


def folder_stubs(root: Traversable, ref: str, *, difficulty: bool = True) -> list[TaskStub]:
    """Stubs for an APPS checkout (``ROOT/{train,test}/NNNN``) or one split folder."""
    splits = [(s, root.joinpath(s)) for s in _SPLITS if root.joinpath(s).is_dir()]
    if not splits:
        if not _problem_dirs(root):
            raise DatasetError(
                f"{root}: not an APPS folder (expected train/ or test/ holding "
                "NNNN/question.txt, or NNNN/question.txt folders directly)"
            )
        splits = [(root.name, root)]
    out: list[TaskStub] = []
    for split, folder in splits:
        for problem in _problem_dirs(folder):
            level = _difficulty(_metadata(problem)) if difficulty else None
            task_id = f"{split}/{problem.name}"
            out.append(
                TaskStub(
                    task_id,
                    split,
                    level,
                    lambda p=problem, i=task_id, s=split: _folder_task(p, i, s, ref),
                )
            )
    return out


def make_task(
    *,
    task_id: str,
    split: str | None,
    question: str,
    io: object,
    solutions: object,
    difficulty: object,
    starter_code: str,
    where: str,
    ref: str,
    meta: dict[str, Any] | None = None,
) -> Task:
    """One APPS problem as a Task; `where` names the source for error messages."""
    if not isinstance(io, dict):
        raise DatasetError(f"{where}: no tests (input_output is empty or not an object)")
    tests = validate_tests(make_tests(io, where), where)
    if not isinstance(solutions, list) or not all(isinstance(s, str) for s in solutions):
        raise DatasetError(f"{where}: solutions must be a list of strings")
    fn_name = io.get("fn_name") or None
    return Task(
        id=task_id,
        source="apps",
        spec=make_spec(question, starter_code, call_based=fn_name is not None),
        tests=tests,
        difficulty=difficulty if isinstance(difficulty, str) and difficulty else None,
        starter_code=starter_code,
        entry_point=fn_name,
        references=tuple(solutions),
        split=split,
        meta=meta or {},
        dataset=ref,
    )


def make_spec(question: str, starter_code: str, *, call_based: bool) -> str:
    """The question as the model sees it, as in the paper and the APPS code base.

    The question text, a blank line, the format instruction ("Use Standard Input format"
    or "Use Call-Based format"), then the starter code when there is one.
    """
    instruction = CALL_INSTRUCTION if call_based else STDIN_INSTRUCTION
    spec = f"{question.rstrip()}\n\n{instruction}"
    if starter_code.strip():
        spec += f"\n\n{starter_code.rstrip()}"
    return spec


# What the APPS harness (testing_util.py) puts before every solution, so that programs
# may use these names without importing them (`List[int]` in starter code, `gcd`,
# `Counter`...). numpy is left out: it is not always installed and costs 0.1 s a test.
APPS_PREAMBLE = """\
import sys
import time
import itertools
from itertools import accumulate, product, permutations, combinations
import collections
from collections import Counter, OrderedDict, deque, defaultdict, ChainMap
from functools import lru_cache
import math
from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2
import fractions
from typing import List, Tuple
import random
import heapq
from heapq import *
"""


def make_tests(io: dict[str, Any], where: str) -> dict[str, Any]:
    """The sandbox test form of an APPS ``input_output`` object.

    Every task gets the harness's import preamble (APPS_PREAMBLE). Call-based outputs
    are kept as APPS stores them (often wrapped in a one-element
    list); the sandbox's comparison tolerates that wrapping. Stdio inputs and outputs
    given as lists of lines are joined with newlines, as the APPS harness does.
    """
    inputs, outputs = io.get("inputs"), io.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or not inputs:
        raise DatasetError(f"{where}: no tests (inputs/outputs are empty or missing)")
    if len(inputs) != len(outputs):
        raise DatasetError(f"{where}: {len(inputs)} inputs but {len(outputs)} outputs")
    fn_name = io.get("fn_name")
    if fn_name:
        if not isinstance(fn_name, str):
            raise DatasetError(f"{where}: fn_name must be a string")
        for i, args in enumerate(inputs):
            if not isinstance(args, list):
                raise DatasetError(f"{where}: inputs[{i}] must be a list of arguments")
        cases = [{"input": i, "output": o} for i, o in zip(inputs, outputs, strict=True)]
        return {"style": "call", "fn_name": fn_name, "cases": cases, "preamble": APPS_PREAMBLE}
    cases = [{"input": _text(i), "output": _text(o)} for i, o in zip(inputs, outputs, strict=True)]
    return {"style": "stdio", "cases": cases, "preamble": APPS_PREAMBLE}


# ------------------------------------------------------------------ folders


def _problem_dirs(folder: Traversable) -> list[Traversable]:
    dirs = [d for d in folder.iterdir() if d.is_dir() and d.joinpath("question.txt").is_file()]
    return sorted(dirs, key=lambda d: (len(d.name), d.name))


def _metadata(problem: Traversable) -> dict[str, Any]:
    meta = _read_json(problem.joinpath("metadata.json"), default={})
    return meta if isinstance(meta, dict) else {}


def _difficulty(meta: dict[str, Any]) -> str | None:
    level = meta.get("difficulty")
    return level if isinstance(level, str) and level else None


def _folder_task(problem: Traversable, task_id: str, split: str, ref: str) -> Task:
    io_file = problem.joinpath("input_output.json")
    if not io_file.is_file():
        raise DatasetError(f"{problem}: no tests (input_output.json is missing)")
    starter = problem.joinpath("starter_code.py")
    meta = _metadata(problem)
    return make_task(
        task_id=task_id,
        split=split,
        question=_read(problem.joinpath("question.txt")),
        io=_read_json(io_file),
        solutions=_read_json(problem.joinpath("solutions.json"), default=[]),
        difficulty=_difficulty(meta),
        starter_code=_read(starter) if starter.is_file() else "",
        where=str(io_file),
        ref=ref,
        meta={k: v for k, v in meta.items() if k != "difficulty"},
    )


def _read(file: Traversable) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{file}: cannot read: {exc}") from None


def _read_json(file: Traversable, default: object = None) -> Any:
    if default is not None and not file.is_file():
        return default
    try:
        return json.loads(_read(file))
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"{file}: malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None


# ------------------------------------------------------------------ JSONL export


def _export_stubs(path: Path, ref: str, split: str | None) -> list[TaskStub]:
    found = _SPLIT_IN_NAME.search(path.name.lower())
    split = found.group(1) if found else split
    out: list[TaskStub] = []
    seen: set[str] = set()
    for lineno, row in json_lines(read_text(path), str(path)):
        where = f"{path}:{lineno}"
        pid = row.get("problem_id")
        if isinstance(pid, bool) or not isinstance(pid, int | str) or str(pid) == "":
            raise DatasetError(f"{where}: field problem_id is missing")
        number = f"{pid:04d}" if isinstance(pid, int) else pid
        task_id = f"{split}/{number}" if split else number
        if task_id in seen:
            raise DatasetError(f"{where}: problem_id {pid} appears twice")
        seen.add(task_id)
        difficulty = row.get("difficulty") if isinstance(row.get("difficulty"), str) else None
        out.append(
            TaskStub(
                task_id,
                split,
                difficulty,
                lambda r=row, w=where, i=task_id: _export_task(r, w, i, split, ref),
            )
        )
    return out


def _export_task(
    row: dict[str, Any], where: str, task_id: str, split: str | None, ref: str
) -> Task:
    return make_task(
        task_id=task_id,
        split=split,
        question=str_field(row, "question", where),
        io=_json_field(row, "input_output", where, default=None),
        solutions=_json_field(row, "solutions", where, default=[]),
        difficulty=row.get("difficulty"),
        starter_code=row.get("starter_code") or "",
        where=where,
        ref=ref,
        meta={"url": row["url"]} if row.get("url") else {},
    )


def _json_field(row: dict[str, Any], key: str, where: str, default: object) -> Any:
    """A field holding a JSON string (the export's form); already-decoded values pass."""
    value = row.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{where}: field {key} is not valid JSON: {exc.msg}") from None


def _text(value: object) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return value if isinstance(value, str) else str(value)
