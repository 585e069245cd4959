"""`repair-tui run`: bad options, resume by name, differing configurations, endpoint
errors, and the resume properties on a real process: SIGKILL at any moment then the
same command again gives the trees of an uninterrupted run; Ctrl-C stops cleanly."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from repair_tui.core.engine.run import run_repair
from repair_tui.core.sim.server import start_sim_server
from repair_tui.core.store.records import RunConfig
from repair_tui.core.store.store import Store
from repair_tui.tui.cli import main

# The command the process tests run, and the same configuration for the reference run.
ARGS = ["--dataset", "humaneval", "--model", "sim", "--np", "4", "--nfr", "2", "--limit", "6",
        "--seed", "7", "--mode", "separate", "--concurrency", "4", "--json"]
CONFIG = RunConfig(dataset="humaneval", model="sim", np=4, nfr=2, limit=6, seed=7,
                   mode="separate", concurrency=4)
NAME = "humaneval-sim-np4-nfr2-separate-limit6-seed7"  # the default name of ARGS
LATENCY = ["--sim-latency", "0.25"]  # about 3 s for its 33 calls: time to kill it
SMALL = ["--dataset", "humaneval", "--model", "sim", "--np", "2", "--nfr", "1", "--limit", "2",
         "--json"]

# Python ignores Ctrl-C in a process started with SIGINT ignored (a background job), so
# the child restores the default handler before running `python -m repair_tui.tui`.
CHILD = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "sys.argv[0] = 'repair-tui'; runpy.run_module('repair_tui.tui', run_name='__main__')")


def command(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", CHILD, "--db", str(db), "run", *args]


def tree(db: Path, name: str) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
    """(nodes by key, calls by key) of a run, without ids or times; no key twice."""
    with Store.open(db) as store:
        run = store.get_run(name)
        nodes = list(store.iter_nodes(run.id))
        keys = {n.id: n.key for n in nodes}
        out = {n.key: (n.kind, n.origin, keys.get(n.parent_id or 0), n.depth, n.model, n.text,
                       n.code, n.tokens, n.passed, n.fault) for n in nodes}
        calls = {c.key: (c.role, c.model, c.status, c.params, c.completion_tokens)
                 for c in store.calls(run.id)}
        assert len(out) == len(nodes) and len(calls) == len(store.calls(run.id))
    return out, calls


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trees of an uninterrupted in-process run of CONFIG."""
    db = tmp_path_factory.mktemp("ref") / "ref.db"
    with Store.open(db) as store:
        asyncio.run(run_repair(store, "ref", CONFIG))
    return tree(db, "ref")


def calls_stored(db: Path) -> int:
    """Calls in the database so far (0 before the run's process has made it)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM calls WHERE status = 'ok'").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not migrated yet


def wait_for_calls(db: Path, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while calls_stored(db) < count:
        assert proc.poll() is None, f"the run ended before {count} calls: {proc.communicate()}"
        assert time.monotonic() < deadline
        time.sleep(0.01)


def ok_calls(db: Path) -> dict[str, tuple[Any, ...]]:
    """Stored answered calls as rows (id, time, response): a repeated call would change them."""
    if not db.exists():
        return {}
    with Store.open(db) as store:
        run = store.find_run(NAME)
        if run is None:
            return {}
        return {c.key: (c.id, c.created_utc, c.response) for c in store.calls(run.id)
                if c.status == "ok"}


def finish(db: Path, *args: str) -> dict[str, Any]:
    """Run the command to the end; its --json summary."""
    import json

    done = subprocess.run(command(db, *args), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def kill_then_resume(db: Path, kills: list[float | int]) -> None:
    """Start the command and SIGKILL it, once per entry: an int waits for that many
    stored calls, a float for that many seconds. Then run it to the end."""
    for when in kills:
        proc = subprocess.Popen(command(db, *ARGS, *LATENCY), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        if isinstance(when, int):
            wait_for_calls(db, when, proc)
        else:
            time.sleep(when)
        proc.kill()
        proc.communicate()
        before = ok_calls(db)
        assert proc.returncode == -signal.SIGKILL or before  # killed, or already done
    before = ok_calls(db)
    summary = finish(db, *ARGS, *LATENCY)
    assert summary["status"] == "finished" and summary["run"] == NAME
    after = ok_calls(db)
    assert {k: after[k] for k in before} == before  # nothing stored was made again


# --- the process tests ----------------------------------------------------------------


def test_sigkill_then_the_same_command_gives_the_uninterrupted_trees(
    tmp_path: Path, reference: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    db = tmp_path / "k.db"
    kill_then_resume(db, [12])
    assert tree(db, NAME) == reference
    with Store.open(db) as store:
        assert store.get_run(NAME).status == "finished"


@pytest.mark.slow
@pytest.mark.parametrize("kills", [[0.2], [0.9], [1.6], [2.4], [3.2], [5, 20], [0.5, 1.2, 2.0]])
def test_sigkill_at_any_moment_resumes_to_the_same_trees(
    kills: list[float | int], tmp_path: Path, reference: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    db = tmp_path / "k.db"
    kill_then_resume(db, kills)
    assert tree(db, NAME) == reference


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(delay=st.floats(0.0, 3.5))
def test_sigkill_at_a_random_moment_resumes_to_the_same_trees(
    delay: float, tmp_path_factory: pytest.TempPathFactory,
    reference: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    db = tmp_path_factory.mktemp("random") / "k.db"
    kill_then_resume(db, [delay])
    assert tree(db, NAME) == reference


def test_a_resumed_run_makes_only_the_calls_not_stored(
    tmp_path: Path, reference: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """Against serve-sim, counting requests: the resume asks for exactly the calls the
    killed process had not stored."""
    db = tmp_path / "s.db"
    with start_sim_server(latency=0.25) as server:
        args = [*ARGS, "--base-url", server.base_url]
        proc = subprocess.Popen(command(db, *args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        wait_for_calls(db, 15, proc)
        proc.kill()
        proc.communicate()
        stored = len(ok_calls(db))
        time.sleep(0.3)  # requests in flight at the kill reach the server's counter
        asked = server.requests
        assert asked >= stored >= 15
        finish(db, *args)
        total = len(ok_calls(db))
        assert server.requests - asked == total - stored
    nodes, calls = tree(db, NAME)
    assert nodes == reference[0]
    assert {k: v[:3] for k, v in calls.items()} == {k: v[:3] for k, v in reference[1].items()}


def test_ctrl_c_stops_cleanly_and_resume_by_name_finishes(
    tmp_path: Path, reference: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    db = tmp_path / "c.db"
    proc = subprocess.Popen(command(db, *ARGS, *LATENCY), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_calls(db, 8, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"Resume with: repair-tui run --resume {NAME} --db {db}" in err
    assert "Traceback" not in err
    with Store.open(db) as store:
        run = store.get_run(NAME)
        assert run.status == "interrupted" and "resume" in (run.message or "")
        assert store.run_totals(run.id).calls >= 8
    summary = finish(db, "--resume", NAME, "--json")
    assert summary["status"] == "finished"
    assert tree(db, NAME) == reference


# --- in-process command tests -------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> tuple[int, str, str]:
    try:
        code = main(["run", "--db", str(db), *args])
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("repair-tui: error: ")
    return lines[0]


def no_runs(db: Path) -> bool:
    if not db.exists():
        return True
    with Store.open(db) as store:
        return store.run_names() == []


@pytest.mark.parametrize(("args", "reason"), [
    (["--dataset", "nope", "--model", "sim"], "unknown dataset 'nope'"),
    (["--dataset", "humaneval", "--model", "sim", "--np", "0"], "--np: 0 must be 1 or more"),
    (["--dataset", "humaneval", "--model", "sim", "--mode", "both"], "invalid choice: 'both'"),
    (["--dataset", "humaneval"], "--model is required"),
    (["--model", "sim"], "--dataset is required"),
    (["--dataset", "humaneval", "--model", "sim", "--temperature", "3"], "--temperature must be"),
    (["--resume", "ghost"], "no run named 'ghost'"),
    (["--resume", "ghost", "--dataset", "humaneval"], "--resume NAME takes the stored"),
    (["--dataset", "humaneval", "--model", "sim", "--ids", "HumanEval/999"], "HumanEval/999"),
])
def test_bad_options_are_one_line_errors_and_store_nothing(
    args: list[str], reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bad.db"
    code, out, err = run_cli(capsys, db, *args)
    assert code == 2 and out == ""
    assert reason in one_line_error(err)
    assert no_runs(db)


def test_same_name_other_configuration_names_the_differing_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "n.db"
    assert run_cli(capsys, db, *SMALL, "--name", "mine")[0] == 0
    code, _, err = run_cli(capsys, db, *SMALL, "--name", "mine", "--np", "3", "--seed", "2")
    line = one_line_error(err)
    assert code == 2 and "run 'mine' already exists" in line and "differs in: np, seed" in line
    # Runtime knobs may change: the same run resumes, and makes no call again.
    code, out, _ = run_cli(capsys, db, *SMALL, "--name", "mine", "--concurrency", "2")
    assert code == 0 and '"status": "finished"' in out
    with Store.open(db) as store:
        assert store.run_names() == ["mine"]
        calls = store.calls(store.get_run("mine").id)
        assert len(calls) == len({c.key for c in calls})


def test_resume_by_name_of_a_finished_run_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.db"
    assert run_cli(capsys, db, *SMALL)[0] == 0
    name = "humaneval-sim-np2-nfr1-joint-limit2"
    before = tree(db, name)
    code, out, _ = run_cli(capsys, db, "--resume", name, "--json")
    assert code == 0 and f'"run": "{name}"' in out
    assert tree(db, name) == before


def test_the_progress_bar_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, tmp_path / "p.db", *SMALL[:-1], "--name", "shown")
    assert code == 0
    assert "run shown" in err and "tasks" in err and "calls" in err
    assert "shown: finished" in out and "solved" in out and "repair-tui estimate shown" in out


def test_a_run_name_is_text_not_markup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "[/oops]" made rich raise as the run started (a traceback, no run).
    name = "[/oops] [link=https://evil.example]x[/link]"
    code, out, err = run_cli(capsys, tmp_path / "m.db", *SMALL[:-1], "--name", name)
    assert code == 0, err
    assert f"run {name}" in err and f"{name}: finished" in out and f"estimate '{name}'" in out


def test_a_wrong_key_fails_the_run_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "k.db"
    with start_sim_server(api_key="right-key") as server:
        code, _, err = run_cli(capsys, db, *SMALL, "--base-url", server.base_url,
                               "--api-key", "wrong-key")
    assert code == 2
    line = one_line_error(err)
    assert "rejected the API key (401)" in line and "wrong-key" not in line
    with Store.open(db) as store:
        (run,) = [store.get_run(n) for n in store.run_names()]
        assert run.status == "failed" and "401" in (run.message or "")
        assert "wrong-key" not in run.config.to_json()  # keys are never stored


def test_an_unreachable_server_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = tmp_path / "u.db"
    code, _, err = run_cli(capsys, db, *SMALL, "--base-url", f"http://127.0.0.1:{port}/v1")
    assert code == 2
    line = one_line_error(err)
    assert f"cannot reach the model server at http://127.0.0.1:{port}/v1" in line
    assert "connection refused" in line
    with Store.open(db) as store:
        (name,) = store.run_names()
        assert store.get_run(name).status == "failed"


def test_the_default_name_changes_with_every_setting_that_changes_the_samples() -> None:
    from repair_tui.tui.cli.run_cmd import default_name

    names = {default_name(c) for c in (
        CONFIG, replace(CONFIG, seed=8), replace(CONFIG, depth=2), replace(CONFIG, temperature=0.2),
        replace(CONFIG, difficulty="interview"), replace(CONFIG, np=5),
    )}
    assert len(names) == 6
