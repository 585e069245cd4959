"""`repair-tui runs`, `export` and `import` from the command line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from repair_tui.core.datasets.task import Task
from repair_tui.core.store.records import NewCall, NewNode, RunConfig
from repair_tui.core.store.store import Store
from repair_tui.sandbox.result import Verdict
from repair_tui.tui.cli import main

DATA = Path(__file__).parent.parent / "data" / "store"


def make_run(db: Path, name: str = "demo") -> None:
    with Store.open(db) as store:
        run = store.create_run(name, RunConfig(dataset="humaneval", model="sim", np=2, nfr=1),
                               isolation="rlimits (no namespaces: test)", simulated=True)
        store.add_tasks(run.id, [Task(id="HumanEval/0", source="humaneval", spec="s", tests={}),
                                 Task(id="HumanEval/1", source="humaneval", spec="s", tests={})])
        _, (p0,) = store.add_call(run.id, NewCall(task_id="HumanEval/0", key="g", role="generate",
                                                  model="sim"), [
            NewNode(task_id="HumanEval/0", key="HumanEval/0|p0", kind="program", code="x", tokens=1234)])
        store.record_verdict(p0.id, Verdict(True, [], "rlimits"))
        store.set_run_status(run.id, "finished")


def test_runs_on_an_empty_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--db", str(tmp_path / "e.db")]) == 0
    assert "No runs in" in capsys.readouterr().out
    assert main(["runs", "--db", str(tmp_path / "e.db"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_runs_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    make_run(db)
    assert main(["runs", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    for text in ("demo", "humaneval", "sim", "2/1 joint", "1/1 100%", "1,234", "rlimits", "finished"):
        assert text in out
    assert "no namespaces" not in out  # the reason is in --json, not in the table
    assert main(["--db", str(db), "runs", "--json"]) == 0  # --db before the command counts too
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["name"], row["tasks"], row["solved"], row["programs"], row["tokens"]) == (
        "demo", 2, 1, 1, 1234)
    assert row["isolation"] == "rlimits (no namespaces: test)"


def test_runs_uses_the_default_database(user_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_run(user_dirs / "repair-tui" / "repair.db", "in-default")
    assert main(["runs"]) == 0
    assert "in-default" in capsys.readouterr().out


def test_export_and_import_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "x.db"
    make_run(db)
    assert main(["export", "demo", "--db", str(db), "--format", "paper"]) == 0
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["task_id"] == "HumanEval/0" and line["completions"][0]["tokens_generated"] == 1234
    target = tmp_path / "demo.jsonl.gz"
    assert main(["export", "demo", "--db", str(db), "--format", "jsonl", "-o", str(target)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "demo.jsonl.gz" in captured.err
    assert b"repair-tui-run" in gzip.decompress(target.read_bytes())
    assert main(["import", str(target), "--db", str(db), "--name", "copy"]) == 0
    assert "as run 'copy'" in capsys.readouterr().out
    assert main(["import", str(DATA / "paper_apps.jsonl"), "--db", str(db), "--name", "apps",
                 "--model", "gpt-4"]) == 0
    assert "2 tasks, 3 programs, 3 repairs, 1 of 2 attempted tasks solved" in capsys.readouterr().out
    main(["runs", "--db", str(db), "--json"])
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["copy"]["tokens"] == rows["demo"]["tokens"] == 1234
    assert (rows["apps"]["status"], rows["apps"]["model"]) == ("imported", "gpt-4")


def test_errors_are_one_line_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "x.db"
    make_run(db)
    assert main(["export", "nope", "--db", str(db), "--format", "jsonl"]) == 2
    err = capsys.readouterr().err
    assert err == f"repair-tui: error: no run named 'nope' in {db}; known runs: demo\n"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "HumanEval/0", "completions": [{"executed_completion": "x", "binary": true}]}\n'
                   '{"task_id": "HumanEval/1", "completions": [{"executed_completion": "x"}]}\n')
    assert main(["import", str(bad), "--db", str(db), "--name", "bad"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"repair-tui: error: {bad}:2: ") and err.count("\n") == 1
    assert main(["import", str(DATA / "paper_apps.jsonl"), "--db", str(db), "--name", "demo"]) == 2
    assert "already exists" in capsys.readouterr().err
    main(["runs", "--db", str(db), "--json"])
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["demo"]
