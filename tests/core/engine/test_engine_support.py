"""Helpers shared by the engine tests: a sandbox fixture, an event recorder, a tree
snapshot that ignores ids and timestamps, and a checker of a finished run's shape.

The module holds no tests of its own; the engine test modules import from it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from repair_tui.core.engine import events as ev
from repair_tui.core.llm.tokens import count_tokens
from repair_tui.core.store.records import Node, Run, call_key, feedback_key, program_key, repair_key
from repair_tui.core.store.store import Store
from repair_tui.sandbox.runner import Sandbox

# HumanEval tasks where the simulated `sim` model writes both passing and failing programs.
HE_IDS = ("HumanEval/6", "HumanEval/7", "HumanEval/13", "HumanEval/19")


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    """One real sandbox for a test module (starting one costs a fork server)."""
    with Sandbox(workers=4) as sandbox:
        yield sandbox


class Recorder:
    """An event sink that keeps every event, for assertions."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []

    def __call__(self, event: ev.Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def tree(store: Store, run_id: int) -> dict[str, tuple[Any, ...]]:
    """A run's nodes by key, without ids or timestamps: what two runs can share."""
    nodes = list(store.iter_nodes(run_id))
    keys = {n.id: n.key for n in nodes}
    out: dict[str, tuple[Any, ...]] = {}
    for n in nodes:
        assert n.key not in out, f"duplicate node {n.key}"
        out[n.key] = (n.kind, n.origin, keys.get(n.parent_id) if n.parent_id else None, n.depth,
                      n.model, n.text, n.code, n.tokens, n.passed, n.fault, n.sample_index)
    return out


def call_table(store: Store, run_id: int) -> dict[str, tuple[Any, ...]]:
    """A run's calls by key: (role, model, status, n, seed, completion tokens)."""
    out: dict[str, tuple[Any, ...]] = {}
    for c in store.calls(run_id):
        assert c.key not in out, f"call {c.key} stored twice"
        out[c.key] = (c.role, c.model, c.status, c.params.get("n"), c.params.get("seed"),
                      c.completion_tokens)
    return out


def choice_texts(call_response: Any) -> list[str]:
    """The choices' texts of a stored call's raw response bodies, in order."""
    return [ch["message"]["content"] for body in call_response for ch in body["choices"]]


def check_run(store: Store, run: Run) -> dict[str, int]:
    """Assert a finished run's trees have the shape its configuration implies.

    Returns counts (programs, failing, repairs, feedback, calls, deepest) so callers can
    check the run was not trivial.
    """
    cfg = run.config
    nodes = list(store.iter_nodes(run.id))
    by_id = {n.id: n for n in nodes}
    assert len({n.key for n in nodes}) == len(nodes), "duplicate node keys"
    children: dict[int, list[Node]] = defaultdict(list)
    for n in nodes:
        if n.parent_id is not None:
            children[n.parent_id].append(n)
    calls = {c.key: c for c in store.calls(run.id)}
    assert all(c.status == "ok" for c in calls.values())
    expected_calls: set[str] = set()
    for task in store.get_tasks(run.id):
        firsts = [n for n in nodes if n.task_id == task.id and n.parent_id is None]
        assert [n.key for n in firsts] == [program_key(task.id, i) for i in range(cfg.np)]
        assert {n.call_id for n in firsts} == {calls[call_key(task.id, "generate", None, 0)].id}
        expected_calls.add(call_key(task.id, "generate", None, 0))
    for n in nodes:
        parent = by_id.get(n.parent_id) if n.parent_id else None
        if n.kind == "program":
            assert n.passed is not None, f"{n.key} not executed"
            assert n.origin == "model" and n.code is not None and n.model == cfg.model
            assert (n.fault is None) == bool(n.passed)
            assert store.test_results(n.id), f"{n.key} has no test results"
            if parent is None:
                assert n.depth == 0
            else:
                assert parent.kind == "feedback" and n.depth == parent.depth
                assert n.key == repair_key(parent.key, n.sample_index)
        else:
            assert parent is not None and parent.kind == "program"
            assert parent.passed is False and parent.depth < cfg.depth
            assert n.depth == parent.depth + 1
    for program in (n for n in nodes if n.kind == "program"):
        below = children[program.id]
        if program.passed or program.depth >= cfg.depth:
            assert below == [], f"{program.key} should not be repaired"
            continue
        expected_calls |= _check_branch(store, cfg.mode, cfg, program, below, children, calls)
    assert set(calls) == expected_calls
    programs = [n for n in nodes if n.kind == "program"]
    return {
        "programs": len(programs), "failing": sum(not p.passed for p in programs),
        "repairs": sum(p.depth > 0 for p in programs),
        "feedback": sum(n.kind == "feedback" for n in nodes), "calls": len(calls),
        "deepest": max(n.depth for n in nodes),
    }


def _check_branch(store: Store, mode: str, cfg: Any, program: Node, feedback: list[Node],
                  children: dict[int, list[Node]], calls: dict[str, Any]) -> set[str]:
    """Check the feedback and repairs under one failing program; return their call keys."""
    task = program.task_id
    if mode == "tests-only":
        (note,) = feedback
        assert note.key == feedback_key(program.key, 0, "tests") and note.origin == "tests"
        assert note.text == (program.error_message or "") and note.tokens == 0
        assert note.call_id is None
        repairs = children[note.id]
        assert [r.key for r in repairs] == [repair_key(note.key, i) for i in range(cfg.nfr)]
        key = call_key(task, "repair", note.key, 0)
        call = calls[key]
        assert call.prompt_version == "tests-only-v1" and call.params["n"] == cfg.nfr
        assert {r.call_id for r in repairs} == {call.id}
        return {key}
    assert [f.key for f in feedback] == [feedback_key(program.key, i) for i in range(cfg.nfr)]
    assert all(f.origin == "model" for f in feedback)
    keys: set[str] = set()
    if mode == "joint":
        key = call_key(task, "joint", program.key, 0)
        call = calls[key]
        texts = choice_texts(call.response)
        for i, f in enumerate(feedback):
            (repair,) = children[f.id]
            assert repair.key == repair_key(f.key, 0)
            assert f.call_id == repair.call_id == call.id and f.meta.get("joint")
            # The joint completion's tokens are split between explanation and program.
            assert f.tokens + repair.tokens == count_tokens(texts[i])
            assert 0 < f.tokens < count_tokens(texts[i])
        assert call.completion_tokens == sum(n.tokens for n in store.call_nodes(call.id))
        return {key}
    feedback_model = cfg.feedback_model or cfg.model
    key = call_key(task, "feedback", program.key, 0)
    assert calls[key].model == feedback_model and calls[key].params["n"] == cfg.nfr
    keys.add(key)
    for f in feedback:
        assert f.model == feedback_model and f.call_id == calls[key].id
        (repair,) = children[f.id]
        rkey = call_key(task, "repair", f.key, 0)
        assert repair.call_id == calls[rkey].id and calls[rkey].params["n"] == 1
        # The repair prompt carries the feedback text.
        assert f.text in calls[rkey].messages[-1]["content"]
        keys.add(rkey)
    return keys


def check_events(rec: Recorder, store: Store, run: Run) -> None:
    """The events of one uninterrupted run match what it stored."""
    nodes = list(store.iter_nodes(run.id))
    assert isinstance(rec.events[0], ev.RunStarted) and not rec.events[0].resumed
    assert rec.events[0].tasks == len(store.get_tasks(run.id))
    last = rec.events[-1]
    assert isinstance(last, ev.RunFinished) and last.status == "finished"
    calls = store.calls(run.id)
    finished = rec.of(ev.CallFinished)
    assert len(finished) == len(calls) and not any(e.cached for e in finished)
    assert Counter(e.role for e in finished) == Counter(c.role for c in calls)
    assert sorted(e.node_id for e in rec.of(ev.NodeStored)) == sorted(n.id for n in nodes)
    executed = {e.node_id: e.passed for e in rec.of(ev.ProgramExecuted)}
    assert executed == {n.id: n.passed for n in nodes if n.kind == "program"}
    solved = {e.task_id: e.solved for e in rec.of(ev.TaskFinished)}
    by_task = {r.task_id: r.solved for r in store.task_rows(run.id)}
    assert solved == by_task
