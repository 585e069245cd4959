"""The executor interface without Ray: the local executor, the options on the command
line, the executor in the run's configuration and the runs table, and the one-line
answer when Ray is not installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from repair_tui.core.engine.executors import LocalExecutor, make_executor
from repair_tui.core.errors import UserError
from repair_tui.sandbox.runner import Sandbox
from repair_tui.sandbox.spec import TestSpecError
from repair_tui.tui.cli import main

STDIO = {"style": "stdio", "cases": [{"input": "2\n", "output": "4\n"}]}
RUN = ["run", "--dataset", "humaneval", "--model", "sim", "--np", "2", "--nfr", "1",
       "--ids", "HumanEval/6", "--json"]
# Runs the command line with `import ray` failing, as on a machine without the extra.
NO_RAY = ("import sys; sys.modules['ray'] = None; from repair_tui.tui.cli import main; "
          "raise SystemExit(main(sys.argv[1:]))")


async def test_the_local_executor_gives_the_sandboxs_verdicts() -> None:
    with Sandbox(workers=2) as box:
        executor = LocalExecutor(box)
        good = await executor.execute("print(int(input()) * 2)", STDIO)
        bad = await executor.execute("print(5)", STDIO)
        many = executor.run_many([("print(4)", STDIO), ("print(3)", STDIO)])
        assert executor.slots == 2 and executor.isolation_description == box.isolation_description
        with pytest.raises(TestSpecError):
            await executor.execute("print(1)", {"style": "nope"})
        executor.close()
        assert box.run("print(4)", STDIO).passed  # closing the wrapper left the sandbox open
    assert good.passed and not bad.passed and [v.passed for v in many] == [True, False]
    assert good.isolation == box.isolation_description


def test_make_executor_rejects_what_cannot_work() -> None:
    with pytest.raises(UserError, match="--executor must be one of local, ray"):
        make_executor("dask")
    with pytest.raises(UserError, match="--ray-address needs --executor ray"):
        make_executor("local", address="auto")


def test_the_executor_is_stored_and_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "r.db")
    assert main([*RUN, "--executor", "local", "--db", db]) == 0
    capsys.readouterr()
    assert main(["runs", "--db", db, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["executor"] == "local"
    assert main(["runs", "--db", db]) == 0
    table = capsys.readouterr().out
    assert "Executor" in table and " local " in table


def test_ray_address_without_the_ray_executor_is_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*RUN, "--ray-address", "auto", "--db", str(tmp_path / "r.db")]) == 2
    assert capsys.readouterr().err == "repair-tui: error: --ray-address needs --executor ray\n"


@pytest.mark.parametrize("command", [
    [*RUN, "--executor", "ray"],
    ["tasks", "check", "apps-sample", "--limit", "1", "--executor", "ray"],
], ids=["run", "tasks-check"])
def test_without_ray_the_ray_executor_says_how_to_install_it(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "r.db"
    result = subprocess.run([sys.executable, "-c", NO_RAY, *command, "--db", str(db)]
                            if command[0] == "run" else [sys.executable, "-c", NO_RAY, *command],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr == ("repair-tui: error: the ray executor needs Ray, which is not installed: "
                             "pip install 'repair-tui[ray]'\n")
    assert result.stdout == ""
    if db.exists():  # nothing was stored: the run did not start
        from repair_tui.core.store.store import Store

        with Store.open(db) as store:
            assert store.list_runs() == []
