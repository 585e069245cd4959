"""Fixed databases for the app's tests and snapshots, built with the Store API.

Every timestamp is fixed, so snapshots do not move. Other test modules import the
builders (pytest puts this folder on sys.path); the tests here check the builders.
"""

from __future__ import annotations

from pathlib import Path

from repair_tui.core.datasets.task import Task
from repair_tui.core.store.records import NewCall, NewNode, Run, RunConfig
from repair_tui.core.store.store import Store
from repair_tui.sandbox.result import Verdict

WHEN = "2025-03-01T10:22:41.518+00:00"

# task id -> (difficulty, spec)
TASKS: dict[str, tuple[str, str]] = {
    "apps/test/0001": ("introductory", "Count the sheep.\nRead n and print the number of sheep."),
    "apps/test/0002": ("interview", "Sort the list.\nPrint the numbers in increasing order."),
    "apps/test/0003": ("interview", "Balanced brackets.\nSay YES if the brackets match."),
    "apps/test/0004": ("competition", "Shortest path.\nPrint the length of the shortest path."),
    "apps/test/0005": ("introductory", "Sum of digits.\nThe answer mentions a pelican."),
}

# task id -> first programs' results; then (program index, repair results) per task.
FIRST: dict[str, list[bool]] = {
    "apps/test/0001": [True, False, True],
    "apps/test/0002": [False, False, False],
    "apps/test/0003": [False, False, False],
    "apps/test/0004": [False, False, False],
}
REPAIRS: dict[str, list[tuple[int, list[bool]]]] = {
    "apps/test/0001": [(1, [True])],
    "apps/test/0002": [(0, [False]), (1, [True]), (2, [False])],
    "apps/test/0003": [(0, [False]), (1, [False]), (2, [False])],
    "apps/test/0004": [(0, [False])],
}


def verdict(passed: bool) -> Verdict:
    return Verdict(passed=passed, results=[], isolation="rlimits",
                   fault=None if passed else "wrong_answer on test 0")


class Writer:
    """Writes nodes the way the engine does: one call per step, then verdicts."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store, self.run_id = store, run_id

    def step(self, task: str, key: str, nodes: list[NewNode], exploration: int | None = None) -> None:
        call = NewCall(task_id=task, key=key, role="joint", model="sim", created_utc=WHEN,
                       exploration_id=exploration, prompt_tokens=250)
        self.store.add_call(self.run_id, call, nodes)

    def program(self, task: str, index: int, passed: bool | None, tokens: int = 100) -> None:
        """A first program ``p<index>``, executed unless ``passed`` is None."""
        key = f"{task}|p{index}"
        self.step(task, f"generate|{key}", [NewNode(task_id=task, key=key, kind="program",
                  model="sim", text="print(1)", code="print(1)", tokens=tokens,
                  sample_index=index, created_utc=WHEN)])
        if passed is not None:
            self.execute(key, passed)

    def repair(self, task: str, program: int, index: int, passed: bool) -> None:
        """Feedback ``f<index>`` on program ``p<program>`` and its repair ``r0``."""
        parent = f"{task}|p{program}"
        fb = f"{parent}|f{index}"
        self.step(task, f"joint|{fb}", [
            NewNode(task_id=task, key=fb, kind="feedback", parent_key=parent, model="sim",
                    text="It prints a constant.", tokens=30, sample_index=index, created_utc=WHEN),
            NewNode(task_id=task, key=f"{fb}|r0", kind="program", parent_key=fb, model="sim",
                    text="print(2)", code="print(2)", tokens=90, created_utc=WHEN),
        ])
        self.execute(f"{fb}|r0", passed)

    def execute(self, key: str, passed: bool) -> None:
        node = self.store.get_node_by_key(self.run_id, key)
        assert node is not None
        self.store.record_verdict(node.id, verdict(passed))


def build_run(store: Store, name: str = "demo", *, status: str = "finished") -> Run:
    """A 5-task APPS-like run: solved, solved only by repair, unsolved, not started,
    and one human feedback whose repair failed."""
    config = RunConfig(dataset="apps", model="sim", feedback_model="sim-strong", np=3, nfr=1,
                       mode="separate")
    run = store.create_run(name, config, isolation="namespaces+rlimits", simulated=True,
                           status=status, created_utc=WHEN)
    store.add_tasks(run.id, [Task(id=t, source="apps", spec=spec, tests={}, difficulty=d)
                             for t, (d, spec) in TASKS.items()])
    w = Writer(store, run.id)
    for task, results in FIRST.items():
        for i, passed in enumerate(results):
            w.program(task, i, passed)
        for program, repairs in REPAIRS.get(task, []):
            if results[program]:
                continue
            for j, passed in enumerate(repairs):
                w.repair(task, program, j, passed)
    p0 = store.get_node_by_key(run.id, "apps/test/0004|p0")
    assert p0 is not None
    # A person's feedback and its repair: an exploration, outside the run's sample.
    x = store.create_exploration(run.id, "feedback", source="app", created_utc=WHEN).id
    human = store.add_feedback(p0.id, "Use a BFS from the start node.", exploration_id=x)
    w.step("apps/test/0004", "repair|human", [NewNode(
        task_id="apps/test/0004", key=f"{human.key}|r0", kind="program", parent_key=human.key,
        model="sim", text="print(3)", code="print(3)", tokens=80, created_utc=WHEN,
        exploration_id=x)], exploration=x)
    w.execute(f"{human.key}|r0", False)
    return store.get_run_by_id(run.id)


def make_db(path: Path, *runs: str) -> Path:
    """A database file at ``path`` holding ``build_run`` runs with these names."""
    with Store.open(path) as store:
        for name in runs or ("demo",):
            build_run(store, name)
    return path


def test_build_run_counts(tmp_path: Path) -> None:
    with Store.open(make_db(tmp_path / "demo.db")) as store:
        run = store.get_run("demo")
        t = store.run_totals(run.id)
        store_totals_explored = store.run_totals(run.id, scope="explorations")
        rows = {r.task_id: r for r in store.task_rows(run.id)}
    assert (t.tasks, t.attempted, t.solved, t.solved_by_repair) == (5, 4, 2, 1)
    assert (t.programs, t.programs_passed, t.repairs, t.repairs_passed) == (12, 2, 8, 2)
    assert t.feedback_by_origin == {"model": 8}  # the person's feedback is an exploration
    x = store_totals_explored
    assert (x.repairs, x.repairs_passed, x.feedback_by_origin) == (1, 0, {"human": 1})
    assert rows["apps/test/0004"].explored == 2 and rows["apps/test/0003"].explored == 0
    assert rows["apps/test/0002"].solved_by_repair and not rows["apps/test/0003"].solved
    assert not rows["apps/test/0005"].attempted and rows["apps/test/0004"].has_human_feedback
