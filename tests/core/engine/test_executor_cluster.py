"""The ray executor on a two-node test cluster on this machine: a node that joins
during a run is used, one killed mid-run loses nothing, and the finished run stores
what a local run of the same configuration stores. Slow: it starts its own cluster."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("ray")  # the ray extra is optional: without it, skip

from executor_support import comparable_export  # noqa: E402
from repair_tui.core.engine.executors import LocalExecutor  # noqa: E402
from repair_tui.core.engine.run import run_repair  # noqa: E402
from repair_tui.core.store.records import RunConfig  # noqa: E402
from repair_tui.core.store.store import Store  # noqa: E402
from repair_tui.sandbox.runner import Sandbox  # noqa: E402

# Simulated calls take 0.5 s, two at a time: long enough for a node to join and leave.
CONFIG = RunConfig(dataset="humaneval", model="sim", np=5, nfr=2, limit=40, seed=5,
                   concurrency=2, sim_latency=0.5)
ARGS = ["--dataset", "humaneval", "--model", "sim", "--np", "5", "--nfr", "2", "--limit", "40",
        "--seed", "5", "--concurrency", "2", "--sim-latency", "0.5", "--name", "cluster"]


def _wait_for(what: str, check: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 240
    while not check():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def _count(db: Path, where: str, *params: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(f"SELECT count(*) FROM nodes WHERE {where}", params).fetchone()[0])
    except sqlite3.OperationalError:  # the run has not made its tables yet
        return 0


@pytest.mark.slow
def test_a_node_joins_and_one_dies_mid_run_and_nothing_changes(tmp_path: Path) -> None:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    db = tmp_path / "r.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "repair_tui.tui", "run", *ARGS, "--executor", "ray",
         "--ray-address", cluster.address, "--db", str(db), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for("programs ran on the head node", lambda: _count(db, "passed IS NOT NULL") > 0, proc)
        worker = cluster.add_node(num_cpus=1)
        on_worker = "exec_extra_json LIKE ?", f"%{worker.node_id}%"
        _wait_for("programs ran on the node that joined", lambda: _count(db, *on_worker) > 0, proc)
        cluster.remove_node(worker)
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert '"status": "finished"' in out
    finally:
        if proc.poll() is None:
            proc.kill()
        cluster.shutdown()
    with Store.open(db) as store:
        with Sandbox(workers=4) as box:
            asyncio.run(run_repair(store, "local", CONFIG, executor=LocalExecutor(box)))
        assert comparable_export(store, "local") == comparable_export(store, "cluster")
        ran = {n.exec_extra.get("ray_node") for n in store.iter_nodes(store.get_run("cluster").id)
               if n.kind == "program"}
        assert worker.node_id in ran and len(ran) == 2  # both nodes ran programs
        assert store.get_run("cluster").config.executor == "ray"
