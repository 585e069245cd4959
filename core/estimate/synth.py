"""Synthetic frozen sets, and frozen sets in the paper's JSON-lines form, for the estimator.

The estimator's tests and speed benchmark need frozen sets of any size without a
model: ``synthetic_tasks`` draws them from a seeded generator shaped like the
paper's data (many tasks never solved, some always; repairs rarer than first
passes; a repair's tokens count its feedback and its program). ``paper_lines`` and
``tasks_from_paper_lines`` convert to and from the fields of the paper's released
format that pass@t uses (``task_id`` or ``prob_path``; ``completions`` with
``binary``, ``fault``, ``tokens_generated`` and ``repairs``), with no database
involved. Pure: strings in, strings out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from repair_tui.core.errors import UserError
from repair_tui.core.estimate.exact import FrozenTask, Sample

DIFFICULTIES = ("introductory", "interview", "competition")


def synthetic_tasks(
    n_tasks: int,
    n_programs: int,
    n_repairs: int,
    *,
    seed: int = 0,
    depth: int = 1,
    short_repairs: float = 0.0,
) -> list[FrozenTask]:
    """A seeded random frozen set: n_tasks x n_programs, n_repairs per failing node.

    ``depth`` repair levels (a failing repair gets n_repairs repairs of its own);
    ``short_repairs`` is the fraction of failing nodes given fewer repairs
    (0..n_repairs-1), to exercise that rule.
    """
    rng = np.random.default_rng(seed)
    tasks: list[FrozenTask] = []
    for t in range(n_tasks):
        first = float(rng.beta(0.5, 0.9))  # chance a first program passes
        fix = float(rng.beta(0.7, 3.0)) * (0.3 + first)  # chance a repair passes
        size = float(rng.lognormal(np.log(220.0), 0.4))  # typical program length
        gen = _Gen(rng, n_repairs, min(fix, 0.95), size, short_repairs)
        programs = tuple(gen.node(first, size, depth) for _ in range(n_programs))
        tasks.append(FrozenTask(f"synthetic/{t}", programs, DIFFICULTIES[t % len(DIFFICULTIES)]))
    return tasks


class _Gen:
    """Draws one task's nodes: pass or fail, tokens, and repairs below failures."""

    def __init__(self, rng: np.random.Generator, n_repairs: int, fix: float, size: float, short: float) -> None:
        self.rng, self.n_repairs, self.fix, self.size, self.short = rng, n_repairs, fix, size, short

    def _tokens(self, scale: float) -> int:
        return max(1, round(float(self.rng.lognormal(np.log(scale), 0.3))))

    def node(self, p_pass: float, scale: float, depth: int) -> Sample:
        tokens = self._tokens(scale)
        if self.rng.random() < p_pass:
            return Sample(tokens, True)
        if depth <= 0:
            return Sample(tokens, False)
        count = self.n_repairs
        if self.short and self.rng.random() < self.short:
            count = int(self.rng.integers(0, max(self.n_repairs, 1)))
        # A repair's tokens are its feedback (about half a program) plus its program.
        repairs = tuple(self.node(self.fix, self.size * 1.5, depth - 1) for _ in range(count))
        return Sample(tokens, False, repairs)


def _item(sample: Sample, text: bool, repair: bool) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if text:  # stand-in texts, for readers that need them (pass@t does not)
        code = f"print({int(sample.tokens)})\n"
        item.update(original_completion=code, executed_completion=code)
        if repair:
            item["explanation"] = "The program prints the wrong value."
    item.update(
        binary=sample.passed,
        fault="passed" if sample.passed else "wrong_answer",
        tokens_generated=sample.tokens,
    )
    # The paper's files hold null repairs for a passing program.
    item["repairs"] = None if sample.passed else [_item(r, text, True) for r in sample.repairs]
    return item


def paper_lines(tasks: Sequence[FrozenTask], *, text: bool = False) -> Iterator[str]:
    """One JSON line per task in the paper's format (the fields pass@t reads).

    With ``text``, programs and explanations get short stand-in texts too.
    """
    for task in tasks:
        obj: dict[str, Any] = {"task_id": task.task_id}
        if task.difficulty is not None:
            obj["difficulty"] = task.difficulty
        obj["completions"] = [_item(p, text, False) for p in task.programs]
        yield json.dumps(obj)


class _Bad(Exception):
    """A malformed item; ``path`` locates it, the message is built only on error."""

    def __init__(self, path: list[str], problem: str) -> None:
        super().__init__(problem)
        self.path, self.problem = path, problem


_NUMBER = (int, float)


def _sample(item: Any) -> Sample:
    # Hot loop (one pass per program and repair): no string building unless it fails,
    # and leaf repairs (most of a file) are read inline rather than by recursion.
    try:
        tokens = item["tokens_generated"]
        passed = bool(item["binary"]) or item.get("fault") == "passed"
    except (TypeError, KeyError, AttributeError):
        raise _Bad([], "expected an object with 'binary' and 'tokens_generated'") from None
    if type(tokens) not in _NUMBER:
        raise _Bad([], "'tokens_generated' must be a number")
    raw = item.get("repairs")
    if passed or not raw:
        return Sample(float(tokens), passed)
    if not isinstance(raw, list):
        raise _Bad([], "'repairs' must be a list or null")
    repairs = []
    for i, r in enumerate(raw):
        try:
            if type(r) is dict and not r.get("repairs"):
                rt = r["tokens_generated"]
                if type(rt) in _NUMBER:
                    repairs.append(Sample(float(rt), bool(r["binary"]) or r.get("fault") == "passed"))
                    continue
            repairs.append(_sample(r))  # deeper, or malformed: the full path
        except KeyError:
            raise _Bad([f".repairs[{i}]"], "expected an object with 'binary' and 'tokens_generated'") from None
        except _Bad as bad:
            bad.path.insert(0, f".repairs[{i}]")
            raise
    return Sample(float(tokens), False, tuple(repairs))


def tasks_from_paper_lines(lines: Iterable[str], source: str = "<input>") -> list[FrozenTask]:
    """Frozen tasks from JSON lines in the paper's format; UserError names source:line."""
    tasks: list[FrozenTask] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{where}: not JSON ({exc.msg})") from None
        task_id = obj.get("prob_path", obj.get("task_id")) if isinstance(obj, dict) else None
        completions = obj.get("completions") if isinstance(obj, dict) else None
        if task_id is None or not isinstance(completions, list):
            raise UserError(f"{where}: expected 'task_id' or 'prob_path' and a 'completions' list")
        programs = []
        for i, c in enumerate(completions):
            try:
                programs.append(_sample(c))
            except _Bad as bad:
                raise UserError(f"{where}: completions[{i}]{''.join(bad.path)}: {bad.problem}") from None
        tasks.append(FrozenTask(str(task_id), tuple(programs), obj.get("difficulty")))
    return tasks
