"""The Run screen: tallies, estimate, filters, search, live updates and navigation."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import pytest
from repair_tui.core.store.store import Store
from repair_tui.tui.app import RepairApp
from repair_tui.tui.messages import DataChanged
from repair_tui.tui.screens.run import RunScreen
from repair_tui.tui.screens.runs import RunsScreen
from repair_tui.tui.widgets.chart import PassChart
from repair_tui.tui.widgets.heatmap import HeatMap
from repair_tui.tui.widgets.tallies import OriginTable, Tallies
from repair_tui.tui.widgets.task_table import TaskTable
from test_app_data import Writer, build_run, make_db
from textual.pilot import Pilot
from textual.widgets import Input

SIZE = (120, 40)
ALL = ["apps/test/0001", "apps/test/0002", "apps/test/0003", "apps/test/0004", "apps/test/0005"]


async def open_run(pilot: Pilot[None]) -> RunScreen:
    await pilot.press("enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, RunScreen)
    return screen


def shown(screen: RunScreen) -> list[str]:
    return list(screen.query_one(TaskTable).rows_shown)


async def test_header_chart_heat_map_and_origins(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "demo.db"), load_samples=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        tallies = str(screen.query_one(Tallies).render())
        assert "solved 2/4 of 5 tasks (50% of attempted, 1 only by repair)" in tallies
        assert "programs 2/12 pass" in tallies and "repairs 2/8 pass" in tallies
        assert "explorations feedback 1  repairs 0/1 pass  tokens 80" in tallies
        assert "tokens 2,160" in tallies and "sim (feedback: sim-strong)" in tallies
        grid = screen.grid
        assert grid is not None and grid.n_tasks == 4
        assert grid.nps == (1, 2, 3) and grid.nfrs == (1,) and grid.mode == "batch"
        chart = screen.query_one(PassChart)
        assert chart.grid is grid
        drawn = str(chart.render())
        assert "baseline np'=1..3" in drawn and "nfr=1" in drawn and "●2" in drawn and "tokens" in drawn
        heat = screen.query_one(HeatMap).render()
        assert heat is not None
        origins = screen.query_one(OriginTable)
        assert origins is not None
        assert shown(screen) == ALL


async def test_status_filter_and_difficulty_keys(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "demo.db"), load_samples=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        await pilot.press("f")
        assert shown(screen) == ["apps/test/0001", "apps/test/0002"]
        await pilot.press("f")
        assert shown(screen) == ["apps/test/0003", "apps/test/0004", "apps/test/0005"]
        await pilot.press("f")
        assert shown(screen) == ["apps/test/0002"]
        assert "solved only by repair" in str(screen.query_one(TaskTable).border_title)
        await pilot.press("f")
        assert shown(screen) == ALL
        assert screen.difficulties == ["competition", "interview", "introductory"]
        await pilot.press("d")
        assert shown(screen) == ["apps/test/0004"]
        await pilot.press("d")
        assert shown(screen) == ["apps/test/0002", "apps/test/0003"]
        await pilot.press("f")  # solved AND interview
        assert shown(screen) == ["apps/test/0002"]
        await pilot.press("d", "d")  # introductory, then any again
        assert screen.difficulty is None
        assert shown(screen) == ["apps/test/0001", "apps/test/0002"]


async def test_search_by_id_title_and_spec_text(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "demo.db"), load_samples=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        await pilot.press("slash")
        assert isinstance(screen.focused, Input)
        await pilot.press(*"0003")
        assert shown(screen) == ["apps/test/0003"]
        screen.query_one(Input).value = "SORT the"
        await pilot.pause()
        assert shown(screen) == ["apps/test/0002"]  # the title, any case
        screen.query_one(Input).value = "pelican"
        await pilot.pause()
        assert shown(screen) == ["apps/test/0005"]  # only in the spec's body
        await pilot.press("escape")  # leaves the box, keeps the search
        assert isinstance(screen.focused, TaskTable) and app.screen is screen
        assert shown(screen) == ["apps/test/0005"]
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_search_finds_feedback_and_code_and_opens_the_node(tmp_path: Path) -> None:
    from repair_tui.tui.modals import SearchHitsModal
    from repair_tui.tui.screens.task import TaskScreen
    from textual.widgets import OptionList

    app = RepairApp(make_db(tmp_path / "demo.db"), load_samples=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        await pilot.press("slash", *"bfs from")  # a person's feedback (an exploration)
        assert shown(screen) == ["apps/test/0004"]
        screen.query_one(Input).value = "print 2"  # code: the repairs' print(2)
        await pilot.pause()
        assert shown(screen) == ALL[:4]
        screen.query_one(Input).value = "prints a const"  # model feedback; a prefix at the end
        await pilot.pause()
        assert shown(screen) == ALL[:4]
        screen.query_one(Input).value = "prints a pelican"
        await pilot.pause()
        assert shown(screen) == []
        screen.query_one(Input).value = "BFS from the"
        await pilot.press("enter")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, SearchHitsModal) and modal.query_one(OptionList).option_count == 1
        line = str(modal.query_one(OptionList).get_option_at_index(0).prompt)
        assert "feedback" in line and "(human, exploration)" in line and "Use a BFS from" in line
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        task = app.screen
        assert isinstance(task, TaskScreen) and task.task_id == "apps/test/0004"
        node = task.selected
        assert node is not None and node.kind == "feedback" and node.origin == "human"
        await pilot.press("escape")
        assert app.screen is screen and isinstance(screen.focused, TaskTable)
        # Nothing found, or nothing to search for: a notice, or nothing at all.
        screen.query_one(Input).value = "zebra"
        await pilot.press("slash", "enter")
        await pilot.pause()
        assert app.screen is screen and shown(screen) == []
        assert "no match for 'zebra' in specs, feedback or code" in app.action_log[-1].text
        screen.query_one(Input).value = "((("
        await pilot.press("slash", "enter")
        await pilot.pause()
        assert app.screen is screen


async def test_tallies_table_and_chart_follow_a_concurrent_writer(tmp_path: Path) -> None:
    db = make_db(tmp_path / "demo.db")
    app = RepairApp(db, load_samples=False, poll_interval=60)  # polled by hand below
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        table = screen.query_one(TaskTable)
        table.move_cursor(row=2)
        first_grid = screen.grid
        with Store.open(db) as writer:
            w = Writer(writer, 1)
            w.program("apps/test/0005", 0, None)  # stored, not executed yet
            assert app.poll_data()
            await pilot.pause()
            assert "pending 1" in str(screen.query_one(Tallies).render())
            assert str(table.get_cell("apps/test/0005", "status")) == "… pending"
            w.execute("apps/test/0005|p0", True)
        assert app.poll_data()
        await app.workers.wait_for_complete()
        await pilot.pause()
        tallies = str(screen.query_one(Tallies).render())
        assert "solved 3/5 of 5 tasks" in tallies and "pending" not in tallies
        assert str(table.get_cell("apps/test/0005", "status")) == "✓ solved"
        assert table.cursor_row == 2  # the user's place is kept
        assert screen.grid is not None and screen.grid is not first_grid
        assert screen.grid.n_tasks == 5
        assert not app.poll_data()  # nothing new: no re-read


async def test_other_runs_writing_do_not_touch_this_screen(tmp_path: Path) -> None:
    db = make_db(tmp_path / "demo.db")
    app = RepairApp(db, load_samples=False, poll_interval=60)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        grid = screen.grid
        with Store.open(db) as writer:
            build_run(writer, "elsewhere")
        assert app.poll_data()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.grid is grid  # no new estimate for another run's nodes


async def test_changes_reported_after_a_screen_covers_it_wait_until_it_is_back(
        tmp_path: Path) -> None:
    """A DataChanged that reaches the Run screen once the Task screen covers it (the
    poll came just before Enter) reads nothing while the task opens; on return the
    screen catches up with everything written meanwhile."""
    db = make_db(tmp_path / "demo.db")
    app = RepairApp(db, load_samples=False, poll_interval=60)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        grid = screen.grid
        reads: list[str] = []
        count = screen.refresh_counts
        screen.refresh_counts = lambda: (reads.append("counts"), count())[1]  # type: ignore[method-assign]
        await pilot.press("enter")  # the Task screen on top
        await pilot.pause()
        assert app.screen is not screen
        with Store.open(db) as writer:
            Writer(writer, 1).program("apps/test/0005", 0, None)
        app.poll_data()
        screen.post_message(DataChanged())  # as if posted while it was still on top
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert reads == [] and screen.grid is grid
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert reads == ["counts"] and screen.grid is not grid
        assert "pending 1" in str(screen.query_one(Tallies).render())


async def test_estimator_mode_key(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "demo.db"), load_samples=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        await pilot.press("m")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.mode == "dfs" and screen.grid is not None and screen.grid.mode == "dfs"
        assert "(dfs)" in str(screen.query_one(PassChart).render())


async def test_enter_opens_the_task_and_a_opens_the_annotation_queue(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "demo.db"), load_samples=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot)
        await pilot.press("down", "enter")
        await pilot.pause()
        task_screen = app.screen
        assert type(task_screen).__name__ == "TaskScreen"
        assert (task_screen.run_id, task_screen.task_id) == (1, "apps/test/0002")  # type: ignore[attr-defined]
        app.pop_screen()
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("a")
        await pilot.pause()
        opened = type(app.screen).__name__ == "AnnotationScreen"
        noticed = any("AnnotationScreen is not available" in n.message for n in app._notifications)
        assert opened or noticed


async def test_in_memory_database_estimates_on_the_app_connection(tmp_path: Path) -> None:
    app = RepairApp(":memory:", load_samples=False, poll_interval=60)
    async with app.run_test(size=SIZE) as pilot:
        build_run(app.store, "mem")
        app.poll_data()
        await pilot.pause()
        screen = await open_run(pilot)
        assert screen.grid is not None and screen.grid.n_tasks == 4


async def test_a_run_with_nothing_executed_yet(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    with Store.open(db) as store:
        run = build_run(store, "full")
        from repair_tui.core.store.records import RunConfig

        fresh = store.create_run("fresh", RunConfig(dataset="humaneval", model="sim"),
                                 isolation="rlimits", simulated=True)
        assert fresh.id == run.id + 1
    app = RepairApp(db, load_samples=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down")
        screen = await open_run(pilot)
        assert screen.grid is None and shown(screen) == []
        assert "No executed programs yet" in str(screen.query_one(PassChart).render())
        assert not screen.query_one("#run-difficulty").display


@pytest.mark.slow
async def test_a_real_run_in_another_process_shows_up_live(tmp_path: Path) -> None:
    """`repair-tui run` writes from a subprocess; the open Runs and Run screens follow it."""
    db = tmp_path / "live.db"
    with Store.open(db):
        pass  # created and migrated before both sides open it
    app = RepairApp(db, load_samples=False, poll_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "repair_tui.tui", "--db", str(db), "run", "--dataset",
            "humaneval", "--model", "sim", "--np", "3", "--nfr", "1", "--limit", "4",
            "--sim-latency", "0.2", "--concurrency", "2", "--name", "live",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        runs = app.screen
        assert isinstance(runs, RunsScreen)
        for _ in range(300):
            await pilot.pause(0.05)
            if runs.summaries:
                break
        assert runs.summaries, "the run never appeared"
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, RunScreen)
        seen: set[str] = set()
        while proc.returncode is None:
            seen.add(str(screen.query_one(Tallies).render()).splitlines()[1])
            await pilot.pause(0.05)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 0.01)
        assert proc.returncode == 0, (await proc.stderr.read()).decode() if proc.stderr else ""
        for _ in range(40):  # the last commit reaches the screen within a few polls
            await pilot.pause(0.05)
            await app.workers.wait_for_complete()
            if screen.run is not None and screen.run.status == "finished":
                break
        with Store.open(db) as store:
            totals = store.run_totals(1)
        final = str(screen.query_one(Tallies).render())
        assert screen.run is not None and screen.run.status == "finished"
        assert f"solved {totals.solved}/{totals.attempted} of 4 tasks" in final
        assert f"programs {totals.programs_passed}/{totals.programs} pass" in final
        assert len(seen) >= 2, "the tallies never changed while the run wrote"
        assert screen.grid is not None and screen.grid.n_tasks == totals.attempted


async def test_a_run_deleted_meanwhile_is_a_notice(tmp_path: Path) -> None:
    db = make_db(tmp_path / "demo.db")
    app = RepairApp(db, load_samples=False, poll_interval=60)
    async with app.run_test(size=SIZE) as pilot:
        with Store.open(db) as writer:
            writer.delete_run(1)
        await pilot.press("enter")  # the table still lists it: no poll yet
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        assert any("no run with id 1" in n.message for n in app._notifications)


async def test_tallies_show_prompt_tokens_and_dollars_given_prices(tmp_path: Path) -> None:
    from harness import sim_run
    from repair_tui.core.estimate.costs import summarise
    from repair_tui.core.formats.prices import load_prices

    db = tmp_path / "sim.db"
    await sim_run(db)
    prices = tmp_path / "prices.toml"
    prices.write_text('[models.sim]\ninput_per_mtok = 0.5\noutput_per_mtok = 1.5\n')
    with Store.open(db) as store:
        parts = store.token_parts(store.get_run("sim-run").id)
    priced = summarise(parts, load_prices(prices))
    assert priced.prompt and priced.dollars
    for table, dollars in ((load_prices(prices), True), (None, False)):  # None: bundled, no 'sim'
        app = RepairApp(db, load_samples=False, prices=table)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_run(pilot)
            tallies = str(screen.query_one(Tallies).render())
            assert f"tokens {priced.completion:,} completion + {priced.prompt:,} prompt" in tallies
            assert ("$" in tallies) is dollars
            if dollars:
                from repair_tui.core.estimate.costs import format_dollars

                assert format_dollars(priced.dollars) in tallies


def test_app_prices_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from repair_tui.tui.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text("[models.sim]\ninput_per_mtok = -1\noutput_per_mtok = 1\n")
    db = make_db(tmp_path / "demo.db")
    assert main(["--db", str(db), "--prices", str(bad)]) == 2  # before the app starts
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}: line 2: models.sim.input_per_mtok" in err
    good = tmp_path / "good.toml"
    good.write_text("[models.sim]\ninput_per_mtok = 1\noutput_per_mtok = 1\n")
    assert main(["--db", str(db), "--prices", str(good), "runs", "--json"]) == 0  # before a command too
    assert '"unpriced_models": []' in capsys.readouterr().out


async def test_sort_key_header_click_and_chart_toggle(tmp_path: Path) -> None:
    from repair_tui.tui.app import RepairApp
    from repair_tui.tui.widgets.task_table import TaskTable
    from test_app_data import make_db

    app = RepairApp(make_db(tmp_path / "d.db"), load_samples=False, poll_interval=60)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one(TaskTable)
        assert "difficulty" in table.keys  # APPS tasks have one
        ids = lambda: list(table.rows_shown)  # noqa: E731
        by_position = ids()
        await pilot.press("s")  # next column after task: difficulty
        assert table.sort_column == "difficulty"
        table.post_message(TaskTable.SortAsked("tokens"))
        await pilot.pause()
        rows = {r.task_id: r for r in app.store.task_rows(1)}
        tokens = [rows[t].tokens for t in ids()]
        assert tokens == sorted(tokens, reverse=True) and table.sort_reverse
        table.post_message(TaskTable.SortAsked("task"))
        await pilot.pause()
        assert ids() == by_position
        middle = app.screen.query_one("#run-middle")
        before = table.size.height
        await pilot.press("g")
        await pilot.pause()
        assert middle.display is False and table.size.height > before
        await pilot.press("g")
        assert middle.display is True
