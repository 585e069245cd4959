"""Store reads: task list counts, totals, origins, annotation queue, live changes, frozen trees."""

from __future__ import annotations

from pathlib import Path

import pytest
from repair_tui.core.datasets.task import Task
from repair_tui.core.estimate.exact import FrozenTask, Sample
from repair_tui.core.store.records import NewCall, NewNode, RunConfig
from repair_tui.core.store.store import Store
from repair_tui.core.store.views import spec_title
from repair_tui.sandbox.result import Verdict


def ok(passed: bool) -> Verdict:
    return Verdict(passed=passed, results=[], isolation="rlimits",
                   fault=None if passed else "wrong_answer on test 0")


class Builder:
    """Writes nodes the way the engine does: one call per step, then verdicts."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store, self.run_id, self.n = store, run_id, 0

    def step(self, task: str, *nodes: tuple[str, str, str | None, int]) -> None:
        """nodes: (key, kind, parent_key, tokens); keys are relative to the task."""
        self.n += 1
        new = [NewNode(task_id=task, key=f"{task}|{k}", kind=kind, tokens=tok,
                       parent_key=None if p is None else f"{task}|{p}") for k, kind, p, tok in nodes]
        self.store.add_call(self.run_id, NewCall(task_id=task, key=f"call{self.n}", role="joint",
                                                 model="sim"), new)

    def verdict(self, task: str, key: str, passed: bool) -> None:
        node = self.store.get_node_by_key(self.run_id, f"{task}|{key}")
        assert node is not None
        self.store.record_verdict(node.id, ok(passed))


def build(store: Store) -> int:
    """A: p0 passes; p1 fails, f0 -> r0 passes, r1 fails, human h0 -> r0 fails; p2 pending.
    B: p0 fails -> f0 -> r0 fails -> f0 -> r0 passes (depth 2).  C: nothing.  D: p0 pending."""
    run = store.create_run("reads", RunConfig(dataset="apps", model="sim"), isolation="rlimits",
                           simulated=True)
    store.add_tasks(run.id, [
        Task(id="A", source="apps", spec="Count the sheep.\nInput: n", tests={}, difficulty="interview"),
        Task(id="B", source="apps", spec="\n  Sort it.", tests={}, difficulty="introductory"),
        Task(id="C", source="apps", spec="", tests={}, difficulty="interview"),
        Task(id="D", source="apps", spec="x", tests={}, difficulty="competition"),
    ])
    b = Builder(store, run.id)
    b.step("A", ("p0", "program", None, 10), ("p1", "program", None, 12), ("p2", "program", None, 11))
    b.verdict("A", "p0", True)
    b.verdict("A", "p1", False)
    b.step("A", ("p1|f0", "feedback", "p1", 5), ("p1|f0|r0", "program", "p1|f0", 8))
    b.step("A", ("p1|f0|r1", "program", "p1|f0", 9))
    b.verdict("A", "p1|f0|r0", True)
    b.verdict("A", "p1|f0|r1", False)
    p1 = store.get_node_by_key(run.id, "A|p1")
    assert p1 is not None
    store.add_feedback(p1.id, "think about zero")
    b.step("A", ("p1|h0|r0", "program", "p1|h0", 7))
    b.verdict("A", "p1|h0|r0", False)
    b.step("B", ("p0", "program", None, 6))
    b.verdict("B", "p0", False)
    b.step("B", ("p0|f0", "feedback", "p0", 4), ("p0|f0|r0", "program", "p0|f0", 3))
    b.verdict("B", "p0|f0|r0", False)
    b.step("B", ("p0|f0|r0|f0", "feedback", "p0|f0|r0", 2), ("p0|f0|r0|f0|r0", "program", "p0|f0|r0|f0", 5))
    b.verdict("B", "p0|f0|r0|f0|r0", True)
    b.step("D", ("p0", "program", None, 1))
    return run.id


@pytest.fixture
def store() -> Store:
    return Store.open(":memory:")


def test_task_rows_count_each_task(store: Store) -> None:
    run_id = build(store)
    rows = {r.task_id: r for r in store.task_rows(run_id)}
    assert list(rows) == ["A", "B", "C", "D"]
    a, b, c, d = rows["A"], rows["B"], rows["C"], rows["D"]
    assert (a.programs, a.programs_passed, a.repairs, a.repairs_passed, a.pending) == (3, 1, 3, 1, 1)
    assert (a.feedback, a.tokens, a.solved, a.solved_by_repair, a.has_human_feedback) == (
        2, 62, True, False, True)
    assert (b.programs, b.programs_passed, b.repairs, b.repairs_passed, b.tokens) == (1, 0, 2, 1, 20)
    assert (b.solved, b.solved_by_repair, b.has_human_feedback, b.title) == (True, True, False, "Sort it.")
    assert (c.programs, c.attempted, c.solved, c.title) == (0, False, False, "")
    assert (d.programs, d.pending, d.attempted, d.difficulty) == (1, 1, False, "competition")
    assert a.title == "Count the sheep."


def test_run_totals_and_summary(store: Store) -> None:
    run_id = build(store)
    t = store.run_totals(run_id)
    assert (t.tasks, t.attempted, t.solved, t.solved_by_repair) == (4, 2, 2, 1)
    assert (t.programs, t.programs_passed, t.repairs, t.repairs_passed, t.pending) == (5, 1, 5, 2, 2)
    assert t.feedback_by_origin == {"model": 3, "human": 1}
    assert (t.tokens, t.calls, t.calls_failed) == (83, 8, 0)
    (summary,) = store.list_runs()
    assert (summary.name, summary.tasks, summary.solved, summary.programs, summary.repairs,
            summary.tokens, summary.status) == ("reads", 4, 2, 5, 5, 83, "running")


def test_origin_stats_compare_model_and_human_feedback(store: Store) -> None:
    stats = store.origin_stats(build(store))
    m, h = stats["model"], stats["human"]
    assert (m.feedback, m.repairs, m.repairs_executed, m.repairs_passed) == (3, 4, 4, 2)
    assert (h.feedback, h.repairs, h.repairs_executed, h.repairs_passed) == (1, 1, 1, 0)
    assert m.pass_rate == 0.5 and h.pass_rate == 0.0
    assert "tests" not in stats


def test_annotation_queue_lists_failures_without_human_feedback(store: Store) -> None:
    run_id = build(store)
    keys = [n.key for n in store.annotation_queue(run_id)]
    assert keys == ["A|p1|f0|r1", "A|p1|h0|r0", "B|p0", "B|p0|f0|r0"]
    assert [n.key for n in store.annotation_queue(run_id, "B")] == ["B|p0", "B|p0|f0|r0"]
    assert [n.key for n in store.annotation_queue(run_id, limit=2)] == keys[:2]


def test_task_nodes_put_parents_first(store: Store) -> None:
    run_id = build(store)
    nodes = store.task_nodes(run_id, "B")
    seen: set[int] = set()
    for node in nodes:
        assert node.parent_id is None or node.parent_id in seen
        seen.add(node.id)
    assert [n.depth for n in nodes] == [0, 1, 1, 2, 2]


def test_frozen_tasks_follow_the_papers_token_rule(store: Store) -> None:
    run_id = build(store)
    a = FrozenTask("A", (
        Sample(10, True),
        Sample(12, False, (Sample(13, True), Sample(14, False), Sample(7, False))),
    ), "interview")
    b = FrozenTask("B", (Sample(6, False, (Sample(7, False, (Sample(7, True),)),)),), "introductory")
    assert store.frozen_tasks(run_id) == [a, b]
    assert store.frozen_tasks(run_id, difficulty="introductory") == [b]
    assert store.frozen_tasks(run_id, difficulty="competition") == []


def test_changes_since_returns_only_new_or_updated_nodes(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    writer, reader = Store.open(path), Store.open(path)
    run_id = build(writer)
    everything, mark = reader.changes_since(run_id, 0)
    assert len(everything) == len(writer.nodes_by_key(run_id))
    assert reader.changes_since(run_id, mark) == ([], mark)
    version = reader.data_version()
    pending = writer.get_node_by_key(run_id, "A|p2")
    assert pending is not None
    writer.record_verdict(pending.id, ok(True))
    writer.add_feedback(pending.id, "nice")
    assert reader.data_version() != version
    changed, mark2 = reader.changes_since(run_id, mark)
    assert [(n.key, n.passed) for n in changed] == [("A|p2", True), ("A|p2|h0", None)]
    assert mark2 > mark and reader.mark() == mark2
    assert reader.changes_since(run_id, mark2) == ([], mark2)


def test_data_version_moves_on_own_writes_too(store: Store) -> None:
    before = store.data_version()
    build(store)
    assert store.data_version() != before


@pytest.mark.parametrize(("spec", "title"), [
    ('from typing import List\n\n\ndef f(x):\n    """ Return the sum.\n    >>> f(1)\n    """\n', "Return the sum."),
    ("def g():\n    '''\n    Sort the list.\n    '''", "Sort the list."),
    ('def h():\n    """One line."""\n', "One line."),
    ("\n\nPolycarp has n coins.\n", "Polycarp has n coins."),
    ("", ""),
])
def test_spec_title(spec: str, title: str) -> None:
    assert spec_title(spec) == title
