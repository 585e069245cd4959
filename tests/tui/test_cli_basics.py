"""What every command shares: --version, one-line option errors, plain piped tables, and
the messages for a foreign database, a malformed file and a run with nothing to export."""

from __future__ import annotations

import re
import sqlite3
from importlib.metadata import version
from pathlib import Path

import pytest
from repair_tui.core.datasets.task import Task
from repair_tui.core.estimate.grid import grid
from repair_tui.core.estimate.synth import synthetic_tasks
from repair_tui.core.store.records import RunConfig
from repair_tui.core.store.store import Store
from repair_tui.tui.cli import main
from repair_tui.tui.cli.estimate_cmd import render
from repair_tui.tui.cli.runs_cmd import short_isolation
from repair_tui.tui.widgets.heatmap import heat_table
from rich.console import Console
from test_cli_runs import make_run


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"repair-tui {version('repair-tui')}"


@pytest.mark.parametrize(("argv", "reason"), [
    (["estimate", "x", "--np", "0"], "argument --np: 0 must be 1 or more"),
    (["exec", "--timeout", "-1", "p.py"], "argument --timeout: must be positive"),
    (["run", "--np", "zero"], "argument --np: 'zero' is not a whole number"),
    (["export", "x"], "the following arguments are required: --format"),
    (["tasks", "frob"], "invalid choice: 'frob'"),
    (["no-such-command"], "invalid choice: 'no-such-command'"),
    (["runs", "--colour"], "unrecognized arguments: --colour"),
])
def test_every_option_error_is_one_line(argv: list[str], reason: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("repair-tui: error: ") and reason in captured.err
    assert "usage:" not in captured.err


def test_piped_runs_table_has_no_trailing_blanks(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    make_run(db)
    assert main(["runs", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "demo" in out
    assert all(line == line.rstrip() for line in out.splitlines())
    assert out.splitlines()[0] == f"Runs in {db}"  # not padded to the table's width


def test_isolation_is_shortened_to_its_mechanisms() -> None:
    assert short_isolation("namespaces(pid,ipc,mount,net,uts)+uid+rlimits") == \
        "namespaces+uid+rlimits"
    assert short_isolation("rlimits+uid (no namespaces: not running as root)") == "rlimits+uid"
    assert short_isolation("fixed") == "fixed"


def test_heat_map_rows_come_in_the_same_order_in_cli_and_app() -> None:
    result = grid(synthetic_tasks(6, 5, 2, seed=3), [1, 2, 5], [1, 2], bootstrap=0)
    console = Console(width=120, record=True)
    for item in render(result, "r"):
        console.print(item)
    cli = console.export_text()
    heat = cli[cli.index("np \\ nfr"):]
    cli_rows = [int(m) for m in re.findall(r"^\s+(\d+)\s+\d\.\d\d", heat, re.M)][:3]
    app_rows = [int(line.split()[0]) for line in heat_table(result).plain.splitlines()[1:]]
    assert cli_rows == app_rows == [5, 2, 1]


def test_a_foreign_sqlite_file_is_named_as_not_ours(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    for name, tables in (("clash.db", ["runs", "notes"]), ("other.db", ["notes"])):
        path = tmp_path / name
        with sqlite3.connect(path) as conn:
            for table in tables:
                conn.execute(f"CREATE TABLE {table} (x)")
        before = path.read_bytes()
        assert main(["runs", "--db", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"{path} is not a repair-tui database" in err and "notes" in err
        assert "already exists" not in err
        with sqlite3.connect(path) as conn:  # nothing of ours was added
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert names == set(tables) and path.read_bytes() == before


def test_an_empty_sqlite_file_becomes_a_repair_tui_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    assert main(["runs", "--db", str(path)]) == 0


def test_a_json_error_does_not_repeat_a_word(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "unterminated\n')
    assert main(["import", str(bad), "--db", str(tmp_path / "r.db"), "--name", "x"]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:1: not valid JSON" in err
    assert "at at" not in err and re.search(r" at column \d+\)", err)


def empty_run(db: Path) -> None:
    with Store.open(db) as store:
        run = store.create_run("empty", RunConfig(dataset="humaneval", model="sim"),
                               isolation="rlimits", simulated=True, status="interrupted")
        store.add_tasks(run.id, [Task(id="HumanEval/0", source="humaneval", spec="s", tests={})])


def test_exporting_a_run_with_no_programs_says_so(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    db, out = tmp_path / "r.db", tmp_path / "paper.jsonl"
    empty_run(db)
    assert main(["export", "empty", "--db", str(db), "--format", "paper", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "run 'empty' has no executed programs" in err and "--format jsonl" in err
    assert not out.exists()
    full = tmp_path / "full.jsonl"
    assert main(["export", "empty", "--db", str(db), "--format", "jsonl", "-o", str(full)]) == 0
    err = capsys.readouterr().err
    assert "run 'empty' has no programs yet: only its 1 task(s) were written" in err
    assert full.read_text().count("\n") >= 2  # header and the task
