"""Store writes: runs, tasks, calls with their nodes, verdicts, idempotency, tree shape."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from repair_tui.core.datasets.task import Task
from repair_tui.core.errors import UserError
from repair_tui.core.store.records import (
    NewCall,
    NewNode,
    RunConfig,
    call_key,
    feedback_key,
    program_key,
)
from repair_tui.core.store.store import Store
from repair_tui.sandbox import result as sr
from repair_tui.sandbox.result import Status, Verdict

T = "HumanEval/7"


@pytest.fixture
def store() -> Store:
    return Store.open(":memory:")


def new_run(store: Store, name: str = "r1") -> int:
    run = store.create_run(name, RunConfig(dataset="humaneval", model="sim"), isolation="rlimits",
                           simulated=True)
    store.add_tasks(run.id, [Task(id=T, source="humaneval", spec="def f(): ...", tests={})])
    return run.id


def program(i: int, tokens: int = 10) -> NewNode:
    return NewNode(task_id=T, key=program_key(T, i), kind="program", text=f"raw {i}",
                   code=f"code {i}", tokens=tokens, sample_index=i, model="sim")


def verdict(passed: bool, n: int = 2) -> Verdict:
    results = [sr.TestResult(i, Status.PASSED if passed else Status.WRONG_ANSWER, input=f"in{i}",
                          expected="1", got="1" if passed else "2") for i in range(n)]
    return Verdict(passed=passed, results=results, isolation="rlimits",
                   fault=None if passed else "wrong_answer on test 0", duration=0.5,
                   error_message=None if passed else "expected 1, got 2", extra={"k": 1})


def test_runs_are_found_by_name_or_id_and_missing_names_are_listed(store: Store) -> None:
    run_id = new_run(store, "alpha")
    new_run(store, "beta")
    assert store.get_run("alpha").id == run_id
    assert store.get_run(run_id).name == "alpha"
    assert store.get_run(str(run_id)).name == "alpha"
    assert store.find_run("gamma") is None
    with pytest.raises(UserError, match=r"'gamma'.*alpha, beta"):
        store.get_run("gamma")
    with pytest.raises(UserError, match="already exists"):
        new_run(store, "alpha")
    with pytest.raises(UserError):
        store.create_run(" padded", RunConfig(dataset="d", model="m"), isolation="", simulated=False)


def test_run_status_and_config_updates(store: Store) -> None:
    run_id = new_run(store)
    run = store.set_run_status(run_id, "interrupted", "stopped by Ctrl-C")
    assert (run.status, run.message) == ("interrupted", "stopped by Ctrl-C")
    run = store.update_run(run_id, config=RunConfig(dataset="humaneval", model="sim", np=3),
                           isolation="namespaces")
    assert (run.config.np, run.isolation, run.status) == (3, "namespaces", "interrupted")
    with pytest.raises(ValueError):
        store.set_run_status(run_id, "exploded")


def test_tasks_are_added_once_in_order(store: Store) -> None:
    run_id = new_run(store)
    more = [Task(id=f"HumanEval/{i}", source="humaneval", spec="s", tests={"style": "assert"},
                 references=("r",), meta={"m": i}) for i in (1, 2)]
    assert store.add_tasks(run_id, more) == 2
    assert store.add_tasks(run_id, [*more, Task(id=T, source="x", spec="", tests={})]) == 0
    assert [t.id for t in store.get_tasks(run_id)] == [T, "HumanEval/1", "HumanEval/2"]
    assert store.get_task(run_id, "HumanEval/2") == more[1]
    with pytest.raises(UserError, match="no task"):
        store.get_task(run_id, "HumanEval/99")


def test_a_call_and_its_nodes_are_stored_together_and_idempotently(store: Store) -> None:
    run_id = new_run(store)
    call = NewCall(task_id=T, key=call_key(T, "generate", None, 0), role="generate", model="sim",
                   messages=[{"role": "user", "content": "hi"}], params={"n": 2},
                   response=[{"id": "x"}], prompt_tokens=5, completion_tokens=20, latency=0.1)
    stored, nodes = store.add_call(run_id, call, [program(0), program(1)])
    assert [n.call_id for n in nodes] == [stored.id, stored.id]
    assert all(n.passed is None and n.depth == 0 for n in nodes)
    assert (stored.messages, stored.params, stored.response) == (call.messages, {"n": 2}, [{"id": "x"}])
    again, nodes_again = store.add_call(run_id, call, [program(0), program(1), program(2)])
    assert again == stored and nodes_again == nodes
    assert store.get_call_by_key(run_id, call.key) == stored
    assert len(store.nodes_by_key(run_id)) == 2


def test_what_a_write_returns_is_what_a_read_gives(store: Store) -> None:
    """Writes build their records from the values written (no read-back): they must
    equal a fresh read, SQLite's column types included (an int latency reads as REAL)."""
    run_id = new_run(store)
    call = NewCall(task_id=T, key="g", role="generate", model="sim", params={"stop": ("a",)},
                   messages=[{"role": "user", "content": "é\x00"}], latency=1,
                   response=[{"choices": []}], prompt_tokens=None)
    p1 = NewNode(task_id=T, key=program_key(T, 1), kind="program", text="", tokens=0,
                 sample_index=1, meta={"finish_reason": "length", "n": [1, 2]})
    stored, nodes = store.add_call(run_id, call, [program(0), p1])
    assert stored == store.get_call(stored.id) and isinstance(stored.latency, float)
    assert nodes == [store.get_node(n.id) for n in nodes]
    assert [n.seq for n in nodes] == [nodes[0].seq, nodes[0].seq + 1]
    fb = NewNode(task_id=T, key=feedback_key(nodes[0].key, 0), kind="feedback",
                 parent_key=nodes[0].key, text="why", exploration_id=None)
    added = store.add_nodes(run_id, [fb, program(0)])  # program(0) is stored: returned as is
    assert added == [store.get_node(n.id) for n in added] and added[1] == nodes[0]
    done = store.record_verdicts([(nodes[1].id, verdict(False)), (nodes[0].id, verdict(True))])
    assert [n.id for n in done] == [nodes[1].id, nodes[0].id]
    assert done == [store.get_node(n.id) for n in done]


def test_a_failed_call_is_replaced_by_its_retry(store: Store) -> None:
    run_id = new_run(store)
    key = call_key(T, "generate", None, 0)
    failed, _ = store.add_call(run_id, NewCall(task_id=T, key=key, role="generate", model="sim",
                                               status="error", error="timeout"))
    retry, nodes = store.add_call(run_id, NewCall(task_id=T, key=key, role="generate", model="sim"),
                                  [program(0)])
    assert retry.id == failed.id and retry.status == "ok" and retry.error is None
    assert nodes[0].call_id == retry.id
    with pytest.raises(ValueError, match="failed but has nodes"):
        store.add_call(run_id, NewCall(task_id=T, key="k2", role="generate", model="sim",
                                       status="error"), [program(5)])


def test_a_step_is_all_or_nothing(store: Store) -> None:
    run_id = new_run(store)
    bad = NewNode(task_id=T, key="orphan", kind="feedback", parent_key="missing")
    with pytest.raises(ValueError, match="not stored"):
        store.add_call(run_id, NewCall(task_id=T, key="c", role="generate", model="sim"),
                       [program(0), bad])
    assert store.get_call_by_key(run_id, "c") is None
    assert store.nodes_by_key(run_id) == {}


def test_tree_shape_is_checked_and_depth_computed(store: Store) -> None:
    run_id = new_run(store)
    (p0,) = store.add_nodes(run_id, [program(0)])
    f0 = NewNode(task_id=T, key=feedback_key(p0.key, 0), kind="feedback", parent_key=p0.key, tokens=3)
    r0 = NewNode(task_id=T, key=f0.key + "|r0", kind="program", parent_key=f0.key, tokens=4)
    f1 = NewNode(task_id=T, key=r0.key + "|f0", kind="feedback", parent_key=r0.key)
    r1 = NewNode(task_id=T, key=f1.key + "|r0", kind="program", parent_key=f1.key)
    nodes = store.add_nodes(run_id, [f0, r0, f1, r1])
    assert [n.depth for n in [p0, *nodes]] == [0, 1, 1, 2, 2]
    assert nodes[1].is_repair and not p0.is_repair
    with pytest.raises(ValueError, match="needs a parent"):
        store.add_nodes(run_id, [NewNode(task_id=T, key="x", kind="feedback")])
    with pytest.raises(ValueError, match="must be a feedback"):
        store.add_nodes(run_id, [NewNode(task_id=T, key="y", kind="program", parent_key=p0.key)])
    with pytest.raises(ValueError, match="must be a program"):
        store.add_nodes(run_id, [NewNode(task_id=T, key="z", kind="feedback", parent_key=f0.key)])
    with pytest.raises(ValueError, match="no task"):
        store.add_nodes(run_id, [NewNode(task_id="other", key="w", kind="program")])
    with pytest.raises(ValueError, match="kind"):
        store.add_nodes(run_id, [NewNode(task_id=T, key="v", kind="test")])


def test_verdicts_replace_earlier_results(store: Store) -> None:
    run_id = new_run(store)
    (p0,) = store.add_nodes(run_id, [program(0)])
    failed = store.record_verdict(p0.id, verdict(False, n=3))
    assert (failed.passed, failed.fault, failed.exec_duration) == (False, "wrong_answer on test 0", 0.5)
    assert failed.exec_extra == {"k": 1} and failed.executed_utc is not None
    assert store.test_results(p0.id) == verdict(False, n=3).results
    passed = store.record_verdict(p0.id, verdict(True, n=1))
    assert passed.passed is True and passed.seq > failed.seq
    assert [r.status for r in store.test_results(p0.id)] == [Status.PASSED]
    fb = store.add_feedback(p0.id, "why")
    with pytest.raises(ValueError, match="not a stored program"):
        store.record_verdict(fb.id, verdict(True))


def test_human_feedback_gets_the_next_free_key(store: Store) -> None:
    run_id = new_run(store)
    (p0,) = store.add_nodes(run_id, [program(0)])
    a = store.add_feedback(p0.id, "first")
    b = store.add_feedback(p0.id, "second")
    t = store.add_feedback(p0.id, "the error", origin="tests")
    assert [a.key, b.key, t.key] == [f"{p0.key}|h0", f"{p0.key}|h1", f"{p0.key}|t0"]
    assert (a.origin, a.depth, a.parent_id, a.sample_index) == ("human", 1, p0.id, 0)
    assert store.next_index(run_id, T, p0.id, "feedback", "human") == 2
    assert store.next_index(run_id, T, p0.id, "feedback", "model") == 0
    assert store.next_index(run_id, T, None) == 1


def test_pending_programs_and_lookups(store: Store) -> None:
    run_id = new_run(store)
    p0, p1 = store.add_nodes(run_id, [program(0), program(1)])
    store.record_verdict(p0.id, verdict(True))
    assert [n.key for n in store.pending_programs(run_id)] == [p1.key]
    assert store.get_node_by_key(run_id, p1.key) == p1
    assert store.get_node_by_key(run_id, "nope") is None
    with pytest.raises(UserError, match="no node"):
        store.get_node(999)


def test_deleting_a_run_removes_everything_of_it(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "d.db")
    keep, gone = new_run(store, "keep"), new_run(store, "gone")
    for run_id in (keep, gone):
        _, (p0,) = store.add_call(run_id, NewCall(task_id=T, key="c", role="generate", model="m"),
                                  [program(0)])
        store.record_verdict(p0.id, verdict(False))
        store.add_feedback(p0.id, "text")
    store.delete_run(gone)
    assert store.run_names() == ["keep"]
    counts = {t: store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("tasks", "calls", "nodes", "test_results")}
    assert counts == {"tasks": 1, "calls": 1, "nodes": 2, "test_results": 2}
    assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.db.execute("INSERT INTO tasks (run_id, task_id, position, source) VALUES (42, 't', 0, 's')")
