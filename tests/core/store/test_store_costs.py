"""The store's cost reads: tokens per model, prompt shares per node, costed trees."""

from __future__ import annotations

from pathlib import Path

import pytest
from repair_tui.core.datasets.task import Task
from repair_tui.core.estimate.costs import ModelTokens, NodeTokens, Price, PriceTable, node_dollars
from repair_tui.core.store.records import NewCall, NewNode, RunConfig
from repair_tui.core.store.store import Store
from repair_tui.sandbox.result import Status, Verdict
from repair_tui.sandbox.result import TestResult as Outcome


def _verdict(passed: bool) -> Verdict:
    return Verdict(passed=passed, results=[Outcome(0, Status.PASSED if passed else Status.WRONG_ANSWER)],
                   isolation="test", fault=None if passed else "wrong_answer on test 0")


def _run(db: Path) -> int:
    """One task: a generate call (prompt 100, two programs), a separate feedback call by
    model 'fb' (prompt 300, one feedback) and a repair call (prompt 500, one repair),
    and a tests-only feedback with no call."""
    with Store.open(db) as store:
        run = store.create_run("costs", RunConfig(dataset="jsonl", model="code", feedback_model="fb",
                                                  mode="separate"), isolation="test", simulated=True, status="finished")
        store.add_tasks(run.id, [Task(id="t", source="jsonl", spec="s", tests={})])
        _, progs = store.add_call(run.id, NewCall("t", "generate|t|0", "generate", "code", prompt_tokens=100,
                                                  completion_tokens=30), [
            NewNode("t", "t|p0", "program", model="code", text="a", code="a", tokens=10, sample_index=0),
            NewNode("t", "t|p1", "program", model="code", text="b", code="b", tokens=20, sample_index=1),
        ])
        store.record_verdicts([(progs[0].id, _verdict(False)), (progs[1].id, _verdict(True))])
        store.add_call(run.id, NewCall("t", "feedback|t|p0|0", "feedback", "fb", prompt_tokens=300,
                                       completion_tokens=40),
                       [NewNode("t", "t|p0|f0", "feedback", parent_key="t|p0", model="fb", text="why", tokens=40)])
        _, reps = store.add_call(run.id, NewCall("t", "repair|t|p0|f0|0", "repair", "code", prompt_tokens=500,
                                                 completion_tokens=15),
                                 [NewNode("t", "t|p0|f0|r0", "program", parent_key="t|p0|f0", model="code",
                                          text="c", code="c", tokens=15)])
        store.record_verdict(reps[0].id, _verdict(True))
        store.add_nodes(run.id, [NewNode("t", "t|p0|t0", "feedback", "tests", parent_key="t|p0", text="err",
                                         tokens=0, sample_index=0)])
        return int(run.id)


def test_token_parts_share_each_call_prompt_among_its_nodes(tmp_path: Path) -> None:
    run_id = _run(tmp_path / "c.db")
    with Store.open(tmp_path / "c.db") as store:
        parts = store.token_parts(run_id)
        totals = store.run_totals(run_id)
    assert ModelTokens("code", 600, 45) in parts and ModelTokens("fb", 300, 40) in parts
    assert sum(p.prompt or 0 for p in parts) == totals.prompt_tokens == 900


def test_costed_tasks_weigh_nodes_with_the_cost_function(tmp_path: Path) -> None:
    run_id = _run(tmp_path / "c.db")
    table = PriceTable({"code": Price(1.0, 2.0), "fb": Price(10.0, 20.0)}, ("t",))
    with Store.open(tmp_path / "c.db") as store:
        seen: list[NodeTokens] = []
        by_tokens = store.costed_tasks(run_id, lambda n: seen.append(n) or n.completion)
        assert by_tokens == store.frozen_tasks(run_id)
        (task,) = store.costed_tasks(run_id, lambda n: node_dollars(n, table))
    p0 = task.programs[0]
    assert p0.tokens == pytest.approx((50 * 1 + 10 * 2) / 1e6)  # half the generate prompt
    # Its repair carries the feedback (prompt 300 + 40 out, model fb) and the repair call.
    assert p0.repairs[0].tokens == pytest.approx((300 * 10 + 40 * 20 + 500 * 1 + 15 * 2) / 1e6)
    assert NodeTokens(None, 0.0, 0.0) in seen  # the tests-only feedback costs nothing


def test_imported_trees_have_unknown_prompts(tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        run = store.create_run("imp", RunConfig(dataset="jsonl", model="m"), isolation="", simulated=False, status="imported")
        store.add_tasks(run.id, [Task(id="t", source="jsonl", spec="s", tests={})])
        store.add_nodes(run.id, [NewNode("t", "t|p0", "program", model="m", text="a", code="a", tokens=7)])
        assert store.token_parts(run.id) == [ModelTokens("m", None, 7)]
