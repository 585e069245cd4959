"""The Engine's single steps the app uses, on a real stored run: explain, a person's
feedback, repair from one feedback, rerun a branch, re-execute, repair the annotated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from repair_tui.core.engine import events as ev
from repair_tui.core.engine.run import run_repair
from repair_tui.core.engine.steps import Engine, open_engine
from repair_tui.core.errors import UserError
from repair_tui.core.store.records import Node, RunConfig, call_key
from repair_tui.core.store.store import Store
from repair_tui.sandbox import result as res
from repair_tui.sandbox.runner import Sandbox
from test_engine_support import HE_IDS, Recorder, box, tree  # noqa: F401 -- box is a fixture

CONFIG = RunConfig(dataset="humaneval", model="sim", np=3, nfr=1, task_ids=HE_IDS, seed=1)


@pytest.fixture
async def world(tmp_path: Path, box: Sandbox) -> AsyncIterator[tuple[Store, Engine, Recorder]]:  # noqa: F811
    """A finished joint run and an Engine on it reporting to a Recorder."""
    store = Store.open(tmp_path / "steps.db")
    run = await run_repair(store, "steps", CONFIG, sandbox=box)
    rec = Recorder()
    engine = open_engine(store, run.id, sink=rec, sandbox=box)
    yield store, engine, rec
    await engine.aclose()
    store.close()


def failing(store: Store, engine: Engine, depth: int = 0) -> list[Node]:
    return [n for n in store.iter_nodes(engine.run.id)
            if n.kind == "program" and n.depth == depth and n.passed is False]


def passing(store: Store, engine: Engine) -> Node:
    return next(n for n in store.iter_nodes(engine.run.id) if n.kind == "program" and n.passed)


def kept(before: dict[str, tuple[object, ...]], after: dict[str, tuple[object, ...]]) -> None:
    """Every node stored before a step is still there, unchanged."""
    assert {k: after.get(k) for k in before} == before


async def test_explain_adds_model_feedback_beside_the_old(world: tuple[Store, Engine, Recorder]) -> None:
    store, engine, rec = world
    program = failing(store, engine)[0]
    before = tree(store, engine.run.id)
    new = await engine.explain(program.id, n=2)
    x = new[0].exploration_id
    assert x is not None and store.get_exploration(x).kind == "explain"
    assert [f.key for f in new] == [f"{program.key}|x{x}f0", f"{program.key}|x{x}f1"]
    assert all(f.kind == "feedback" and f.origin == "model" and f.model == "sim" for f in new)
    assert all(f.parent_id == program.id and f.depth == 1 and f.text for f in new)
    assert all(store.children(f.id) == [] for f in new)  # explained, not repaired
    call = store.get_call_by_key(engine.run.id,
                                 call_key(program.task_id, "feedback", program.key, 0, x))
    assert call is not None and call.role == "feedback" and call.params["n"] == 2
    assert call.exploration_id == x
    kept(before, tree(store, engine.run.id))
    assert [e.node_id for e in rec.of(ev.NodeStored)] == [f.id for f in new]
    assert [e.role for e in rec.of(ev.CallFinished)] == ["feedback"]
    (strong,) = await engine.explain(program.id, model="sim-strong", temperature=0.2)
    y = strong.exploration_id
    assert strong.model == "sim-strong" and y not in (None, x) and strong.key == f"{program.key}|x{y}f0"
    call = store.calls(engine.run.id)[-1]
    assert call.model == "sim-strong" and call.params["temperature"] == 0.2
    with pytest.raises(UserError, match="passes its tests"):
        await engine.explain(passing(store, engine).id)
    with pytest.raises(UserError, match="not a program"):
        await engine.explain(new[0].id)


async def test_human_feedback_never_overwrites(world: tuple[Store, Engine, Recorder]) -> None:
    store, engine, rec = world
    program = failing(store, engine)[0]
    before = tree(store, engine.run.id)
    first = engine.add_human_feedback(program.id, "  The loop stops one element early.  ")
    second = engine.add_human_feedback(program.id, "Check the empty list.")
    x, y = first.exploration_id, second.exploration_id
    assert x is not None and y is not None and x != y
    assert (first.key, second.key) == (f"{program.key}|x{x}h0", f"{program.key}|x{y}h0")
    assert first.origin == second.origin == "human" and first.model is None
    assert first.text == "The loop stops one element early." and first.tokens == 0
    assert first.parent_id == program.id and first.depth == 1 and first.call_id is None
    kept(before, tree(store, engine.run.id))  # the model's feedback is untouched
    assert [e.node_id for e in rec.of(ev.NodeStored)] == [first.id, second.id]
    assert [f.id for f in store.human_feedback(engine.run.id)] == [first.id, second.id]
    with pytest.raises(UserError, match="empty"):
        engine.add_human_feedback(program.id, "   ")
    with pytest.raises(UserError, match="not a program"):
        engine.add_human_feedback(first.id, "feedback on a feedback")


async def test_repair_from_a_human_feedback_uses_its_text(world: tuple[Store, Engine, Recorder]) -> None:
    store, engine, rec = world
    program = failing(store, engine)[0]
    text = "Line 3 compares with < where it needs <=; ZEBRA-7 marks this note."
    human = engine.add_human_feedback(program.id, text)
    repairs = await engine.repair_from_feedback(human.id, n=2)
    x = repairs[0].exploration_id
    assert x not in (None, human.exploration_id)
    assert [r.key for r in repairs] == [f"{human.key}|x{x}r0", f"{human.key}|x{x}r1"]
    assert all(r.parent_id == human.id and r.depth == 1 and r.passed is not None for r in repairs)
    assert all(store.test_results(r.id) for r in repairs)
    assert len({r.call_id for r in repairs}) == 1 and repairs[0].call_id is not None
    call = store.get_call(repairs[0].call_id)
    assert call.role == "repair" and call.key == call_key(program.task_id, "repair", human.key, 0, x)
    assert text in call.messages[-1]["content"]
    assert program.code and program.code.strip().splitlines()[0] in call.messages[-1]["content"]
    assert {e.node_id for e in rec.of(ev.ProgramExecuted)} == {r.id for r in repairs}
    (more,) = await engine.repair_from_feedback(human.id, n=1, model="sim-strong", temperature=0.0)
    assert more.key == f"{human.key}|x{more.exploration_id}r0" and more.model == "sim-strong"
    with pytest.raises(UserError, match="not a feedback"):
        await engine.repair_from_feedback(program.id)
    with pytest.raises(UserError, match="at least 1"):
        await engine.repair_from_feedback(human.id, n=0)


@pytest.mark.parametrize("mode", ["joint", "separate", "tests-only"])
async def test_rerun_branch_adds_new_keys_beside_old_ones(
    mode: str, tmp_path: Path, box: Sandbox  # noqa: F811
) -> None:
    with Store.open(tmp_path / "b.db") as store:
        run = await run_repair(store, mode, replace(CONFIG, mode=mode, nfr=2), sandbox=box)
        engine = open_engine(store, run.id, sandbox=box)
        program = failing(store, engine)[0]
        before = tree(store, run.id)
        old_children = {n.key for n in store.children(program.id)}
        new = await engine.rerun_branch(program.id, nfr=1)
        after = tree(store, run.id)
        kept(before, after)
        added = set(after) - set(before)
        assert added and not added & set(before)
        assert all(k.startswith(program.key + "|") for k in added)
        feedback = {n.key for n in store.children(program.id)} - old_children
        letter = "t" if mode == "tests-only" else "f"
        x = new[0].exploration_id
        assert x is not None and store.get_exploration(x).kind == "rerun"
        assert feedback == {f"{program.key}|x{x}{letter}0"}
        assert all(store.get_node_by_key(run.id, k).exploration_id == x for k in added)
        assert {n.key for n in new} <= added and all(n.passed is not None for n in new)
        await engine.aclose()


async def test_reexecute_keeps_the_first_verdict_and_marks_a_change_flaky(
    world: tuple[Store, Engine, Recorder]
) -> None:
    store, engine, rec = world
    program = failing(store, engine)[0]
    fake = res.Verdict(True, [res.TestResult(i, res.Status.PASSED) for i in range(3)], "fake")
    assert store.record_verdict(program.id, fake).passed is True  # a first verdict that passed
    sample_before = store.run_totals(engine.run.id)
    node, execution = await engine.reexecute(program.id)
    assert node.passed is True and node.isolation == "fake"  # the first verdict stays
    assert execution is not None and execution.passed is False
    assert execution.fault == program.fault and execution.isolation != "fake"
    assert execution.results and not all(r.passed for r in execution.results)
    assert node.seq > program.seq  # live views see the change
    assert store.flaky_ids(engine.run.id) == {program.id}
    assert store.run_totals(engine.run.id).flaky == 1
    assert store.run_totals(engine.run.id).programs_passed == sample_before.programs_passed
    (tally,) = [t for t in store.explorations(engine.run.id) if t.kind == "reexec"]
    assert (tally.reexecutions, tally.changed) == (1, 1)
    _, again = await engine.reexecute(program.id)
    assert [e.id for e in store.executions(program.id)] == [execution.id, again.id]
    (event, _) = rec.of(ev.ProgramExecuted)
    assert (event.node_id, event.passed) == (program.id, False)


async def test_repair_annotated_repairs_each_human_feedback_once(
    world: tuple[Store, Engine, Recorder]
) -> None:
    store, engine, _ = world
    a, b = failing(store, engine)[:2]
    fa = engine.add_human_feedback(a.id, "first note")
    fb = engine.add_human_feedback(b.id, "second note")
    repairs = await engine.repair_annotated(n=1)
    assert sorted(r.parent_id for r in repairs) == sorted([fa.id, fb.id])
    assert all(r.passed is not None for r in repairs)
    assert await engine.repair_annotated(n=1) == []  # nothing left to repair
    fc = engine.add_human_feedback(a.id, "third note")
    (late,) = await engine.repair_annotated()  # default n: the run's nfr (1)
    assert late.parent_id == fc.id
