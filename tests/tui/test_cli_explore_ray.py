"""`repair-tui explore` with `--executor ray`: the actions that run programs execute them
on Ray (the session's local instance) and store what the local executor stores."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray")  # the ray extra is optional: without it, skip

from repair_tui.core.engine.run import run_repair  # noqa: E402
from repair_tui.core.store.records import RunConfig  # noqa: E402
from repair_tui.core.store.store import Store  # noqa: E402
from repair_tui.tui.cli import main  # noqa: E402

CONFIG = RunConfig(dataset="humaneval", model="sim", np=3, nfr=1, seed=5,
                   task_ids=("HumanEval/2", "HumanEval/6", "HumanEval/10"))


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_explore_actions_run_their_programs_on_ray(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ray_instance: Any
) -> None:
    db = tmp_path / "r.db"
    with Store.open(db) as store:
        asyncio.run(run_repair(store, "he", CONFIG))
        program = next(n for n in store.iter_nodes(1) if n.kind == "program" and n.passed is False)
    d, on_ray = str(db), ("--executor", "ray")
    again = cli(capsys, "explore", "reexec", "he", program.key, "--db", d, "--json", *on_ray)
    assert again["new"] == again["stored"] and again["flaky"] is False
    rerun = cli(capsys, "explore", "rerun", "he", program.key, "--db", d, "--json", *on_ray)
    local = cli(capsys, "explore", "rerun", "he", program.key, "--db", d, "--json")
    assert rerun["repairs"] and len(rerun["repairs"]) == len(local["repairs"])
    (line := tmp_path / "fb.jsonl").write_text(json.dumps({"program": program.key, "text": "Off by one."}) + "\n")
    imported = cli(capsys, "explore", "import", "he", str(line), "--repair", "2", "--db", d, "--json", *on_ray)
    assert imported["repairs"] == 2
    with Store.open(db) as store:
        explored = {n.key: n for n in store.iter_nodes(1) if n.kind == "program" and "|x" in n.key}
    node_id = ray_instance.get_runtime_context().get_node_id()
    # Each program an action ran on Ray names the node that ran it; the local ones none.
    local_keys = {r["key"] for r in local["repairs"]}
    on_node = {k for k, n in explored.items() if n.exec_extra.get("ray_node") == node_id}
    assert on_node == set(explored) - local_keys
    assert len(on_node) == len(rerun["repairs"]) + 2
    assert all(explored[k].passed is not None for k in on_node)
    with sqlite3.connect(db) as conn:  # the re-execution's own row names the node too
        (extra,) = conn.execute("SELECT extra_json FROM executions WHERE node_id = ?", (program.id,)).fetchone()
    assert json.loads(extra)["ray_node"] == node_id
