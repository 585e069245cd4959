"""`repair-tui explore`: the app's actions from the command line, as explorations that
never change the run's numbers; concurrent actions across processes; bad states."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from repair_tui.core.engine.run import run_repair
from repair_tui.core.store.records import RunConfig
from repair_tui.core.store.store import Store
from repair_tui.tui.cli import main

CONFIG = RunConfig(dataset="humaneval", model="sim", np=3, nfr=1, seed=5,
                   task_ids=("HumanEval/2", "HumanEval/6", "HumanEval/10"))


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("explore") / "base.db"
    with Store.open(db) as store:
        asyncio.run(run_repair(store, "he", CONFIG))
    return db


@pytest.fixture
def db(base_db: Path, tmp_path: Path) -> Path:
    """A fresh copy of a finished sim run (copied, so each test starts alike)."""
    import sqlite3

    out = tmp_path / "r.db"
    src, dst = sqlite3.connect(base_db), sqlite3.connect(out)
    src.backup(dst)
    src.close()
    dst.close()
    return out


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def failing(db: Path) -> list[str]:
    with Store.open(db) as store:
        return [n.key for n in store.iter_nodes(1) if n.kind == "program" and n.passed is False]


def numbers(capsys: pytest.CaptureFixture[str], db: Path) -> Any:
    """The run's numbers as the commands print them: runs table and estimate."""
    runs = cli(capsys, "runs", "--db", str(db), "--json")
    estimate = cli(capsys, "estimate", "he", "--db", str(db), "--json")
    return runs, estimate


def test_every_action_prints_one_object_and_leaves_the_numbers(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = numbers(capsys, db)
    program = failing(db)[0]
    d = str(db)
    fb = cli(capsys, "explore", "feedback", "he", program, "--text", "Off by one.", "--db", d, "--json")
    assert fb["program"] == program and fb["feedback"] == f"{program}|x{fb['exploration']}h0"
    rep = cli(capsys, "explore", "repair", "he", fb["feedback"], "--n", "2", "--db", d, "--json")
    assert len(rep["repairs"]) == 2 and rep["exploration"] != fb["exploration"]
    assert all(r["passed"] is not None and r["model"] == "sim" for r in rep["repairs"])
    assert rep["passed"] == sum(r["passed"] for r in rep["repairs"])
    rerun = cli(capsys, "explore", "rerun", "he", program, "--db", d, "--json")
    assert rerun["feedback"] and all("|x" in k for k in rerun["feedback"])
    again = cli(capsys, "explore", "reexec", "he", program, "--db", d, "--json")
    assert again["stored"]["passed"] is False and again["new"]["passed"] is False
    assert again["flaky"] is False
    listed = cli(capsys, "explore", "list", "he", "--db", d, "--json")
    assert [x["kind"] for x in listed["explorations"]] == ["feedback", "repair", "rerun", "reexec"]
    assert listed["totals"]["repairs"] == 2 + len(rerun["repairs"])
    assert all(x["source"] == "cli" for x in listed["explorations"])
    compared = cli(capsys, "explore", "compare", "he", "--db", d, "--json")
    assert set(compared) >= {"human", "model", "difference", "by_repair_model"}
    # The person's feedback against the model's, on that one program, same repair model.
    assert compared["human"]["repairs"] == 2 and compared["human"]["programs"] == 1
    assert compared["model"]["repairs"] >= 1 and list(compared["by_repair_model"]) == ["sim"]
    lo, hi = compared["difference"]["ci"]
    assert lo <= compared["difference"]["estimate"] <= hi
    assert numbers(capsys, db) == before


def test_import_checks_every_line_before_storing(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = failing(db)[:2]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"program": a, "text": "x"}) + "\n" + json.dumps({"program": b}) + "\n")
    assert main(["explore", "import", "he", str(bad), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:2: field 'text'" in err
    missing = tmp_path / "missing.jsonl"
    missing.write_text(json.dumps({"program": "HumanEval/2|p99", "text": "x"}) + "\n")
    assert main(["explore", "import", "he", str(missing), "--db", str(db)]) == 2
    assert "has no program 'HumanEval/2|p99'" in capsys.readouterr().err
    with Store.open(db) as store:
        assert store.human_feedback(1) == []  # nothing stored from either file
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"program": k, "text": f"note on {k}"}) + "\n" for k in (a, b)))
    out = cli(capsys, "explore", "import", "he", str(good), "--repair", "1", "--db", str(db), "--json")
    assert len(out["feedback"]) == 2 and out["repairs"] == 2
    with Store.open(db) as store:
        (x,) = store.explorations(1)
        assert (x.kind, x.feedback, x.repairs) == ("import", 2, 2)


def _repair_cmd(db: Path, key: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "REPAIR_TUI_DB"}
    return subprocess.Popen(
        [sys.executable, "-m", "repair_tui.tui", "explore", "repair", "he", key, "--n", "1",
         "--db", str(db), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_two_processes_repairing_the_same_feedback_both_land(db: Path) -> None:
    with Store.open(db) as store:
        feedback = next(n for n in store.iter_nodes(1) if n.kind == "feedback")
    procs = [_repair_cmd(db, feedback.key) for _ in range(3)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    keys = [r["key"] for o in outs for r in o["repairs"]]
    assert len(keys) == 3 and len(set(keys)) == 3
    assert len({o["exploration"] for o in outs}) == 3
    with Store.open(db) as store:
        children = [n for n in store.children(feedback.id) if n.is_exploration]
        assert sorted(n.key for n in children) == sorted(keys)
        calls = {c.key for c in store.calls(1) if c.exploration_id is not None}
        assert len(calls) == 3


async def test_the_app_engine_and_a_cli_process_at_once_both_land(db: Path) -> None:
    from repair_tui.core.engine.steps import open_engine

    with Store.open(db) as store:
        feedback = next(n for n in store.iter_nodes(1) if n.kind == "feedback")
        engine = open_engine(store, 1)
        proc = _repair_cmd(db, feedback.key)
        mine = await engine.repair_from_feedback(feedback.id, n=1)
        out, err = await asyncio.to_thread(proc.communicate, timeout=240)
        await engine.aclose()
        assert proc.returncode == 0, err
        theirs = [r["key"] for r in json.loads(out)["repairs"]]
        assert len(mine) == 1 and len(theirs) == 1 and mine[0].key not in theirs
        keys = {n.key for n in store.children(feedback.id)}
        assert {mine[0].key, *theirs} <= keys


def test_read_commands_never_create_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = tmp_path / "no" / "such" / "r.db"
    for argv in (["explore", "list", "he"], ["explore", "compare", "he"], ["estimate", "he"],
                 ["export", "he", "--format", "jsonl"]):
        assert main([*argv, "--db", str(where)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no database at" in err
    assert main(["runs", "--db", str(where)]) == 0
    assert not (tmp_path / "no").exists()


@pytest.fixture
def read_only(db: Path, unwritable: Callable[[Path], None]) -> Path:
    """The database file made unwritable."""
    unwritable(db)
    return db


def test_a_read_only_database_gives_one_line_and_exit_2(
    read_only: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = failing(read_only)[0]
    d = str(read_only)
    export = read_only.parent / "he.jsonl"
    assert main(["export", "he", "--format", "jsonl", "-o", str(export), "--db", d]) == 0
    capsys.readouterr()
    for argv in (["explore", "feedback", "he", program, "--text", "x"],
                 ["explore", "reexec", "he", program],
                 ["run", "--resume", "he"],
                 ["run", "--dataset", "humaneval", "--model", "sim", "--limit", "1"],
                 ["import", str(export), "--name", "copy"],
                 ["runs", "rm", "he"],
                 ["runs", "mv", "he", "other"]):
        assert main([*argv, "--db", d]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert "read-only" in err or "readonly" in err, err


def test_resume_with_options_that_change_the_sample_is_an_error(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(db)
    assert main(["run", "--resume", "he", "--np", "5", "--seed", "9", "--db", d]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--np 5 (sampled with 3)" in err and "--seed 9 (sampled with 5)" in err
    # The stored values themselves (or runtime knobs) change nothing: allowed.
    assert main(["run", "--resume", "he", "--np", "3", "--concurrency", "2", "--json",
                 "--db", d]) == 0


def test_estimate_beyond_the_sample_names_the_maximum(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["estimate", "he", "--np", "2", "5", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "--np 5: run 'he' sampled at most 3 programs per task" in err
    assert main(["estimate", "he", "--nfr", "3", "--db", str(db)]) == 2
    assert "at most 1 repairs per failing program" in capsys.readouterr().err
    assert main(["estimate", "he", "--np", "3", "--nfr", "1", "--db", str(db), "--json"]) == 0


def test_runs_rm_and_mv(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(db)
    cli(capsys, "explore", "feedback", "he", failing(db)[0], "--text", "x", "--db", d, "--json")
    assert cli(capsys, "runs", "mv", "he", "renamed", "--db", d, "--json") == {
        "renamed": "he", "to": "renamed"}
    assert main(["runs", "mv", "renamed", "", "--db", d]) == 2
    assert "must be non-empty" in capsys.readouterr().err
    assert main(["runs", "mv", "nope", "x", "--db", d]) == 2
    assert "no run named 'nope'" in capsys.readouterr().err
    out = cli(capsys, "runs", "rm", "renamed", "--db", d, "--json")
    assert out["deleted"] == "renamed" and out["tasks"] == 3
    assert cli(capsys, "runs", "--db", d, "--json") == []
    with Store.open(db) as store:
        for table in ("nodes", "calls", "explorations", "executions", "tasks"):
            assert store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


def _sample(db: Path, name: str) -> dict[str, tuple[Any, ...]]:
    with Store.open(db) as store:
        run = store.get_run(name)
        return {n.key: (n.text, n.passed, n.tokens) for n in store.iter_nodes(run.id, scope="sample")}


async def test_the_app_acting_beside_a_running_run_changes_nothing_of_its_sample(
    tmp_path: Path,
) -> None:
    """A `repair-tui run` process writes while the app's engine repairs from the run's
    first feedback and reruns a branch: both land, and the run's sample is exactly
    what the same run makes alone."""
    from repair_tui.core.engine.steps import open_engine

    db, alone = tmp_path / "busy.db", tmp_path / "alone.db"
    argv = ["run", "--dataset", "humaneval", "--model", "sim", "--np", "3", "--nfr", "2",
            "--ids", "HumanEval/2", "HumanEval/6", "HumanEval/10", "HumanEval/12",
            "--seed", "4", "--name", "r", "--json"]
    env = {k: v for k, v in os.environ.items() if k != "REPAIR_TUI_DB"}
    proc = subprocess.Popen([sys.executable, "-m", "repair_tui.tui", *argv, "--sim-latency",
                             "0.3", "--concurrency", "2", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    feedback = None
    for _ in range(600):  # until the run has stored a feedback (or ended)
        if db.exists():
            with Store.open(db) as store:
                run = store.find_run("r")
                found = [] if run is None else [
                    n for n in store.iter_nodes(run.id) if n.kind == "feedback"]
            if found:
                feedback = found[0]
                break
        if proc.poll() is not None:
            break
        await asyncio.sleep(0.05)
    assert feedback is not None, proc.communicate()[1]
    with Store.open(db) as store:
        engine = open_engine(store, "r")
        mine = await engine.repair_from_feedback(feedback.id, n=2)
        program = store.get_node(feedback.parent_id)
        rerun = await engine.rerun_branch(program.id)
        await engine.aclose()
    _, err = await asyncio.to_thread(proc.communicate, timeout=300)
    assert proc.returncode == 0, err
    assert await asyncio.to_thread(main, [*argv, "--db", str(alone)]) == 0
    assert _sample(db, "r") == _sample(alone, "r")
    with Store.open(db) as store:
        run = store.get_run("r")
        assert run.status == "finished"
        explored = {n.key for n in store.iter_nodes(run.id, scope="explorations")}
        assert {n.key for n in mine + rerun} <= explored and len(mine) == 2
