"""Comparisons and costs read the runs' samples only: explorations on a run (a person's
feedback, repairs from it, a rerun branch, a re-execution) leave ``compare``, ``estimate``
and ``runs`` (their tokens, dollars and pass rates) and the Compare screen unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from harness import HarnessApp
from repair_tui.core.engine.run import run_repair
from repair_tui.core.engine.steps import open_engine
from repair_tui.core.store.records import RunConfig
from repair_tui.core.store.store import Store
from repair_tui.tui.cli import main
from repair_tui.tui.screens.compare import CompareScreen

A, B = "joint", "strong-feedback"
TASKS = tuple(f"HumanEval/{i}" for i in range(8))
PRICES = '[models.sim]\ninput_per_mtok = 0.5\noutput_per_mtok = 1.5\n' \
         '[models."sim-strong"]\ninput_per_mtok = 2.5\noutput_per_mtok = 10\n'


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    """Two small finished runs of the simulated models on the same tasks."""
    path = tmp_path / "two.db"
    with Store.open(path) as store:
        await run_repair(store, A, RunConfig(dataset="humaneval", model="sim", np=4, nfr=2,
                                             seed=5, task_ids=TASKS))
        await run_repair(store, B, RunConfig(dataset="humaneval", model="sim", np=4, nfr=2,
                                             feedback_model="sim-strong", mode="separate",
                                             seed=5, task_ids=TASKS))
    return path


def cli_numbers(db: Path, prices: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """What the three commands print as JSON, in tokens and in dollars."""
    out: dict[str, Any] = {}
    common = ["--db", str(db), "--prices", str(prices), "--json"]
    for budget, bootstrap in (("tokens", "200"), ("dollars", "50")):
        assert main(["compare", A, B, "--bootstrap", bootstrap, "--budget", budget, *common]) == 0
        out[f"compare-{budget}"] = json.loads(capsys.readouterr().out)
        assert main(["estimate", A, "--bootstrap", bootstrap, "--budget", budget, *common]) == 0
        out[f"estimate-{budget}"] = json.loads(capsys.readouterr().out)
    assert main(["runs", *common]) == 0
    out["runs"] = json.loads(capsys.readouterr().out)
    return out


async def explore(db: Path) -> int:
    """Every kind of exploration on run A; returns how many nodes they added."""
    with Store.open(db) as store:
        run = store.get_run(A)
        before = sum(1 for _ in store.iter_nodes(run.id))
        engine = open_engine(store, run.id)
        try:
            failing = [n for n in store.iter_nodes(run.id, scope="sample")
                       if n.kind == "program" and n.passed is False and n.depth == 0]
            human = engine.add_human_feedback(failing[0].id, "Off by one: the loop stops early.")
            repairs = await engine.repair_from_feedback(human.id, n=3, model="sim-strong")
            assert repairs and all(r.is_exploration for r in repairs)
            await engine.rerun_branch(failing[1].id)
            await engine.reexecute(failing[2].id)
        finally:
            await engine.aclose()
        return sum(1 for _ in store.iter_nodes(run.id)) - before


async def test_explorations_leave_compare_estimate_and_runs_unchanged(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(PRICES)
    before = cli_numbers(db, prices, capsys)
    assert before["compare-dollars"]["runs"][0]["cost"]["dollars"] is not None
    added = await explore(db)
    assert added >= 6  # human feedback, three repairs, a rerun's feedback and repair
    after = cli_numbers(db, prices, capsys)
    assert after == before
    # The explorations were made, priced and stored: they are just not the sample's.
    with Store.open(db) as store:
        run = store.get_run(A)
        assert store.run_totals(run.id, scope="explorations").repairs >= 4


def screen_numbers(screen: CompareScreen) -> dict[str, Any]:
    c = screen.comparison
    assert c is not None
    return {
        "budgets": c.budgets,
        "costs": [s.cost for s in c.runs],
        "best": [s.best for s in c.runs],
        "tasks": [s.tasks for s in c.runs],
        "differences": [p.differences for p in c.pairs],
        "outcomes": [p.outcomes for p in c.pairs],
        "shown": [str(screen.query_one(f"#compare-{part}").render()) for part in ("head", "chart")],
    }


async def compare_screen_numbers(db: Path) -> dict[str, Any]:
    with Store.open(db) as store:
        ids = [store.get_run(A).id, store.get_run(B).id]
    app = HarnessApp(db, lambda: CompareScreen(ids))
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        return screen_numbers(app.screen)


async def test_explorations_leave_the_compare_screen_unchanged(db: Path) -> None:
    before = await compare_screen_numbers(db)
    await explore(db)
    assert await compare_screen_numbers(db) == before
