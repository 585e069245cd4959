"""What the simulated model knows about tasks: which task a spec is, how hard it is,
where its solution starts, and what to write for a task it does not know.

`TaskIndex` maps normalised spec text (whitespace collapsed) to tasks; on the first
unknown spec it also loads the datasets that ship with repair-tui (``humaneval``,
``apps-sample``). Difficulty is a deterministic latent value per task id, so pass@k
curves have a realistic spread: some tasks are nearly always solved, some rarely.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import random
import re
import threading
from collections.abc import Iterable

from repair_tui.core.datasets.task import Task
from repair_tui.core.sim.source import is_docstring, parse

# APPS levels on the difficulty scale; a task's latent offset spreads them out.
APPS_LEVELS = {"introductory": -0.8, "interview": 1.3, "competition": 3.0}
APPS_SPREAD = 1.2
OTHER_SPREAD = 1.6  # HumanEval and others: difficulty = spread * logit(u(task id))
DATASETS = ("humaneval", "apps-sample")


def normalise_spec(text: str) -> str:
    return " ".join(text.split())


class TaskIndex:
    """Tasks by spec text, shared by the simulated models of one process or server."""

    def __init__(self, tasks: Iterable[Task] = (), *, load_datasets: bool = True) -> None:
        self._index: dict[str, Task] = {}
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()  # held for the whole load: lookups wait for it
        self._pending = load_datasets
        self.register(tasks)

    def __len__(self) -> int:
        return len(self._index)

    def register(self, tasks: Iterable[Task]) -> None:
        """Make tasks known by their spec text (later registrations win)."""
        with self._lock:
            for task in tasks:
                self._index[normalise_spec(task.spec)] = task

    def lookup(self, spec: str) -> Task | None:
        """The task with this spec; known datasets are loaded on the first miss."""
        key = normalise_spec(spec)
        task = self._index.get(key)
        if task is None and self._pending:
            self._load_datasets()
            task = self._index.get(key)
        return task

    def _load_datasets(self) -> None:
        with self._load_lock:
            if not self._pending:
                return
            for ref in DATASETS:
                try:
                    from repair_tui.core.datasets.load import load_dataset

                    tasks = load_dataset(ref)
                except Exception:  # a dataset that cannot load is simply unknown here
                    continue
                with self._lock:
                    for task in tasks:
                        self._index.setdefault(normalise_spec(task.spec), task)
            self._pending = False


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def unit_hash(*parts: object) -> float:
    """A number in [0, 1) from SHA-256 of the parts (stable across runs and machines)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def difficulty(task: Task) -> float:
    """The task's difficulty on the logit scale (0: average; APPS levels shift it)."""
    u = min(max(unit_hash("difficulty", task.id), 0.01), 0.99)
    latent = logit(u)
    level = APPS_LEVELS.get((task.difficulty or "").lower())
    if level is None:
        return OTHER_SPREAD * latent
    return level + APPS_SPREAD * latent


def solution_start(task: Task, code: str) -> int:
    """First line of `code` that belongs to the solution rather than to the prompt.

    For tasks whose reference extends the prompt (HumanEval), that is the first line
    after the entry point's docstring; the signature and given helpers stay intact.
    """
    spec: str = task.spec.rstrip()
    entry = task.entry_point
    if not (entry and task.references and str(task.references[0]).startswith(spec)):
        return 1
    tree = parse(code)
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.FunctionDef) and node.name == entry and node.body:
            first = node.body[0]
            if is_docstring(first) and len(node.body) > 1:
                return int(node.body[1].lineno)
            return int(first.lineno)
    return 1


_DEF = re.compile(r"^(?P<indent>[ \t]*)def\s+(?P<name>\w+)\s*\((?P<args>[^)]*)\)\s*(?:->\s*(?P<ret>[^:]+))?:",
                  re.MULTILINE)
_DEFAULTS = (("bool", "False"), ("int", "0"), ("float", "0.0"), ("str", '""'), ("list", "[]"),
             ("tuple", "()"), ("dict", "{}"), ("set", "set()"))


def unknown_program(spec: str, rng: random.Random) -> str:
    """A plausible but failing program for a spec the model does not know.

    With a ``def`` in the spec: that function returning a default value of its annotated
    type; otherwise a stdin program that echoes a count of the input.
    """
    matches = list(_DEF.finditer(spec))
    if not matches:
        return rng.choice((
            "data = input().split()\nprint(len(data))\n",
            "n = int(input())\nprint(n)\n",
            "import sys\n\nlines = sys.stdin.read().split()\nprint(lines[0] if lines else 0)\n",
        ))
    m = matches[-1]
    ret = (m["ret"] or "").strip().lower()
    default = next((v for k, v in _DEFAULTS if ret.startswith(k)), "None")
    header = m.group(0).strip()
    pad = m["indent"]
    lines = []
    if pad:
        cls = re.findall(r"^class\s+\w+.*:\s*$", spec[: m.start()], re.MULTILINE)
        lines.append(cls[-1] if cls else "class Solution:")
    body = rng.choice((f"return {default}", f"result = {default}\n{pad}    return result"))
    lines.append(f"{pad}{header}\n{pad}    {body}")
    return "\n".join(lines) + "\n"


