"""Whole runs through `run_repair` with the in-process simulated model and the real
sandbox: tree shapes per mode, stored verdicts, events, depth, determinism."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from repair_tui.core.engine.run import run_repair
from repair_tui.core.engine.steps import call_seed
from repair_tui.core.store.records import RunConfig
from repair_tui.core.store.store import Store
from repair_tui.sandbox.runner import Sandbox
from test_engine_support import (
    HE_IDS,
    Recorder,
    box,  # noqa: F401 -- fixture
    call_table,
    check_events,
    check_run,
    tree,
)

HE = RunConfig(dataset="humaneval", model="sim", np=3, nfr=2, task_ids=HE_IDS, seed=1)
APPS = RunConfig(dataset="apps-sample", model="sim", np=3, nfr=2, limit=5, seed=1)

CASES = {
    "humaneval-joint": HE,
    "humaneval-separate": replace(HE, mode="separate", feedback_model="sim-strong"),
    "humaneval-tests-only": replace(HE, mode="tests-only"),
    "apps-joint": replace(APPS, model="sim-weak"),
    "apps-separate": replace(APPS, model="sim-weak", mode="separate", feedback_model="sim-strong"),
    "apps-tests-only": replace(APPS, model="sim-weak", mode="tests-only"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_run_stores_the_trees_its_mode_implies(
    case: str, tmp_path: Path, box: Sandbox  # noqa: F811
) -> None:
    config = CASES[case]
    rec = Recorder()
    with Store.open(tmp_path / "r.db") as store:
        run = await run_repair(store, case, config, sink=rec, sandbox=box)
        assert run.status == "finished" and run.message is None
        assert store.get_run(case).status == "finished"
        counts = check_run(store, run)
        check_events(rec, store, run)
        # Not vacuous: some programs failed and were repaired, at depth 1 only.
        assert counts["failing"] > 0 and counts["repairs"] > 0 and counts["deepest"] == 1
        totals = store.run_totals(run.id)
        assert totals.pending == 0 and totals.calls == counts["calls"]
        assert totals.tokens == sum(c.completion_tokens or 0 for c in store.calls(run.id))


async def test_depth_two_repairs_only_failing_depth_one_repairs(
    tmp_path: Path, box: Sandbox  # noqa: F811
) -> None:
    config = replace(APPS, model="sim-weak", depth=2, nfr=1, limit=4)
    with Store.open(tmp_path / "d.db") as store:
        run = await run_repair(store, "deep", config, sandbox=box)
        counts = check_run(store, run)  # feedback only under failing programs above depth 2
        assert counts["deepest"] == 2
        nodes = list(store.iter_nodes(run.id))
        depth1 = [n for n in nodes if n.kind == "program" and n.depth == 1]
        deep_parents = {n.parent_id for n in nodes if n.kind == "feedback" and n.depth == 2}
        assert deep_parents == {p.id for p in depth1 if not p.passed}
        assert not any(n.depth > 2 for n in nodes)


async def test_same_seed_same_trees_other_seed_other_trees(
    tmp_path: Path, box: Sandbox  # noqa: F811
) -> None:
    config = replace(HE, mode="separate", feedback_model="sim-strong")
    with Store.open(tmp_path / "s.db") as store:
        a = await run_repair(store, "a", config, sandbox=box)
        b = await run_repair(store, "b", replace(config, concurrency=1), sandbox=box)
        c = await run_repair(store, "c", replace(config, seed=2), sandbox=box)
        assert tree(store, a.id) == tree(store, b.id)
        assert call_table(store, a.id) == call_table(store, b.id)
        assert tree(store, a.id) != tree(store, c.id)
        # Same keys for the first programs, other code: the seed changed the samples.
        ta, tc = tree(store, a.id), tree(store, c.id)
        firsts = [k for k, v in ta.items() if v[3] == 0]
        assert firsts == [k for k, v in tc.items() if v[3] == 0]
        assert [ta[k][6] for k in firsts] != [tc[k][6] for k in firsts]
        seeds = {k: v[4] for k, v in call_table(store, a.id).items()}
        assert seeds == {k: call_seed(config.seed, k) for k in seeds}


async def test_a_rerun_of_a_finished_run_makes_no_call(tmp_path: Path, box: Sandbox) -> None:  # noqa: F811
    with Store.open(tmp_path / "f.db") as store:
        run = await run_repair(store, "done", HE, sandbox=box)
        before = tree(store, run.id), call_table(store, run.id)
        rec = Recorder()
        again = await run_repair(store, "done", HE, sandbox=box, sink=rec)
        assert again.status == "finished"
        assert (tree(store, run.id), call_table(store, run.id)) == before
        from repair_tui.core.engine import events as ev

        assert rec.events[0].resumed  # type: ignore[union-attr]
        assert all(e.cached for e in rec.of(ev.CallFinished))
        assert rec.of(ev.ProgramExecuted) == []  # nothing executed again either
