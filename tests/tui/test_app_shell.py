"""The app shell: launch on an empty database (with and without sample runs), the help
screen, the command palette's commands, engines, and the bare `repair-tui` command."""

from __future__ import annotations

from pathlib import Path

import pytest
from repair_tui.core.formats.files import export_run
from repair_tui.core.formats.lines import output
from repair_tui.core.store.store import Store
from repair_tui.tui.app import RepairApp, load_sample_runs, sample_name
from repair_tui.tui.cli import main
from repair_tui.tui.screens.help import HelpScreen
from repair_tui.tui.screens.runs import RunsScreen
from test_app_data import make_db
from textual.widgets import DataTable

SIZE = (120, 40)


def make_samples(tmp_path: Path, *names: str) -> Path:
    """A folder with one exported run per name, as issue 7's sample files will be."""
    folder = tmp_path / "samples"
    folder.mkdir()
    source = make_db(tmp_path / "source.db", *names)
    with Store.open(source) as store:
        for name in names:
            with output(folder / f"file-{name}.jsonl.gz") as out:
                export_run(store, store.get_run(name), "jsonl", out)
    (folder / "README.md").write_text("not a run\n")
    return folder


async def test_empty_database_loads_sample_runs_once(tmp_path: Path) -> None:
    folder = make_samples(tmp_path, "he-sim", "apps-sim")
    before = sorted(p.name for p in folder.iterdir())
    db = tmp_path / "fresh.db"
    app = RepairApp(db, samples=folder)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.loaded_samples == ["apps-sim", "he-sim"]  # header names, file order
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        assert sorted(s.name for s in screen.summaries.values()) == ["apps-sim", "he-sim"]
        assert screen.query_one(DataTable).row_count == 2
        notices = [n.message for n in app._notifications]
        assert any("Loaded 2 sample run(s)" in m and "he-sim" in m for m in notices)
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written there
    with Store.open(db) as store:
        assert load_sample_runs(store, folder) == []  # names taken: a second load adds nothing
        assert store.run_names() == ["apps-sim", "he-sim"]


async def test_database_with_runs_gets_no_samples(tmp_path: Path) -> None:
    folder = make_samples(tmp_path, "sample")
    db = make_db(tmp_path / "mine.db", "mine")
    app = RepairApp(db, samples=folder)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.loaded_samples == []
        assert app.store.run_names() == ["mine"]


async def test_empty_database_without_samples_shows_how_to_start(tmp_path: Path) -> None:
    empty = tmp_path / "none"
    empty.mkdir()
    app = RepairApp(tmp_path / "empty.db", samples=empty)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        assert screen.query_one("#runs-empty").display
        assert not screen.query_one(DataTable).display
        await pilot.press("enter", "question_mark")  # nothing to open; help still works
        assert isinstance(app.screen, HelpScreen)


async def test_in_memory_database_loads_samples_on_its_own_connection(tmp_path: Path) -> None:
    folder = make_samples(tmp_path, "mem")
    app = RepairApp(":memory:", samples=folder)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.store.run_names() == ["mem"]


def test_sample_name_falls_back_to_the_file_stem(tmp_path: Path) -> None:
    paper = tmp_path / "paper-run.jsonl.gz"
    import gzip

    with gzip.open(paper, "wt") as f:
        f.write('{"task_id": "HumanEval/0", "completions": []}\n')
    assert sample_name(paper) == "paper-run"
    folder = make_samples(tmp_path, "named")
    assert sample_name(folder / "file-named.jsonl.gz") == "named"


async def test_help_lists_the_screen_keys_and_closes(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "demo.db"), load_samples=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        actions = {description for _, description, _ in help_screen.keys}
        assert {"Open run", "Help", "Quit"} <= actions
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_palette_offers_the_screen_actions(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "demo.db"), load_samples=False)
    async with app.run_test(size=SIZE) as pilot:
        # Titles carry the tooltip: the palette matches titles only.
        titles = [c.title.split(":")[0] for c in app.get_system_commands(app.screen)]
        assert "Open run" in titles and "Help" in titles and "Theme" in titles
        await pilot.press("enter")
        titles = [c.title.split(":")[0] for c in app.get_system_commands(app.screen)]
        assert {"Filter", "Search", "Annotate", "Back"} <= set(titles)
        back = next(c for c in app.get_system_commands(app.screen)
                    if c.title.startswith("Back:"))
        await back.callback()
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)


async def test_engine_for_is_cached_per_run_and_closed_at_exit(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "demo.db", "a", "b"), load_samples=False)
    async with app.run_test(size=SIZE):
        first = app.engine_for(1)
        assert app.engine_for(1) is first
        assert app.engine_for(2) is not first
        assert first.run.name == "a"
    assert app._engines == {}


async def test_missing_screen_module_is_a_notice(tmp_path: Path) -> None:
    app = RepairApp(make_db(tmp_path / "demo.db"), load_samples=False)
    async with app.run_test(size=SIZE) as pilot:
        assert not app.open_screen("no_such_screen", "NoScreen", 1)
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        assert any("not available" in n.message for n in app._notifications)


def test_bare_command_rejects_a_folder_as_database(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("repair-tui: error: ") and str(tmp_path) in err and err.count("\n") == 1


def test_bare_command_runs_the_app_on_the_database(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []

    def fake_run(self: RepairApp) -> None:  # the real one needs a terminal
        seen.append(self.store_path)

    monkeypatch.setattr(RepairApp, "run", fake_run)
    monkeypatch.setenv("REPAIR_TUI_DB", str(tmp_path / "env.db"))
    assert main([]) == 0
    assert seen == [tmp_path / "env.db"] and (tmp_path / "env.db").exists()


async def test_default_samples_come_from_the_package(tmp_path: Path) -> None:
    from repair_tui.tui.app import SAMPLE_SUFFIX, bundled_samples

    shipped = sorted(e.name for e in bundled_samples().iterdir() if e.name.endswith(SAMPLE_SUFFIX))
    app = RepairApp(tmp_path / "fresh.db")
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(app.store.run_names()) == len(shipped)
        assert len(app.loaded_samples) == len(shipped)


async def test_first_launch_shows_progress_while_samples_import(tmp_path: Path) -> None:
    from repair_tui.tui.messages import SamplesLoading
    from textual.widgets import ProgressBar, Static

    folder = make_samples(tmp_path, "he-sim", "apps-sim")
    seen: list[object] = []
    app = RepairApp(tmp_path / "fresh.db", samples=folder)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = app.screen
        # From its first paint the screen says the samples are coming, not "No runs".
        first = [m.progress for m in seen if isinstance(m, SamplesLoading)]
        assert first and first[0] == (0, 0, "")
        await app.workers.wait_for_complete()
        await pilot.pause()
        steps = [m.progress for m in seen if isinstance(m, SamplesLoading)]
        names = list(dict.fromkeys(p[2] for p in steps if p is not None and p[2]))
        assert names == ["apps-sim", "he-sim"]
        assert (2, 2, "") in steps and steps[-1] is None
        assert screen.query_one("#runs-loading", ProgressBar).display is False
        assert "No runs" in str(screen.query_one("#runs-empty", Static).content)  # reset


async def test_progress_text_names_the_file_being_read(tmp_path: Path) -> None:
    from repair_tui.tui.messages import SamplesLoading
    from textual.widgets import ProgressBar, Static

    app = RepairApp(make_db(tmp_path / "d.db"), load_samples=False, poll_interval=60)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen.post_message(SamplesLoading((1, 3, "humaneval-sim-joint")))
        await pilot.pause()
        text = str(screen.query_one("#runs-empty", Static).content)
        assert "Importing the bundled sample runs" in text and "(2 of 3: humaneval-sim-joint)" in text
        bar = screen.query_one("#runs-loading", ProgressBar)
        assert bar.display and bar.total == 3 and bar.progress == 1
