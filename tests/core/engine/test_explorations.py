"""A run's sample and its explorations: nothing done after a run changes its numbers."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from repair_tui.core.engine.run import run_repair
from repair_tui.core.engine.steps import Engine, open_engine
from repair_tui.core.formats.jsonl import export_jsonl, import_jsonl
from repair_tui.core.formats.paper import export_paper
from repair_tui.core.store.records import RunConfig
from repair_tui.core.store.store import Store
from repair_tui.sandbox.runner import Sandbox
from test_engine_support import HE_IDS, box  # noqa: F401 -- box is a fixture

CONFIG = RunConfig(dataset="humaneval", model="sim", np=3, nfr=2, task_ids=HE_IDS, seed=3)


@pytest.fixture
async def explored(tmp_path: Path, box: Sandbox) -> AsyncIterator[tuple[Store, Engine, dict[str, Any]]]:  # noqa: F811
    """A finished run, its numbers, and then every kind of exploration on it."""
    store = Store.open(tmp_path / "x.db")
    run = await run_repair(store, "x", CONFIG, sandbox=box)
    before = numbers(store, run.id)
    engine = open_engine(store, run.id, sandbox=box)
    failing = [n for n in store.iter_nodes(run.id) if n.kind == "program" and n.passed is False]
    human = engine.add_human_feedback(failing[0].id, "Return the sorted list, not the input.")
    await engine.repair_from_feedback(human.id, n=3, model="sim-strong")
    model_fb = next(n for n in store.iter_nodes(run.id) if n.kind == "feedback" and n.origin == "model")
    await engine.repair_from_feedback(model_fb.id, n=2, model="sim-strong")
    await engine.rerun_branch(failing[-1].id)
    repair = next(n for n in store.iter_nodes(run.id) if n.is_repair and n.passed is False)
    await engine.rerun_branch(repair.id)  # past the run's depth
    await engine.explain(failing[0].id, model="sim-strong")
    await engine.reexecute(failing[0].id)
    engine.add_human_feedback(failing[1].id, "Off by one.", kind="annotate")
    await engine.repair_annotated(n=1)
    yield store, engine, before
    await engine.aclose()
    store.close()


def numbers(store: Store, run_id: int) -> dict[str, Any]:
    """Everything the issue lists as the run's numbers."""
    run = store.get_run(run_id)
    out = io.StringIO()
    export_paper(store, run, out)
    return {
        "totals": store.run_totals(run_id),
        # A row also says what explorations added beside the counts (explored, the star).
        "rows": [replace(r, explored=0, has_human_feedback=False) for r in store.task_rows(run_id)],
        "runs": [s for s in store.list_runs() if s.id == run_id],
        "frozen": store.frozen_tasks(run_id),
        "origins": store.origin_stats(run_id),
        "paper": out.getvalue(),
    }


async def test_explorations_never_change_the_runs_numbers(
    explored: tuple[Store, Engine, dict[str, Any]]
) -> None:
    store, engine, before = explored
    after = numbers(store, engine.run.id)
    assert {k: v for k, v in after.items() if k != "totals"} == {
        k: v for k, v in before.items() if k != "totals"}
    # Only the flaky count (over every execution) may move; here the verdict did not change.
    assert after["totals"] == before["totals"]
    assert "human" not in after["totals"].feedback_by_origin


async def test_explorations_have_their_own_tallies(
    explored: tuple[Store, Engine, dict[str, Any]]
) -> None:
    store, engine, _ = explored
    kinds = [x.kind for x in store.explorations(engine.run.id)]
    assert kinds == ["feedback", "repair", "repair", "rerun", "rerun", "explain", "reexec",
                     "annotate", "annotate"]
    tallies = {x.kind: x for x in store.explorations(engine.run.id)}
    assert tallies["reexec"].reexecutions == 1 and tallies["explain"].feedback == 1
    explored_totals = store.run_totals(engine.run.id, scope="explorations")
    assert explored_totals.programs == 0  # explorations add no first programs
    assert explored_totals.repairs == sum(x.repairs for x in store.explorations(engine.run.id))
    assert explored_totals.feedback_by_origin["human"] == 2
    origins = store.origin_stats(engine.run.id, scope="explorations")
    assert origins["human"].feedback == 2 and origins["human"].repairs == 4
    assert origins["model"].repairs >= 2  # repairs of the run's model feedback count here
    every = {n.key: n for n in store.iter_nodes(engine.run.id)}
    for node in every.values():
        if node.parent_id is not None:
            parent = store.get_node(node.parent_id)
            assert not (parent.is_exploration and not node.is_exploration), node.key
        assert ("|x" in node.key) == node.is_exploration, node.key


async def test_jsonl_round_trip_keeps_the_marks(
    explored: tuple[Store, Engine, dict[str, Any]], tmp_path: Path
) -> None:
    store, engine, before = explored
    first = io.StringIO()
    export_jsonl(store, engine.run, first)
    path = tmp_path / "x.jsonl"
    path.write_text(first.getvalue())
    copy = import_jsonl(store, path, "copy")
    again = io.StringIO()
    export_jsonl(store, store.get_run(copy.id), again)
    strip = [json.loads(line) for line in first.getvalue().splitlines()[1:]]
    assert [json.loads(line) for line in again.getvalue().splitlines()[1:]] == strip
    assert store.frozen_tasks(copy.id) == before["frozen"]
    assert len(store.explorations(copy.id)) == len(store.explorations(engine.run.id))
    (kept,) = [e for _, e in store.iter_executions(copy.id)]  # the re-execution came along
    (orig,) = [e for _, e in store.iter_executions(engine.run.id)]
    assert (kept.passed, kept.fault, kept.results) == (orig.passed, orig.fault, orig.results)


async def test_a_version_1_export_is_sorted_like_the_migration(
    explored: tuple[Store, Engine, dict[str, Any]], tmp_path: Path
) -> None:
    store, engine, before = explored
    out = io.StringIO()
    export_jsonl(store, engine.run, out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    lines[0]["version"] = 1
    old = [lines[0]] + [
        {k: v for k, v in line.items() if k != "exploration"}
        for line in lines[1:] if line["type"] not in ("exploration", "execution")
    ]
    path = tmp_path / "v1.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in old))
    copy = import_jsonl(store, path, "v1")
    assert store.frozen_tasks(copy.id) == before["frozen"]
    assert store.run_totals(copy.id) == before["totals"]
    marked = {n.key for n in store.iter_nodes(copy.id) if n.is_exploration}
    assert marked == {n.key for n in store.iter_nodes(engine.run.id) if n.is_exploration}
