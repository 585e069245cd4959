"""What the store's read queries return: run summaries, task rows, totals, origin stats.

Plain frozen dataclasses built from query rows, and the pure helpers that shape them
(``spec_title``, ``build_frozen``). No SQL here; the queries are in core/store/reads.py.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from repair_tui.core.estimate.frozen import FrozenTask, Sample
from repair_tui.core.store.records import RunConfig

# Per-task count columns of the store's aggregate query, in order.
COUNT_NAMES = (
    "programs", "programs_passed", "repairs", "repairs_passed", "executed", "pending",
    "feedback", "human_feedback", "tokens",
)

@dataclass(frozen=True)
class RunSummary:
    """One line of ``repair-tui runs``."""

    id: int
    name: str
    dataset: str
    model: str
    feedback_model: str | None
    models: str  # "code" or "code+feedback"
    np: int
    nfr: int
    mode: str
    depth: int
    tasks: int
    solved: int
    programs: int  # first programs (depth 0)
    repairs: int  # repair programs (depth >= 1)
    tokens: int  # tokens generated: programs + feedback + repairs
    isolation: str
    status: str
    simulated: bool
    created_utc: str
    executor: str = "local"  # where its programs ran last: local | ray
    # Tasks with a verdict and no work left on them: "solved" is a share of these, as in
    # the app's tallies (a task still being worked on is not attempted yet).
    attempted: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TaskRow:
    """One task of a run with its counts, for the app's task list."""

    task_id: str
    position: int
    difficulty: str | None
    title: str  # the spec's first meaningful line
    programs: int
    programs_passed: int
    repairs: int
    repairs_passed: int
    pending: int  # programs not executed yet
    feedback: int
    tokens: int
    attempted: bool  # at least one program executed and no work left on it
    solved: bool  # some program (first or repair) passed
    solved_by_repair: bool  # solved, but no first program passed
    has_human_feedback: bool
    in_progress: bool = False  # unsolved, and a running run still has work on it
    flaky: int = 0  # programs whose verdict changed between executions (any scope)
    explored: int = 0  # nodes explorations added to this task (never in the counts above)


@dataclass(frozen=True)
class RunTotals:
    """A run's totals, for the app's header and the progress display."""

    tasks: int
    attempted: int
    solved: int
    solved_by_repair: int
    programs: int
    programs_passed: int
    repairs: int
    repairs_passed: int
    pending: int
    feedback_by_origin: dict[str, int] = field(default_factory=dict)
    tokens: int = 0  # generated tokens stored on nodes
    calls: int = 0
    calls_failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    in_progress: int = 0  # unsolved tasks a running run still works on (not attempted)
    flaky: int = 0  # programs whose verdict changed between executions (any scope)


@dataclass(frozen=True)
class OriginStats:
    """Repairs sampled from feedback of one origin (model, human, tests) and how they fared."""

    origin: str
    feedback: int
    repairs: int
    repairs_executed: int
    repairs_passed: int

    @property
    def pass_rate(self) -> float | None:
        """Passing repairs over executed repairs (None when none executed)."""
        return self.repairs_passed / self.repairs_executed if self.repairs_executed else None


def spec_title(spec: str) -> str:
    """The first line of a spec worth showing: the docstring's first line if any."""
    lines = [ln.strip() for ln in spec.splitlines()]
    for i, line in enumerate(lines):
        for quote in ('"""', "'''"):
            if quote in line:
                rest = line.split(quote, 1)[1].split(quote, 1)[0].strip()
                if rest:
                    return rest
                return next((ln for ln in lines[i + 1:] if ln), "")
    return next((ln for ln in lines if ln), "")


def build_frozen(rows: list[sqlite3.Row] | list[tuple[Any, ...]]) -> list[FrozenTask]:
    """FrozenTasks from (id, task_id, parent_id, kind, passed, tokens, difficulty) rows
    ordered by task then id. Passing programs get no repairs; unexecuted ones are left out."""
    children: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    roots: dict[str, list[tuple[Any, ...]]] = {}
    difficulty: dict[str, str | None] = {}
    for row in rows:
        row = tuple(row)
        roots.setdefault(row[1], [])
        difficulty[row[1]] = row[6]
        if row[2] is None:
            roots[row[1]].append(row)
        else:
            children[row[2]].append(row)

    def sample(program: tuple[Any, ...], extra_tokens: int) -> Sample:
        repairs: list[Sample] = []
        # A passing program ends its branch: any feedback on it is not a repair sample.
        for fb in [] if program[4] else children.get(program[0], []):
            if fb[3] != "feedback":
                continue
            repairs.extend(
                sample(rep, fb[5]) for rep in children.get(fb[0], [])
                if rep[3] == "program" and rep[4] is not None
            )
        return Sample(tokens=float(program[5] + extra_tokens), passed=bool(program[4]),
                      repairs=tuple(repairs))

    out: list[FrozenTask] = []
    for task_id, programs in roots.items():
        executed = [sample(p, 0) for p in programs if p[3] == "program" and p[4] is not None]
        if executed:
            out.append(FrozenTask(task_id, tuple(executed), difficulty[task_id]))
    return out


def summary_from_row(row: sqlite3.Row) -> RunSummary:
    config = RunConfig.from_json(row["config_json"])
    return RunSummary(
        id=row["id"], name=row["name"], dataset=row["dataset"], model=config.model,
        feedback_model=config.feedback_model, models=config.models, np=config.np,
        nfr=config.nfr, mode=config.mode, depth=config.depth, tasks=int(row["n_tasks"]),
        solved=int(row["solved"]), programs=int(row["programs"]), repairs=int(row["repairs"]),
        tokens=int(row["tokens"]), isolation=row["isolation"], status=row["status"],
        simulated=bool(row["simulated"]), created_utc=row["created_utc"],
        executor=config.executor,
    )


def task_row_from_rows(
    task: sqlite3.Row, counts: sqlite3.Row | None, flaky: int = 0, explored: int = 0,
    explored_human: int = 0,
) -> TaskRow:
    c = {name: int(counts[name] or 0) if counts else 0 for name in COUNT_NAMES}
    solved = bool(c["programs_passed"] or c["repairs_passed"])
    busy = not solved and bool(counts["open"] if counts else 0)
    return TaskRow(
        task_id=task["task_id"], position=task["position"], difficulty=task["difficulty"],
        title=spec_title(task["spec"]), programs=c["programs"],
        programs_passed=c["programs_passed"], repairs=c["repairs"],
        repairs_passed=c["repairs_passed"], pending=c["pending"], feedback=c["feedback"],
        tokens=c["tokens"], attempted=bool(c["executed"]) and not busy, solved=solved,
        solved_by_repair=solved and not c["programs_passed"],
        has_human_feedback=bool(c["human_feedback"] or explored_human), in_progress=busy,
        flaky=flaky, explored=explored,
    )
